//! The HTTP clients' TLS: rustls on aws-lc, the library that already verifies JWTs, so ring is
//! not linked ([decision 8](../docs/decisions/0008-one-crypto-library.md)). reqwest is built
//! without a crypto provider of its own and takes the process's, installed here before the
//! first client is built.

/// A client builder whose TLS runs on aws-lc. Every HTTP client signgate makes (JWKS and
/// discovery fetches, the edge's origin, `healthcheck`) starts here.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_provider();
    reqwest::Client::builder()
}

/// Makes aws-lc the process's rustls provider, unless one is already installed (a second call,
/// or an embedding program's own choice, which is kept).
fn install_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may win the race; either way aws-lc, or the embedder's, is in place.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_build_on_aws_lc() {
        client_builder().build().expect("a client builds");
        let installed = rustls::crypto::CryptoProvider::get_default().expect("a provider");
        let suites = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites
                .iter()
                .map(|s| s.suite())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            suites(installed),
            suites(&rustls::crypto::aws_lc_rs::default_provider())
        );
        // aws-lc's provider offers the post-quantum hybrid key exchange; ring's does not.
        assert!(installed
            .kx_groups
            .iter()
            .any(|g| format!("{:?}", g.name()).contains("MLKEM")));
    }

    /// The service's own dependency graph (not the tests') links no ring: one TLS library fewer.
    #[test]
    fn ring_is_not_in_the_services_dependencies() {
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "--locked",
                "-e",
                "normal",
                "-p",
                "signgate",
                "-i",
                "ring",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // "nothing to print" when ring is only the tests' (the lock still has it), "did not match"
        // once nothing uses it at all.
        let absent = (out.status.success() && stdout.trim().is_empty())
            || stderr.contains("did not match any packages");
        assert!(absent, "ring is linked:\n{stdout}{stderr}");
    }
}
