//! Integration tests: the real server on a random port, a real HTTP client with redirects off.

mod helpers;

mod config;
mod files;
mod forward_auth;
mod jwt;
