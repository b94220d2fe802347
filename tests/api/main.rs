//! Integration tests: the real server on a random port, a real HTTP client with redirects off.

mod helpers;

mod batch;
mod config;
mod edge;
mod files;
mod forward_auth;
mod grants;
mod jwt;
mod sessions;
