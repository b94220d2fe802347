//! signgate's integration tests, in one binary: the real service on a random port (or the real
//! binary as a process), driven as callers, proxies and browsers drive it. Each module is named
//! after the step or feature it tests, so a behaviour's test is where its name says.

mod authenticate;
mod batch;
mod bench_smoke;
mod browser;
mod caddy;
mod cli;
mod config;
mod container;
mod cookies;
mod deploy;
mod django_example;
mod edge;
mod explain;
mod faults;
mod files;
mod first_run;
mod fleet;
mod forward_auth;
mod health;
mod hostile;
mod jwks;
mod jwt;
mod key_rotation;
mod kubernetes;
mod limits;
mod logs;
mod nginx;
mod nginx_secure_link;
mod providers;
mod reload;
mod request_frame;
mod rules;
mod sessions;
mod sign_per_folder;
mod signals;
mod signing;
mod sql_grants;
mod stores_azure;
mod stores_gcs;
mod stores_s3;
mod systemd;
mod token_cache;

/// The binary under test, for the tests that run it as a process.
const SIGNGATE: &str = env!("CARGO_BIN_EXE_signgate");
