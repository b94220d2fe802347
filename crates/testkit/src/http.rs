//! HTTP as the tests see it: a client that does not follow redirects, checks that nothing
//! signed came back, and raw exchanges sent byte for byte.

use std::net::SocketAddr;

/// A client with redirects off, so a 302's `Location` can be asserted.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("Location")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts that nothing signed came back: no Location with a signature, no X-Signed-Url, no
/// CloudFront cookie, no signature in the body.
pub async fn assert_nothing_signed(response: reqwest::Response) -> (reqwest::StatusCode, String) {
    let status = response.status();
    let headers = response.headers().clone();
    assert!(
        headers.get("x-signed-url").is_none(),
        "X-Signed-Url on {status}"
    );
    if let Some(loc) = headers.get("location") {
        assert!(
            !loc.to_str().unwrap_or_default().contains("Signature="),
            "signed Location on {status}"
        );
    }
    for cookie in headers.get_all("set-cookie") {
        assert!(
            !cookie
                .to_str()
                .unwrap_or_default()
                .starts_with("CloudFront-"),
            "CloudFront cookie on {status}"
        );
    }
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("Signature="),
        "signature in body on {status}"
    );
    (status, body)
}

/// A raw HTTP/1.1 request, sent byte for byte (HTTP clients normalize `..` and `\` away, which
/// would hide exactly what these tests need to send). Returns status, headers and body.
pub async fn raw_request(
    addr: SocketAddr,
    request_line_target: &[u8],
    headers: &[(&str, &[u8])],
) -> (u16, String, String) {
    let mut req = Vec::new();
    req.extend_from_slice(b"GET ");
    req.extend_from_slice(request_line_target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    exchange(addr, &req).await
}

/// Sends `request` as it is on a new connection and reads until the server closes it (at most
/// 5 s). Returns status (0 when there is none), head and body.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may refuse and close before reading everything: what it answered still counts.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

/// Asserts a raw response signed nothing.
pub fn assert_raw_nothing_signed(head: &str, body: &str) {
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("x-signed-url"), "{head}");
    assert!(!lower.contains("set-cookie: cloudfront-"), "{head}");
    assert!(!head.contains("Signature="), "{head}");
    assert!(!body.contains("Signature="), "{body}");
}
