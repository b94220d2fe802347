//! signgate: a request for an object arrives; signgate authenticates the caller, decides whether
//! this caller may read this object, signs a short-lived CloudFront URL for it and answers.
//!
//! The request flow, one module per step:
//! [`object_key`] -> [`authenticate`] -> [`authorize`] -> [`sign`] -> [`respond`],
//! tied together by [`flow`] and exposed by [`routes`]. The signing itself lives in the
//! `signgate-cloudfront` crate, which has no web dependencies.
//!
//! Dependencies point one way (`docs/decisions/0004-layout.md`; a unit test below checks that
//! no module imports one listed after it):
//! 1. leaves: [`clock`], [`secret`], [`paths`], [`headers`], [`client_ip`], [`telemetry`],
//!    [`metrics`], [`backend`], [`object_key`], [`download`];
//! 2. the steps, each owning its settings: [`authenticate`], [`authorize`], [`sign`],
//!    [`rate_limit`];
//! 3. [`config`]: plain data and checks, filling in the steps' settings;
//! 4. [`app`] (everything built from one configuration) and [`service`] (the running service);
//! 5. [`error`], [`flow`], [`respond`], [`middleware`], [`routes`], [`startup`];
//! 6. [`edge`] (the local CloudFront stand-in) and [`cli`].

// Declared in dependency order (rustfmt sorts within a group, so each group is sorted too):
// leaves,
pub mod client_ip;
pub mod clock;
pub mod headers;
pub mod memory;
pub mod metrics;
pub mod object_key;
pub mod paths;
pub mod secret;
pub mod telemetry;
pub mod tls;

pub mod backend;
pub mod download;

// the steps,
pub mod authenticate;
pub mod authorize;
pub mod rate_limit;
pub mod sign;

// the configuration,
pub mod config;

// the built service,
pub mod app;
pub mod service;

// the request path,
pub mod error;
pub mod flow;
pub mod respond;
pub mod routes;
// Each client connection's watch (slow headers, idle keep-alive), for the accept loop.
pub mod connection;
// The request frame around the route table (it sends the object route's GETs straight to it).
pub mod middleware;
pub mod startup;

// and the tools.
pub mod edge;

pub mod cli;

#[cfg(test)]
mod layout_tests;
