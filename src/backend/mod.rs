//! Backends that decisions depend on (Redis, SQL databases): pools with connect and query
//! timeouts, and health tracking that logs once per incident and fails closed.

pub mod health;
pub mod sql;

pub use health::BackendHealth;
