//! Temporary folders and copies of the default configuration.

use std::path::PathBuf;

use crate::app::repo;

/// A new, empty folder under the system's temporary directory.
pub fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "signgate-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64)
}

pub(crate) fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        now_nanos() % 1_000_000_000
    )
}

/// A copy of the default configuration and demo private keys in a fresh folder named after
/// `name`, for a signgate process to run from (and a test to rewrite).
pub fn config_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("signgate-proc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::copy(
        repo().join("config/signgate.toml"),
        dir.join("signgate.toml"),
    )
    .unwrap();
    for f in ["demo-rsa-private.pem", "demo-ecdsa-private.pem"] {
        std::fs::copy(repo().join("config/dev").join(f), dir.join("dev").join(f)).unwrap();
    }
    dir
}

/// The default configuration in a temporary file (its relative key paths made absolute) with
/// `extra` TOML appended; returns the path and the text written.
pub fn config_file(extra: &str) -> (PathBuf, String) {
    let default = crate::app::default_config();
    let config = tempdir().join("signgate.toml");
    let config_dir = default.parent().unwrap().to_path_buf();
    let text = std::fs::read_to_string(&default).unwrap().replace(
        "_file = \"dev/",
        &format!("_file = \"{}/dev/", config_dir.display()),
    ) + extra;
    std::fs::write(&config, &text).unwrap();
    (config, text)
}

#[cfg(test)]
mod tests {
    use super::tempdir;

    #[test]
    fn tempdirs_are_distinct() {
        assert_ne!(tempdir(), tempdir());
    }
}
