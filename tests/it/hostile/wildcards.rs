//! Wildcards that would widen a custom policy, in every shape: in cookie folders and in the keys
//! of a batch.

use serde_json::json;

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("wildcards", 11, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let mut cases = Vec::new();
    // Wildcards that would widen a custom policy, in every shape.
    for key in [
        "hls/alice/*",
        "hls/alice/%2a",
        "hls/*",
        "hls/%2A/x",
        "hls/alice%3Fx",
        "hls/a*ice",
    ] {
        cases.push(case(
            format!("cookie wildcard {key:?}"),
            format!("/cookies/{key}"),
            &[("Authorization", b)],
            &[400, 403],
        ));
    }
    for keys in [
        json!(["public/*"]),
        json!(["public/a?b"]),
        json!(["users/*/x"]),
        json!(["hls/alice/*", "users/bob/x"]),
        json!(["../x", "a\\b", "a\u{0}"]),
    ] {
        let mut c = case(
            format!("batch hostile keys {keys}"),
            "/sign",
            &[("Authorization", b), ("Content-Type", b"application/json")],
            &[200],
        );
        c.method = "POST";
        c.body = json!({"keys": keys}).to_string().into_bytes();
        c.headers.push((
            b"Content-Length".to_vec(),
            c.body.len().to_string().into_bytes(),
        ));
        cases.push(c);
    }
    Corpus {
        cases,
        ..Corpus::default()
    }
}
