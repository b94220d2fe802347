//! A real nginx, in the foreground on a free loopback port, with a configuration the test
//! writes, and the README's nginx snippets that those configurations are made of.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::app::repo;
use crate::fs::tempdir;
use crate::process::{free_port, ChildGuard, Shutdown};

/// Debian's nginx (which has `ngx_http_secure_link_module` and `auth_request`), or a failure
/// that says how to install it.
pub fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nginx is not installed; install it with: sudo apt-get install -y nginx (scripts/test does this when run as root)");
}

/// The code block of language `lang` between the README's markers
/// `<!-- {marker}:start -->` and `<!-- {marker}:end -->`.
pub fn readme_snippet(marker: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find(&format!("<!-- {marker}:start -->"))
        .unwrap_or_else(|| panic!("README has no {marker} section"));
    let end = start
        + readme[start..]
            .find(&format!("<!-- {marker}:end -->"))
            .unwrap_or_else(|| panic!("README's {marker} section has no end marker"));
    let block = &readme[start..end];
    let open = format!("```{lang}\n");
    let code_start = block.find(&open).expect("a code block in the section") + open.len();
    let code_end = block[code_start..].find("```").unwrap() + code_start;
    block[code_start..code_end].to_owned()
}

/// nginx in the foreground (`daemon off`); dropping it stops nginx gracefully (SIGQUIT to the
/// master, which stops its workers).
pub struct Nginx {
    _child: ChildGuard,
    /// The loopback port it listens on.
    pub port: u16,
    /// Its prefix folder: configuration, logs, temporary files, and whatever the test keeps
    /// there (the `html` folder is created for document roots).
    pub dir: PathBuf,
}

impl Nginx {
    /// Starts nginx with `http(port, dir)` as the body of its `http {}` block (the test's
    /// `server` blocks, `map`s), and waits until it accepts connections on `port`. `before`
    /// runs first with the prefix folder, to lay out the files nginx serves.
    pub async fn start(
        before: impl FnOnce(&Path),
        http: impl FnOnce(u16, &Path) -> String,
    ) -> Nginx {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("html")).unwrap();
        before(&dir);
        let port = free_port();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             {http}\n}}\n",
            d = dir.display(),
            http = http(port, &dir),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = ChildGuard::spawn(
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
        );
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Nginx {
                    _child: child,
                    port,
                    dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nginx did not start; see {} and {}",
            dir.join("error.log").display(),
            dir.join("nginx.conf").display()
        );
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
