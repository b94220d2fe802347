//! The time, passed in rather than read deep inside: tests pin it to replay fixtures made at a
//! known instant.

use std::sync::Arc;

#[derive(Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A fixed instant (Unix seconds), for tests.
    Fixed(u64),
    /// Any function, for tests that move time.
    Func(Arc<dyn Fn() -> u64 + Send + Sync>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("System"),
            Clock::Fixed(t) => write!(f, "Fixed({t})"),
            Clock::Func(_) => f.write_str("Func"),
        }
    }
}

impl Clock {
    pub fn now(&self) -> u64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Clock::Fixed(t) => *t,
            Clock::Func(f) => f(),
        }
    }
}
