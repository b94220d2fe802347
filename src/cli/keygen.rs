//! `signgate keygen`: a new key pair, the private half readable by its owner only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use signgate_cloudfront::{KeyPairId, KeyType, SigningKey};

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Key type: RSA-2048 or ECDSA P-256.
    #[arg(long = "type", value_enum)]
    key_type: KeygenType,
    /// Folder for private_key.pem and public_key.pem (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KeygenType {
    Rsa,
    Ecdsa,
}

pub const PRIVATE_FILE: &str = "private_key.pem";
pub const PUBLIC_FILE: &str = "public_key.pem";

pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let key_type = match args.key_type {
        KeygenType::Rsa => KeyType::Rsa2048,
        KeygenType::Ecdsa => KeyType::EcdsaP256,
    };
    // The Key-Pair-Id is assigned by CloudFront when the public key is uploaded.
    let placeholder = KeyPairId::parse("UNASSIGNED").expect("valid id");
    let key = SigningKey::generate(placeholder, key_type)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let private = args.out.join(PRIVATE_FILE);
    let public = args.out.join(PUBLIC_FILE);
    write_new(&private, key.private_pkcs8_pem().as_bytes(), 0o600)?;
    write_new(&public, key.public_pem().as_bytes(), 0o644)?;
    eprintln!(
        "wrote {} (mode 0600) and {}",
        private.display(),
        public.display()
    );
    eprintln!(
        "upload {} to CloudFront as a public key; use the ID it gets as the Key-Pair-Id",
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` with `mode` from the start (never a world-readable moment); refuses to
/// overwrite an existing file.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
