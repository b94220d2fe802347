//! The README's nginx snippet, run by a real nginx in front of the real signgate:
//! `auth_request` to /auth, `auth_request_set`, and the 302 issued after the access phase.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use signgate_testkit::app::{repo, spawn_app};
use signgate_testkit::edge::{edge_distribution, media_root, media_rules, spawn_edge, verify};
use signgate_testkit::http::{
    assert_nothing_signed, assert_raw_nothing_signed, location, raw_request,
};
use signgate_testkit::process::{free_port, ChildGuard, Shutdown};
use signgate_testkit::tokens::token;

fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nginx is not installed; install it with: sudo apt-get install -y nginx (scripts/test does this when run as root)");
}

/// The snippet between the README's nginx markers.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- nginx-snippet:start -->")
        .expect("README has the nginx snippet");
    let end = readme.find("<!-- nginx-snippet:end -->").unwrap();
    let block = &readme[start..end];
    let code_start = block.find("```nginx\n").unwrap() + "```nginx\n".len();
    let code_end = block[code_start..].find("```").unwrap() + code_start;
    block[code_start..code_end].to_owned()
}

/// nginx in the foreground (`daemon off`); dropping it stops nginx gracefully (SIGQUIT to the
/// master, which stops its workers).
struct Nginx {
    _child: ChildGuard,
    port: u16,
}

async fn start_nginx(signgate: std::net::SocketAddr) -> Nginx {
    let dir = std::env::temp_dir().join(format!(
        "signgate-nginx-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(dir.join("html")).unwrap();
    let port = free_port();
    let snippet = readme_snippet().replace("127.0.0.1:8080", &signgate.to_string());
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    root {d}/html;\n{snippet}\n  }}\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let nginx = Nginx {
        port,
        _child: ChildGuard::spawn(
            "nginx",
            Command::new(nginx_binary())
                .args([
                    "-p",
                    dir.to_str().unwrap(),
                    "-c",
                    dir.join("nginx.conf").to_str().unwrap(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
            Shutdown::Quit,
        ),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return nginx;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "nginx did not start; see {}",
        dir.join("error.log").display()
    );
}

#[tokio::test]
async fn nginx_auth_request_redirects_to_the_signed_url() {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let nginx = start_nginx(app.addr).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", nginx.port);
    let alice = token("alice", json!({}));

    let r = client
        .get(url("/files/users/alice/notes.txt"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let signed = location(&r);
    assert!(
        signed.starts_with(&format!("http://{edge}/users/alice/notes.txt?Expires=")),
        "{signed}"
    );
    verify(&signed, None);
    // The edge serves the right bytes for that URL.
    let body = client.get(&signed).send().await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"alice's notes");

    let (status, _) = assert_nothing_signed(
        client
            .get(url("/files/users/alice/report.pdf"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = assert_nothing_signed(
        client
            .get(url("/files/users/bob/report.pdf"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    let auth = format!("Bearer {alice}");
    let (status, head, body) = raw_request(
        std::net::SocketAddr::from(([127, 0, 0, 1], nginx.port)),
        b"/files/public/%2e%2e/users/bob/x",
        &[("Authorization", auth.as_bytes())],
    )
    .await;
    assert_raw_nothing_signed(&head, &body);
    assert_eq!(status, 403, "malformed paths are refused through nginx too");
}
