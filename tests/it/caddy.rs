//! The README's Caddy forward-auth snippet, run by a real Caddy in front of the real signgate.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use signgate_testkit::app::{repo, spawn_app};
use signgate_testkit::edge::{edge_distribution, media_root, media_rules, spawn_edge, verify};
use signgate_testkit::http::{assert_nothing_signed, location};
use signgate_testkit::process::{free_port, ChildGuard, Shutdown};
use signgate_testkit::tokens::token;

fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- caddy-snippet:start -->")
        .expect("README has the Caddy snippet");
    let block = &readme[start..readme.find("<!-- caddy-snippet:end -->").unwrap()];
    let code = block.find("```caddyfile\n").unwrap() + "```caddyfile\n".len();
    block[code..code + block[code..].find("```").unwrap()].to_owned()
}

#[tokio::test]
async fn caddy_forward_auth_redirects_to_the_signed_url() {
    let caddy_bin = ["/usr/bin/caddy", "/usr/local/bin/caddy"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap_or_else(|| {
        panic!("caddy is not installed; install it with: sudo apt-get install -y caddy (scripts/test does this when run as root)")
    });
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("signgate-caddy-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let snippet = readme_snippet().replace("127.0.0.1:8080", &app.addr.to_string());
    let caddyfile = format!(
        "{{\n  admin off\n  auto_https off\n}}\nhttp://127.0.0.1:{port} {{\n{snippet}\n}}\n"
    );
    std::fs::write(dir.join("Caddyfile"), caddyfile).unwrap();
    let _caddy = ChildGuard::spawn(
        "caddy",
        Command::new(caddy_bin)
            .args([
                "run",
                "--config",
                dir.join("Caddyfile").to_str().unwrap(),
                "--adapter",
                "caddyfile",
            ])
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", &dir)
            .env("XDG_CONFIG_HOME", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        Shutdown::Term,
    );
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let alice = token("alice", json!({}));

    let r = client
        .get(url("/files/users/alice/notes.txt"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let signed = location(&r);
    verify(&signed, None);
    assert_eq!(
        client
            .get(&signed)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"alice's notes"
    );

    // A client-supplied X-Signed-Url never survives: without a valid token, Caddy answers 401.
    let r = client
        .get(url("/files/users/alice/notes.txt"))
        .header("x-signed-url", "https://evil.example/")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 401);
    let r = client
        .get(url("/files/users/bob/notes.txt"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 403);
}
