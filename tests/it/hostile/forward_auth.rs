//! Forwarded headers on `/auth`: underscore aliases, `Forwarded`, duplicates, conflicting
//! sources, other methods, odd prefixes; and a `/files` path with a conflicting original URI.

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("forward_auth", 18, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let mut cases = Vec::new();
    // Forwarded headers.
    type ForwardCase<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, &'static [u16]);
    let fwd: Vec<ForwardCase> = vec![
        (
            "underscore alias",
            vec![("X_Original_URI", b"/files/users/bob/x".to_vec())],
            &[403],
        ),
        (
            "Forwarded header only",
            vec![("Forwarded", b"for=1.2.3.4;host=evil;proto=https".to_vec())],
            &[403],
        ),
        (
            "duplicate original uri",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-URI", b"/files/users/bob/x".to_vec()),
            ],
            &[403],
        ),
        (
            "duplicate forwarded uri",
            vec![
                ("X-Forwarded-Uri", b"/files/public/a".to_vec()),
                ("x-forwarded-uri", b"/files/public/b".to_vec()),
            ],
            &[403],
        ),
        (
            "conflicting original and forwarded",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Forwarded-Uri", b"/files/users/bob/x".to_vec()),
            ],
            &[403],
        ),
        (
            "conflicting original url",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-URL", b"https://h/files/users/bob/x".to_vec()),
            ],
            &[403],
        ),
        (
            "original url without path",
            vec![("X-Original-URL", b"https://evil.example".to_vec())],
            &[403],
        ),
        (
            "relative original uri",
            vec![("X-Original-URI", b"files/public/a".to_vec())],
            &[403],
        ),
        (
            "original uri with fragment",
            vec![("X-Original-URI", b"/files/public/a#x".to_vec())],
            &[403],
        ),
        (
            "POST original method",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-Method", b"POST".to_vec()),
            ],
            &[403],
        ),
        (
            "DELETE forwarded method",
            vec![
                ("X-Forwarded-Uri", b"/files/public/a".to_vec()),
                ("X-Forwarded-Method", b"DELETE".to_vec()),
            ],
            &[403],
        ),
        (
            "lowercase get",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-Method", b"get".to_vec()),
            ],
            &[403],
        ),
        (
            "non UTF-8 original uri",
            vec![("X-Original-URI", b"/files/public/\xff".to_vec())],
            &[403],
        ),
        (
            "outside the prefix",
            vec![("X-Original-URI", b"/filesx/public/a".to_vec())],
            &[403],
        ),
        (
            "prefix without key",
            vec![("X-Original-URI", b"/files".to_vec())],
            &[403],
        ),
        (
            "encoded prefix",
            vec![("X-Original-URI", b"/%66iles/public/a".to_vec())],
            &[403],
        ),
        (
            "absolute url in uri header",
            vec![("X-Original-URI", b"http://evil/files/public/a".to_vec())],
            &[403],
        ),
    ];
    for (name, headers, expect) in fwd {
        let mut hs: Vec<(&str, &[u8])> = vec![("Authorization", b)];
        hs.extend(headers.iter().map(|(k, v)| (*k, v.as_slice())));
        cases.push(case(format!("forward auth {name}"), "/auth", &hs, expect));
    }
    // A path and a conflicting original URI on /files: the path is what counts.
    cases.push(case(
        "files path with a conflicting original uri",
        "/files/users/bob/x",
        &[
            ("Authorization", b),
            ("X-Original-URI", b"/files/users/alice/x"),
        ],
        &[403],
    ));
    Corpus {
        cases,
        ..Corpus::default()
    }
}
