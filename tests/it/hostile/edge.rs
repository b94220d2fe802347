//! The local edge, attacked as a viewer would attack CloudFront with alice's folder cookies and a
//! URL signed for her: a `Host` carrying a path, userinfo or another authority, and encoded
//! separators and dot segments inside her folder. Each case goes byte for byte to an edge serving
//! a folder (`--root`) and to one proxying an origin that decodes the way careless origins do
//! (`%2F` and `%5C` to separators, `;params` dropped, `..` resolved by the file system after
//! decoding, and Unicode compatibility forms folded as NFKC normalizers do, so fullwidth `．．／` is
//! `../`), so an escape the edge let through would come back as another file.
//!
//! The edge, not the service, is under attack here, so this class has its own runner: every case
//! must be a 400 and carry nothing from outside `hls/alice/`.
//!
//! (Over 300 lines: a third is the cases, kept beside the careless origin they are aimed at.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{StatusCode, Uri};
use serde_json::{json, Value};
use signgate::edge::{Edge, Origin};
use signgate_testkit::app::{spawn_app, TestApp};
use signgate_testkit::edge::{demo_public_keys, edge_distribution, media_files, media_rules};
use signgate_testkit::fs::tempdir;
use signgate_testkit::http::{exchange, location};
use signgate_testkit::tokens::token;

/// Files outside alice's folder, each with a marker no answer may contain.
const SECRETS: [(&str, &str); 4] = [
    ("hls/bob/secret.txt", "BOB-HLS-SECRET"),
    ("users/bob/secret.txt", "BOB-USERS-SECRET"),
    ("secret.txt", "ROOT-SECRET"),
    ("../outside.txt", "OUTSIDE-THE-ROOT-SECRET"),
];

#[tokio::test]
async fn the_edge_serves_nothing_outside_the_signed_folder_whatever_the_host_or_encoding() {
    let dir = tempdir();
    let root = dir.join("media");
    for (path, bytes) in media_files() {
        write(&root.join(path), bytes.as_slice());
    }
    for (path, marker) in SECRETS {
        write(&root.join(path), marker.as_bytes());
    }
    let origin = spawn_careless_origin(root.clone()).await;
    // The origin really is careless: asked directly, it answers an escape with bob's file.
    let (status, _, body) = get(origin, b"/hls/alice/..%2fbob/secret.txt", &[b"o"], "").await;
    assert_eq!((status, body.as_str()), (200, "BOB-HLS-SECRET"));
    let fullwidth = b"/hls/alice/%EF%BC%8E%EF%BC%8E%EF%BC%8Fbob/secret.txt";
    let (status, _, body) = get(origin, fullwidth, &[b"o"], "").await;
    assert_eq!((status, body.as_str()), (200, "BOB-HLS-SECRET"));

    let folder = spawn_edge(Origin::Folder(root)).await;
    let proxy = spawn_edge(Origin::http(&format!("http://{origin}")).unwrap()).await;
    let mut total = 0;
    for (name, edge) in [("--root", folder), ("--origin", proxy)] {
        total += attack(name, edge).await;
    }
    assert!(
        total >= 120,
        "the edge corpus has {total} cases, fewer than 120"
    );
    eprintln!("hostile edge: {total} distinct requests, nothing outside the folder served");
}

/// Sends every case to `edge`; returns how many were sent.
async fn attack(name: &str, edge: SocketAddr) -> usize {
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let alice = token("alice", json!({}));
    let jar = folder_cookies(&app, &alice).await;
    // A URL signed for alice's users/alice/users/bob/secret.txt, which exists nowhere.
    let signed = location(
        &app.get("/files/users/alice/users/bob/secret.txt", Some(&alice))
            .await,
    );
    let query = signed.split_once('?').unwrap().1.to_owned();
    let host = edge.to_string();

    // The cookies work, and only inside the folder.
    let (status, _, body) = get(edge, b"/hls/alice/master.m3u8", &[host.as_bytes()], &jar).await;
    assert_eq!(status, 200, "{name}: alice's own playlist");
    assert!(body.starts_with("#EXTM3U"), "{name}: {body}");
    let (status, _, _) = get(edge, b"/hls/bob/secret.txt", &[host.as_bytes()], &jar).await;
    assert_eq!(status, 403, "{name}: bob's folder with alice's cookies");

    let cases = host_cases(edge, &query)
        .into_iter()
        .chain(path_cases(&host));
    let mut sent = 0;
    for (case, target, hosts) in cases {
        let hosts: Vec<&[u8]> = hosts.iter().map(Vec::as_slice).collect();
        let (status, head, body) = get(edge, &target, &hosts, &jar).await;
        let what = format!("{name} {case}: {}", String::from_utf8_lossy(&target));
        for (_, marker) in SECRETS {
            assert!(!body.contains(marker), "{what}: served {marker}\n{head}");
        }
        assert!(!body.contains("bob's notes"), "{what}: served bob's notes");
        assert_eq!(status, 400, "{what}\n{head}\n{body}");
        assert!(
            body.contains("The request could not be satisfied"),
            "{what}: {body}"
        );
        sent += 1;
    }
    sent
}

type Attack = (String, Vec<u8>, Vec<Vec<u8>>);

/// Bob's file, and the path of the URL signed for alice's `users/alice/users/bob/secret.txt`.
const BOB: &str = "/hls/bob/secret.txt";
const SIGNED: &str = "/users/bob/secret.txt?{query}";
const ELSEWHERE: &str = "http://evil.example/hls/alice/master.m3u8";
const WITH_USERINFO: &str = "http://alice@{host}/hls/bob/secret.txt";

/// Requests naming hosts the edge does not serve: the `Host` headers (`{host}` is the edge's
/// own, `{port}` its port), and a target the Host would turn into a URL inside alice's folder (or
/// into her signed URL) while the path names bob's file.
const HOST_CASES: &[(&str, &[&str], &str)] = &[
    ("host with path", &["{host}/hls/alice"], BOB),
    ("host with path /", &["{host}/hls/alice/"], BOB),
    ("host with path, URL", &["{host}/users/alice"], SIGNED),
    ("host with path /, URL", &["{host}/users/alice/"], SIGNED),
    ("host with path and query", &["{host}/hls/alice/?"], BOB),
    ("host with backslash path", &["{host}\\hls\\alice"], BOB),
    ("host with encoded path", &["{host}%2fhls%2falice"], BOB),
    ("host with userinfo", &["alice@{host}"], BOB),
    ("host with userinfo after", &["{host}@evil.example"], BOB),
    ("host with userinfo and path", &["x@{host}/hls/alice"], BOB),
    ("host with query", &["{host}?/hls/alice/"], BOB),
    ("host with fragment", &["{host}#/hls/alice/"], BOB),
    ("host with space", &["{host} /hls/alice"], BOB),
    ("host with tab", &["{host}\t/hls/alice"], BOB),
    ("host of another name", &["evil.example"], BOB),
    ("host of another port", &["127.0.0.1:1"], BOB),
    ("host without port", &["127.0.0.1"], BOB),
    ("host localhost", &["localhost:{port}"], BOB),
    ("host in capitals elsewhere", &["EVIL.example:{port}"], BOB),
    ("host with two ports", &["{host}:80"], BOB),
    ("host with suffix", &["{host}.evil.example"], BOB),
    ("empty host", &[""], BOB),
    ("two hosts", &["{host}", "{host}/hls/alice"], BOB),
    ("no host", &[], "/hls/alice/master.m3u8"),
    ("absolute target elsewhere", &["{host}"], ELSEWHERE),
    ("absolute target with userinfo", &["{host}"], WITH_USERINFO),
];

fn host_cases(edge: SocketAddr, query: &str) -> Vec<Attack> {
    let fill = |t: &str| {
        t.replace("{host}", &edge.to_string())
            .replace("{port}", &edge.port().to_string())
            .replace("{query}", query)
            .into_bytes()
    };
    HOST_CASES
        .iter()
        .map(|(case, hosts, target)| {
            let hosts = hosts.iter().map(|h| fill(h)).collect();
            (case.to_string(), fill(target), hosts)
        })
        .collect()
}

/// Targets inside alice's folder that a decoding origin would read as a file outside it.
fn path_cases(host: &str) -> Vec<Attack> {
    [
        "..%2fbob/secret.txt",
        "..%2Fbob/secret.txt",
        "%2e%2e%2fbob/secret.txt",
        "%2E%2E%2Fbob/secret.txt",
        "%2e%2E%2fbob/secret.txt",
        "%2e%2e/bob/secret.txt",
        "%2E%2E/bob/secret.txt",
        ".%2e/bob/secret.txt",
        "%2e./bob/secret.txt",
        "..%5cbob/secret.txt",
        "..%5Cbob%5Csecret.txt",
        "%2e%2e%5cbob%5csecret.txt",
        "x%2f..%2f..%2fbob/secret.txt",
        "..%2f..%2fsecret.txt",
        "..%2f..%2fusers%2fbob%2fsecret.txt",
        "%2e%2e%2f%2e%2e%2fusers%2fbob%2fnotes.txt",
        "..%2f..%2f..%2foutside.txt",
        "a%2fb",
        "a%2Fb",
        "a%5cb",
        "..;/bob/secret.txt",
        "..;x=1/bob/secret.txt",
        "..%3b/bob/secret.txt",
        "..%3f/bob/secret.txt",
        "..%23/bob/secret.txt",
        "../bob/secret.txt",
        "..\\bob\\secret.txt",
        "x/../../bob/secret.txt",
        "%252e%252e%252fbob/secret.txt",
        "..%252fbob/secret.txt",
        "x//..%2fbob/secret.txt",
        "..%2fbob/secret.txt?v=1",
        "..%00/bob/secret.txt",
        "%c0%ae%c0%ae%c0%afbob/secret.txt",
        // Look-alikes an origin folding compatibility forms reads as `.`, `/` or `\`.
        "%EF%BC%8E%EF%BC%8E%EF%BC%8Fbob/secret.txt",
        "%EF%BC%8E%EF%BC%8E/bob/secret.txt",
        "%ef%bc%8e%ef%bc%8e/bob/secret.txt",
        "%E2%80%A5/bob/secret.txt",
        "%EF%B9%92%EF%B9%92/bob/secret.txt",
        "%E2%80%A4%E2%80%A4/bob/secret.txt",
        "%E2%80%A4.%2fbob/secret.txt",
        ".%EF%BC%8E/bob/secret.txt",
        "..%EF%BC%8Fbob/secret.txt",
        "..%EF%BC%BCbob%EF%BC%BCsecret.txt",
        "..%EF%B9%A8bob/secret.txt",
        "..%E2%88%95bob/secret.txt",
        "..%E2%81%84bob/secret.txt",
        "..%E2%88%96bob/secret.txt",
        "%EF%BC%8E%EF%BC%8E%EF%BC%9B/bob/secret.txt",
        "%EF%BC%8E%EF%BC%8E%CD%BEx/bob/secret.txt",
        "%EF%BC%852e%EF%BC%852e%EF%BC%852fbob/secret.txt",
    ]
    .into_iter()
    .map(|p| {
        (
            format!("cookie folder {p:?}"),
            format!("/hls/alice/{p}").into_bytes(),
            vec![host.as_bytes().to_vec()],
        )
    })
    .collect()
}

/// The `CloudFront-*` cookies signgate hands alice for `hls/alice/`, as a `Cookie` header.
async fn folder_cookies(app: &TestApp, alice: &str) -> String {
    let r = app.get("/cookies/hls/alice", Some(alice)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["name"].as_str().unwrap(),
                c["value"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn spawn_edge(origin: Origin) -> SocketAddr {
    let edge = Edge {
        verifier: signgate::edge::Verifier::CloudFront(demo_public_keys()),
        origin,
        base_url: None,
    };
    signgate::edge::spawn(edge, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A GET of `target` with these `Host` headers (none, one or several) and `cookie`.
async fn get(
    addr: SocketAddr,
    target: &[u8],
    hosts: &[&[u8]],
    cookie: &str,
) -> (u16, String, String) {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\n");
    for host in hosts {
        req.extend_from_slice(b"Host: ");
        req.extend_from_slice(host);
        req.extend_from_slice(b"\r\n");
    }
    if !cookie.is_empty() {
        req.extend_from_slice(format!("Cookie: {cookie}\r\n").as_bytes());
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    exchange(addr, &req).await
}

/// An origin as careless as many are: it decodes the whole path (`%2F` and `%5C` too), folds
/// compatibility forms (NFKC, then the division and fraction slashes and set minus a Windows
/// best-fit conversion maps), reads `\` as `/`, drops `;params`, and lets the file system
/// resolve `..`.
async fn spawn_careless_origin(root: PathBuf) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(move |uri: Uri| {
        let root = root.clone();
        async move {
            let decoded = fold(&percent_decode(uri.path())).replace('\\', "/");
            let path: Vec<&str> = decoded
                .split('/')
                .map(|s| s.split(';').next().unwrap_or_default())
                .collect();
            let file = root.join(path.join("/").trim_start_matches('/'));
            match std::fs::read(file) {
                Ok(bytes) => (StatusCode::OK, bytes),
                Err(_) => (StatusCode::NOT_FOUND, b"not found".to_vec()),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfkc()
        .map(|c| match c {
            '\u{2044}' | '\u{2215}' => '/',
            '\u{2216}' => '\\',
            c => c,
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = text
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}
