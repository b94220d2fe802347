//! Authentication: where the credential is found, what a missing or bad one is answered, and
//! which authenticator decides.

use serde_json::json;
use serde_json::Value;
use signgate_testkit::app::spawn_app;
use signgate_testkit::http::{assert_nothing_signed, location};
use signgate_testkit::tokens::{hs256, now, token};

use crate::sessions::django::{django_app, manifest};
use crate::sessions::get_with_cookie;
use signgate_testkit::app::repo;
use signgate_testkit::fs::tempdir;

#[tokio::test]
async fn no_credential_is_401_with_a_bearer_challenge() {
    let app = spawn_app(&[]).await;
    let r = app.get("/files/public/a.txt", None).await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (status, body) = assert_nothing_signed(r).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "unauthenticated"
    );
}

#[tokio::test]
async fn an_invalid_credential_is_401_even_for_public_objects() {
    let rules = json!([
        {"pattern": "open/**", "access": "public", "distribution": "demo"},
        {"pattern": "public/**", "access": "authenticated", "distribution": "demo"}
    ]);
    let app = spawn_app(&[("rules", rules)]).await;
    assert_eq!(
        app.get("/files/open/a", None).await.status(),
        302,
        "public needs no login"
    );
    let forged = hs256(
        &json!({"sub": "alice", "iss": "signgate-dev", "aud": "signgate", "exp": now() + 60}),
        b"another-secret-of-at-least-32-bytes!!",
    );
    let r = app.get("/files/open/a", Some(&forged)).await;
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let (status, body) = assert_nothing_signed(r).await;
    assert_eq!(status, 401);
    assert!(!body.contains(&forged), "the token never appears in a body");
}

#[tokio::test]
async fn token_from_the_cookie() {
    let app = spawn_app(&[]).await;
    let cookie = format!("other=1; signgate_token={}", token("alice", json!({})));
    let r = app
        .client
        .get(app.url("/files/public/a"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
}

#[tokio::test]
async fn browsers_go_to_the_login_page_and_come_back_here() {
    let app = spawn_app(&[
        ("server.login_url", json!("https://app.example.com/login")),
        ("server.public_url", json!("https://files.example.com")),
    ])
    .await;
    let r = app
        .client
        .get(app.url("/files/public/a%20b.txt?download=x.txt"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "https://app.example.com/login?next=https%3A%2F%2Ffiles.example.com%2Ffiles%2Fpublic%2Fa%2520b.txt%3Fdownload%3Dx.txt"
    );
    // Non-browsers still get a 401.
    assert_eq!(app.get("/files/public/a", None).await.status(), 401);
}

#[tokio::test]
async fn the_first_authenticator_that_finds_its_credential_decides() {
    let dir = tempdir();
    let db = dir.join("sessions.sqlite3");
    std::fs::copy(repo().join("tests/fixtures/django/sessions.sqlite3"), &db).unwrap();
    let app =
        django_app(json!({"backend": "db", "database_url": format!("sqlite://{}", db.display())}))
            .await;
    let key = manifest()["cases"][0]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = format!("sessionid={key}");
    // Session only: Django decides.
    assert_eq!(
        get_with_cookie(&app, "/files/users/42/a", &cookie)
            .await
            .status(),
        200
    );
    // An invalid bearer token comes first in the order: 401, no fall-through to the session.
    let r = app
        .client
        .get(app.url("/files/users/42/a"))
        .header("cookie", &cookie)
        .bearer_auth("bad.token.value")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 401);
}
