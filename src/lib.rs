//! signgate: a request for an object arrives; signgate authenticates the caller, decides whether
//! this caller may read this object, signs a short-lived CloudFront URL for it and answers.
//!
//! The request flow, one module per step:
//! [`object_key`] -> [`authenticate`] -> [`authorize`] -> [`sign`] -> [`respond`],
//! tied together by [`grant`] and exposed by [`routes`]. The signing itself lives in the
//! `signgate-cloudfront` crate, which has no web dependencies.

pub mod authenticate;
pub mod authorize;
pub mod backend;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod download;
pub mod edge;
pub mod error;
pub mod grant;
pub mod grants;
pub mod metrics;
pub mod middleware;
pub mod object_key;
pub mod rate_limit;
pub mod respond;
pub mod routes;
pub mod sign;
pub mod startup;
pub mod state;
pub mod telemetry;
