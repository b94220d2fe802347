//! Open redirects: the login `next` and the cookie `next` never leave home, whatever `Host`,
//! `X-Forwarded-Host` or the path say; an authorized caller's `next` only ever leads into the
//! folder the cookies cover.

use super::{case, run, Corpus, Expect, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("redirects", 33, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let mut cases = Vec::new();
    // Open redirects: the login `next` and the cookie `next` never leave home.
    for (i, host) in [
        "evil.example",
        "app.example.com.evil.example",
        "127.0.0.1:8080@evil.example",
    ]
    .iter()
    .enumerate()
    {
        let mut c = case(
            format!("login next with Host {host}"),
            "/files/public/a",
            &[
                ("Accept", b"text/html"),
                ("X-Forwarded-Host", host.as_bytes()),
            ],
            &[302],
        );
        c.headers
            .push((b"X-Test".to_vec(), i.to_string().into_bytes()));
        cases.push(c);
    }
    for next in [
        "//evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "https:evil.example",
        "evil.com?.good.com",
        "good.com.evil.com",
        "https://evil.example/",
        "%2f%2fevil.example",
        "..%2f..%2fevil",
        "\\\\evil.example",
        "%5c%5cevil.example",
        "javascript:alert(1)",
    ] {
        cases.push(case(
            format!("cookie next {next:?}"),
            format!("/cookies/hls/alice?next={next}"),
            &[],
            &[400, 401],
        ));
        cases.push(case(
            format!("login next via path {next:?}"),
            format!("/files/{next}"),
            &[("Accept", b"text/html")],
            &[302, 400, 404],
        ));
    }
    // An authorized caller's `next` can only ever lead into the folder the cookies cover.
    for next in [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "good.com.evil.com",
        "%2f%2fevil.example",
        "javascript:alert(1)",
    ] {
        let mut c = case(
            format!("authorized next {next:?}"),
            format!("/cookies/hls/alice?next={next}"),
            &[("Authorization", b)],
            &[],
        );
        c.expect = Expect::IntoAlicesFolder;
        cases.push(c);
    }
    Corpus {
        cases,
        ..Corpus::default()
    }
}
