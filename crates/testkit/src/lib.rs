//! What signgate's integration tests share, one module per job:
//!
//! - [`app`]: the real service on a random port, as users run it, with per-test overrides;
//! - [`tokens`]: JWTs signed with the demo secret or fresh keys;
//! - [`django`]: Django session values signed here, of a chosen length;
//! - [`http`]: asserting that nothing signed came back, and raw exchanges sent byte for byte;
//! - [`edge`]: the local edge that verifies like CloudFront, and the media files it serves;
//! - [`providers`]: a distribution for each CDN beside CloudFront and each object store, with
//!   the demo keys, and that CDN's (or store's) verifier built independently from the same files;
//! - [`azurite`]: a real Azurite (the Azure storage emulator) and the shared-key requests that
//!   set up its containers, blobs and stored access policies;
//! - [`backends`]: Redis and PostgreSQL from the environment, a Redis of the test's own, JWKS
//!   providers, a fault proxy;
//! - [`browser`]: headless Chromium driven through chromedriver, downloads saved to a folder;
//! - [`process`]: child processes (signgate, nginx, Caddy, browsers) stopped when a test ends;
//! - [`haproxy`]: a real HAProxy balancing over replicas, and its servers' state;
//! - [`nginx`]: a real nginx on a free port with the test's configuration, and README snippets;
//! - [`s3s`]: a real S3-compatible server (s3s-fs) that checks presigned URLs;
//! - [`fs`]: temporary folders and configuration copies;
//! - [`logs`]: capturing one test's log lines without a global subscriber.

pub mod app;
pub mod azurite;
pub mod backends;
pub mod browser;
pub mod django;
pub mod edge;
pub mod fs;
pub mod haproxy;
pub mod http;
pub mod logs;
pub mod nginx;
pub mod process;
pub mod providers;
pub mod s3s;
pub mod tokens;
