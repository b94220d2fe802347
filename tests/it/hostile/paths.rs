//! Hostile paths — traversal, encodings, controls, wildcards, lengths — through every entry
//! point: the `/files` path, the `X-Original-URI` of `/auth`, and the `/cookies` folder.

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("paths", 285, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let mut cases = Vec::new();
    // Paths, through every entry point.
    for (path, expect) in hostile_paths() {
        cases.push(case(
            format!("files path {path:?}"),
            format!("/files/{path}"),
            &[("Authorization", b)],
            expect,
        ));
        let auth_expect: &'static [u16] = if expect == [400] { &[403] } else { expect };
        cases.push(case(
            format!("auth original uri {path:?}"),
            "/auth",
            &[
                ("Authorization", b),
                ("X-Original-URI", format!("/files/{path}").as_bytes()),
            ],
            auth_expect,
        ));
        // A trailing "/" names the same folder, so some bad keys are merely not granted here.
        let cookie_expect: &'static [u16] = if expect == [400] { &[400, 403] } else { &[403] };
        cases.push(case(
            format!("cookies folder {path:?}"),
            format!("/cookies/{path}"),
            &[("Authorization", b)],
            cookie_expect,
        ));
    }
    Corpus {
        cases,
        ..Corpus::default()
    }
}

/// Path suffixes that must never be signed: traversal, encodings, controls, wildcards, lengths.
fn hostile_paths() -> Vec<(String, &'static [u16])> {
    const BAD: &[u16] = &[400];
    let mut p: Vec<(String, &'static [u16])> = [
        "..",
        "../x",
        "public/..",
        "public/../users/bob/x",
        "%2e%2e/x",
        "public/%2e%2e/users/bob/x",
        "public/%2E%2E/users/bob/x",
        "public/.%2e/x",
        "public/%2e./x",
        "public/%252e%252e/x",
        "public/%25252e/x",
        "public%2fusers%2fbob%2fx",
        "public%2Fx",
        "public/a%2fb",
        "public%5cx",
        "public/a%5Cb",
        "public\\x",
        "public\\..\\users\\bob\\x",
        "public/%c0%ae%c0%ae/x",
        "public/%c0%af",
        "public/%e0%80%ae",
        "public/%c1%9c",
        "public/%ff",
        "public/%fe%ff",
        "public/%80",
        "public/%ed%a0%80",
        "public/a;x",
        "public/a;jsessionid=1",
        "public;/x",
        "public/a%3bb",
        "public/a%23frag",
        "public/%23",
        "public//a",
        "public///a",
        "/public/a",
        "public/a/",
        "public/./a",
        "./public/a",
        "public/a%00",
        "public/a%00.pdf",
        "public/%00",
        "public/a%0d%0aX-Injected:%201",
        "public/a%0a",
        "public/a%0d",
        "public/a%09b",
        "public/a%7f",
        "public/a%c2%85",
        "public/a%e2%80%a8",
        "public/a%ef%bb%bf",
        "public/*",
        "public/a*",
        "public/%2a",
        "public/%2A",
        "public/a%3fb",
        "public/a%3F",
        "users/*/x",
        "users/%2a/x",
        "users/alice%2f..%2fbob/x",
        "users/alice/../bob/x",
        "%",
        "public/%",
        "public/%4",
        "public/%zz",
        "public/%%",
        "public/%u002e",
        "public/%2",
        "public/a%2",
        "public/%c3",
        "public/%e2%82",
        // Look-alikes that an origin folding compatibility forms reads as `.`, `/`, `\`, or a
        // reserved character: fullwidth, small and vertical forms, dot leaders, ellipsis, the
        // division, fraction and "account of" slashes, the Greek question mark (`;`).
        "public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fusers/bob/x",
        "public/%EF%BC%8E%EF%BC%8E/users/bob/x",
        "users/alice/%EF%BC%8E%EF%BC%8E/bob/x",
        "users/alice/%E2%80%A5/bob/x",
        "users/alice/%E2%80%A4%E2%80%A4/bob/x",
        "users/alice/%EF%B9%92%EF%B9%92/bob/x",
        "users/alice/%EF%B8%B0/bob/x",
        "users/alice/%E2%80%A6/x",
        "users/alice/..%EF%BC%8Fbob",
        "users/alice/..%EF%BC%BCbob",
        "users/alice/..%EF%B9%A8bob",
        "users/alice/..%E2%88%95bob",
        "users/alice/..%E2%81%84bob",
        "users/alice/..%E2%88%96bob",
        "users/alice/%E2%84%80",
        "public/a%EF%BC%8A",
        "public/a%EF%B9%A1",
        "public/a%EF%BC%9Fb",
        "public/a%EF%BC%83b",
        "public/a%EF%BC%85",
        "public/a%EF%BC%9Bb",
        "public/a%CD%BEb",
    ]
    .iter()
    .map(|s| (s.to_string(), BAD))
    .collect();
    p.push((format!("public/{}", "a".repeat(1025)), BAD));
    p.push((format!("public/{}", "%41".repeat(1100)), BAD));
    p.push((format!("public/{}x", "a/".repeat(600)), BAD));
    p.push(("users/bob/x".into(), &[403]));
    p.push(("secret/x".into(), &[403]));
    p.push(("users/alice%20/x".into(), &[403]));
    p
}
