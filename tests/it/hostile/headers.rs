//! Credential headers that must not authenticate anyone: values that are not UTF-8, two
//! `Authorization` headers, other schemes, an empty or doubled `Bearer`, a forged token cookie
//! beside a bearer, and duplicate token cookies.

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("headers", 9, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let alice = &h.alice;
    let mut cases = Vec::new();
    cases.push(case(
        "non UTF-8 authorization",
        "/files/public/a",
        &[("Authorization", b"Bearer \xff\xfe")],
        &[401],
    ));
    cases.push(case(
        "non UTF-8 cookie",
        "/files/public/a",
        &[("Cookie", b"signgate_token=\xff\xfe")],
        &[401],
    ));
    cases.push(case(
        "non UTF-8 accept",
        "/files/users/bob/a",
        &[("Authorization", b), ("Accept", b"\xff")],
        &[403],
    ));
    cases.push(case(
        "two authorization headers",
        "/files/public/a",
        &[("Authorization", b), ("Authorization", b)],
        &[401],
    ));
    cases.push(case(
        "bearer and a forged cookie",
        "/files/users/bob/a",
        &[("Authorization", b), ("Cookie", b"signgate_token=x.y.z")],
        &[403],
    ));
    cases.push(case(
        "duplicate token cookies",
        "/files/public/a",
        &[(
            "Cookie",
            format!("signgate_token={alice}; signgate_token={alice}").as_bytes(),
        )],
        &[401],
    ));
    cases.push(case(
        "basic scheme",
        "/files/public/a",
        &[("Authorization", b"Basic YWxpY2U6cHc=")],
        &[401],
    ));
    cases.push(case(
        "empty bearer",
        "/files/public/a",
        &[("Authorization", b"Bearer ")],
        &[401],
    ));
    cases.push(case(
        "bearer twice",
        "/files/public/a",
        &[("Authorization", format!("Bearer Bearer {alice}").as_bytes())],
        &[401],
    ));
    Corpus {
        cases,
        ..Corpus::default()
    }
}
