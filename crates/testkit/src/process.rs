//! Child processes a test starts (signgate itself, nginx, Caddy, chromedriver and Chromium),
//! held by [`ChildGuard`] so that none outlives its test, even one that panics.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use libc::{SIGHUP, SIGKILL, SIGTERM};

/// How long a child has to stop after being asked before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How a child is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// SIGTERM to every process in its group: signgate and Caddy, and chromedriver together
    /// with the browser it started and that browser's own children.
    Term,
    /// SIGQUIT to the leader only: nginx's graceful shutdown, in which the master stops its
    /// workers and then exits.
    Quit,
}

/// A child process started as the leader of its own process group, so that whatever it starts
/// (nginx workers, Chromium's helpers) can be stopped with it.
///
/// Dropping the guard stops the group as the program is meant to be stopped (see [`Shutdown`]),
/// waits up to [`STOP_GRACE`] for every process in it to exit, and only then sends SIGKILL to
/// whatever is left.
pub struct ChildGuard {
    name: String,
    child: Child,
    shutdown: Shutdown,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Starts `cmd` as the leader of a new process group; `name` names it in messages.
    pub fn spawn(name: &str, cmd: &mut Command, shutdown: Shutdown) -> ChildGuard {
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ChildGuard {
            name: name.to_owned(),
            child,
            shutdown,
            status: None,
        }
    }

    /// The leader's stdout, when it was piped; taken once.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Sends `signal` to the leader alone, as a test's SIGHUP or SIGTERM.
    pub fn signal(&self, signal: libc::c_int) {
        assert!(self.status.is_none(), "{} has already exited", self.name);
        assert!(
            send(self.pid(), signal),
            "cannot signal {}: {}",
            self.name,
            std::io::Error::last_os_error()
        );
    }

    /// Waits for the leader to exit on its own; fails the test if it has not within `timeout`.
    pub async fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the whole group (see the type's documentation) and returns the leader's status.
    pub fn stop(&mut self) -> ExitStatus {
        let status = match self.try_wait() {
            Some(status) => status,
            None => {
                match self.shutdown {
                    Shutdown::Term => send(-self.pid(), libc::SIGTERM),
                    Shutdown::Quit => send(self.pid(), libc::SIGQUIT),
                };
                self.wait_blocking().unwrap_or_else(|| {
                    eprintln!("{} did not stop within {STOP_GRACE:?}: killed", self.name);
                    send(-self.pid(), libc::SIGKILL);
                    let status = self.child.wait().unwrap();
                    self.status = Some(status);
                    status
                })
            }
        };
        // The leader is gone; what it started may still be on its way out.
        let deadline = Instant::now() + STOP_GRACE;
        while send(-self.pid(), 0) {
            if Instant::now() >= deadline {
                eprintln!("{}'s process group outlived it: killed", self.name);
                send(-self.pid(), libc::SIGKILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        status
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pids fit in pid_t")
    }

    /// The leader's memory from `/proc/<pid>/status`: resident now (`VmRSS`) and the peak it
    /// has reached since it started (`VmHWM`), in bytes.
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_else(|e| panic!("cannot read {}'s /proc status: {e}", self.name));
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix(" kB"))
                .unwrap_or_else(|| panic!("no {name} in {}'s /proc status", self.name))
                .trim()
                .parse::<u64>()
                .unwrap()
                * 1024
        };
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// The leader's status once it has exited, or `None` after [`STOP_GRACE`].
    fn wait_blocking(&mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process's resident memory, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub rss: u64,
    /// The most it has been resident since it started.
    pub peak: u64,
}

/// `kill(2)`: `pid` below zero names a process group; signal 0 only checks that it exists.
fn send(pid: libc::pid_t, signal: libc::c_int) -> bool {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `signgate serve` as a process: the binary `bin` with the configuration in `dir`.
pub struct Signgate {
    pub child: ChildGuard,
    pub port: u16,
}

impl Signgate {
    /// `bin serve` with `dir/signgate.toml`, listening on `port`, without the metrics listener;
    /// stdout is discarded.
    pub fn command(bin: &str, dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args([
            "serve",
            "--config",
            dir.join("signgate.toml").to_str().unwrap(),
        ])
        .env("SIGNGATE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SIGNGATE_SERVER__METRICS_LISTEN", "")
        .stdout(Stdio::null());
        cmd
    }

    /// Starts `cmd` (made by [`Signgate::command`] for `port`) and waits (up to 5 s) until it
    /// answers `/healthz`.
    pub async fn spawn(mut cmd: Command, port: u16) -> Signgate {
        let child = ChildGuard::spawn("signgate serve", &mut cmd, Shutdown::Term);
        for _ in 0..100 {
            if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
                .await
                .is_ok()
            {
                return Signgate { child, port };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("signgate did not start");
    }

    /// Starts it on a free port, logging warnings and errors to the test's stderr, with `env`.
    pub async fn start(bin: &str, dir: &Path, env: &[(&str, String)]) -> Signgate {
        let port = free_port();
        let mut cmd = Signgate::command(bin, dir, port);
        cmd.env("SIGNGATE_LOG__LEVEL", "warn")
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Signgate::spawn(cmd, port).await
    }
}
