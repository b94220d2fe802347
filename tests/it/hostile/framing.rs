//! Sizes and framing: oversized headers, cookies and URIs; duplicate `Content-Length`; a body
//! on GET, by `Transfer-Encoding` or `Content-Length`, and both at once.

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("framing", 7, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let mut cases = Vec::new();
    let big = vec![b'a'; 100 * 1024];
    cases.push(case(
        "oversized header",
        "/files/public/a",
        &[("Authorization", b), ("X-Big", &big)],
        &[431, 400],
    ));
    cases.push(case(
        "oversized cookie",
        "/files/public/a",
        &[(
            "Cookie",
            format!("signgate_token={}", "a".repeat(100 * 1024)).as_bytes(),
        )],
        &[431, 400],
    ));
    cases.push(case(
        "oversized uri",
        format!("/files/public/{}", "a".repeat(70 * 1024)),
        &[("Authorization", b)],
        &[414, 400, 431],
    ));
    let mut dup_cl = case(
        "duplicate content-length",
        "/files/public/a",
        &[
            ("Authorization", b),
            ("Content-Length", b"0"),
            ("Content-Length", b"5"),
        ],
        &[400],
    );
    dup_cl.body = b"hello".to_vec();
    cases.push(dup_cl);
    let mut te = case(
        "transfer-encoding on GET",
        "/files/public/a",
        &[("Authorization", b), ("Transfer-Encoding", b"chunked")],
        &[400],
    );
    te.body = b"5\r\nhello\r\n0\r\n\r\n".to_vec();
    cases.push(te);
    let mut cl_body = case(
        "content-length body on GET",
        "/files/public/a",
        &[("Authorization", b), ("Content-Length", b"5")],
        &[400],
    );
    cl_body.body = b"hello".to_vec();
    cases.push(cl_body);
    let mut te_cl = case(
        "transfer-encoding and content-length",
        "/files/public/a",
        &[
            ("Authorization", b),
            ("Transfer-Encoding", b"chunked"),
            ("Content-Length", b"4"),
        ],
        &[400],
    );
    te_cl.body = b"0\r\n\r\n".to_vec();
    cases.push(te_cl);
    Corpus {
        cases,
        ..Corpus::default()
    }
}
