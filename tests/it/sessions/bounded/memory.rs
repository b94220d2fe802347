//! The real binary as a process, its sessions 16 MiB long in Redis and in PostgreSQL: many
//! requests for them at once are all refused, and its peak resident memory (`VmHWM`) stays flat.

use serde_json::Value;
use signgate_testkit::backends::{postgres_url, redis_url};
use signgate_testkit::django::{session_of_len, DB_SALT};
use signgate_testkit::fs::{config_copy, unique};
use signgate_testkit::http::client;
use signgate_testkit::process::Signgate;
use signgate_testkit::tokens::now;

use super::{create_django_table, drop_schema, insert_row, json_session_of_len, redis_conn};
use crate::sessions::django::manifest;
use crate::SIGNGATE;

/// A session this long, this many requests for it at once, this many times.
const HUGE: usize = 16 << 20;
const CONCURRENT: usize = 64;
const ROUNDS: usize = 4;
/// The binary's pools (the most values it could be reading at once if it read them).
const POOL: usize = 16;

/// The binary with `section` appended to the default configuration and `method` tried after
/// JWTs, with the default `max_session_bytes` and no rate limits.
async fn start_binary(name: &str, method: &str, section: &str) -> Signgate {
    let dir = config_copy(name);
    let path = dir.join("signgate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("order = [\"jwt\"]"));
    let text = text.replacen(
        "order = [\"jwt\"]",
        &format!("order = [\"jwt\", \"{method}\"]"),
        1,
    );
    std::fs::write(&path, format!("{text}\n{section}\n")).unwrap();
    let unlimited = [
        ("SIGNGATE_LIMITS__PER_SUBJECT_PER_SECOND", "0".to_owned()),
        ("SIGNGATE_LIMITS__PER_IP_PER_SECOND", "0".to_owned()),
    ];
    Signgate::start(SIGNGATE, &dir, &unlimited).await
}

/// `n` requests with `cookie` at once; their statuses and `error` codes.
async fn burst(port: u16, cookie: &str, n: usize) -> Vec<(u16, String)> {
    let client = client();
    let requests = (0..n).map(|_| {
        let request = client
            .get(format!("http://127.0.0.1:{port}/files/users/42/a.txt"))
            .header("cookie", cookie)
            .header("accept", "application/json")
            .send();
        tokio::spawn(async move {
            let r = request.await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
            )
        })
    });
    let mut answers = Vec::new();
    for task in requests.collect::<Vec<_>>() {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Warms the binary up with a session it reads (every pooled connection opened, every worker
/// busy), then sends `ROUNDS` bursts for the huge one: every answer must be a 401
/// `session_too_large`, and the peak resident memory must grow by less than one huge value.
async fn assert_flat_memory(p: &Signgate, small: &str, huge: &str, store: &str) {
    for (status, error) in burst(p.port, small, CONCURRENT).await {
        assert_eq!(status, 200, "{store} warm-up: {error}");
    }
    let before = p.child.memory();
    let mut answers = Vec::new();
    for _ in 0..ROUNDS {
        answers.extend(burst(p.port, huge, CONCURRENT).await);
    }
    let after = p.child.memory();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "{store}: {} requests for a {} MiB session, {CONCURRENT} at a time: peak RSS {:.1} MiB \
         before, {:.1} MiB after (+{:.1} MiB); reading the values would take at least {} MiB",
        ROUNDS * CONCURRENT,
        HUGE >> 20,
        mib(before.peak),
        mib(after.peak),
        mib(after.peak - before.peak),
        (POOL * HUGE) >> 20,
    );
    assert!(
        after.peak - before.peak < HUGE as u64,
        "{store}: the peak grew by {:.1} MiB, more than one session's worth",
        mib(after.peak - before.peak)
    );
    assert_eq!(answers.len(), ROUNDS * CONCURRENT);
    for (status, error) in answers {
        assert_eq!(
            (status, error.as_str()),
            (401, "session_too_large"),
            "{store}"
        );
    }
}

#[tokio::test]
async fn many_requests_for_a_16_mib_redis_session_at_once_leave_memory_flat() {
    let prefix = format!("{}:", unique("sgbound"));
    let mut conn = redis_conn().await;
    let sessions = [
        ("small", json_session_of_len("42", 100)),
        ("huge", json_session_of_len("42", HUGE)),
    ];
    for (id, value) in &sessions {
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}{id}"))
            .arg(value)
            .arg("EX")
            .arg(120)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let section = format!(
        "[auth.redis_session]\nurl = \"{}\"\ncookie = \"sid\"\nkey_prefix = \"{prefix}\"\n\
         subject_field = \"user_id\"\npool_size = {POOL}\n",
        redis_url()
    );
    let p = start_binary("bounded-redis", "redis_session", &section).await;
    assert_flat_memory(&p, "sid=small", "sid=huge", "Redis").await;
    let _: () = redis::cmd("DEL")
        .arg(&[format!("{prefix}small"), format!("{prefix}huge")])
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn many_requests_for_a_16_mib_postgres_session_at_once_leave_memory_flat() {
    let url = postgres_url();
    let schema = unique("sg_bound");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    create_django_table(&pool, &schema).await;
    let secret = manifest()["secret_key"].as_str().unwrap().to_owned();
    let (small, huge) = (
        "boundsmall000000000000000000000a",
        "boundhuge0000000000000000000000b",
    );
    let value = |len| session_of_len("42", len, DB_SALT, secret.as_bytes(), now());
    insert_row(&pool, &schema, small, &value(1025)).await;
    insert_row(&pool, &schema, huge, &value(HUGE + 1)).await;
    let section = format!(
        "[auth.django_session]\nbackend = \"db\"\nsecret_key = \"{}\"\ndatabase_url = \"{url}\"\n\
         table = \"{schema}.django_session\"\npool_size = {POOL}\n",
        secret.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let p = start_binary("bounded-postgres", "django_session", &section).await;
    assert_flat_memory(
        &p,
        &format!("sessionid={small}"),
        &format!("sessionid={huge}"),
        "PostgreSQL",
    )
    .await;
    drop(p);
    drop_schema(&pool, &schema).await;
}
