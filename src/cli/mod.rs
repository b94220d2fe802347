//! Command-line interface. Offline commands (`sign`, `verify`, `keygen`, `token`,
//! `check-config`, `explain`) and the service (`serve`, the default).

mod edge;
mod explain;
mod keygen;
mod provider;
mod serve;
mod sign;
mod token;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// signgate: authenticate, authorize, and answer with a signed CloudFront URL.
#[derive(Parser, Debug)]
#[command(name = "signgate", version, about)]
pub struct Cli {
    /// Configuration file (relative paths inside it are relative to its folder).
    #[arg(
        long,
        global = true,
        env = "SIGNGATE_CONFIG",
        default_value = "config/signgate.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service (the default when no command is given).
    Serve,
    /// Parse and validate the configuration and its keys, then exit (warning about a key set
    /// whose only key is older than its rotate_after_days).
    CheckConfig,
    /// Why a caller may or may not read an object: the credential, each rule, the decision and
    /// what would be signed (nothing is). Exit 0 allow, 1 deny, 2 setup error.
    Explain(explain::ExplainArgs),
    /// Sign a CloudFront URL (or cookies) offline, or another CDN's with --provider.
    Sign(sign::SignArgs),
    /// Verify a signed URL as CloudFront (or the --provider CDN) would.
    Verify(verify::VerifyArgs),
    /// Generate a key pair for CloudFront.
    Keygen(keygen::KeygenArgs),
    /// Run a local stand-in for a CloudFront edge that serves files only to valid signatures.
    Edge(edge::EdgeArgs),
    /// Print a demo token signed with the configuration's HS256 secret.
    Token(token::TokenArgs),
    /// Exit 0 when the running service answers /healthz (for container health checks).
    Healthcheck {
        /// URL to probe.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

/// Runs the command line; the exit code is the command's result.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::serve(&cli.config),
        Command::CheckConfig => serve::check_config(&cli.config),
        Command::Explain(args) => explain::run(&cli.config, args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Token(args) => token::run(&cli.config, args),
        Command::Edge(args) => edge::run(args),
        Command::Healthcheck { url } => serve::healthcheck(&url),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Parses a Unix time in whole seconds.
fn unix_time(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|_| {
        format!("{text:?} is not a Unix time in whole seconds (digits only, such as 1767225600)")
    })
}
