//! The service's fixed routes. The route table is built from these, and the configuration check
//! refuses a `server.files_prefix` that would collide with one of them (before this, such a
//! prefix passed `check-config` and then stopped `serve` with a panic).

/// Signed cookies for a folder: `GET /cookies/{folder...}`.
pub const COOKIES: &str = "/cookies";
/// Batch signing: `POST /sign`.
pub const SIGN: &str = "/sign";
/// Forward authentication for reverse proxies.
pub const AUTH: &str = "/auth";
/// Liveness.
pub const HEALTHZ: &str = "/healthz";
/// Readiness.
pub const READYZ: &str = "/readyz";

/// Every fixed route; the files prefix may neither be one of them, nor lie below or above one.
pub const RESERVED: [&str; 5] = [COOKIES, SIGN, AUTH, HEALTHZ, READYZ];

/// Whether `prefix` (`/files`, no trailing slash) would share a path with a fixed route.
pub fn collides_with_reserved(prefix: &str) -> Option<&'static str> {
    let within = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    RESERVED
        .into_iter()
        .find(|reserved| within(prefix, reserved) || within(reserved, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_collides_with_a_fixed_route_at_or_around_it() {
        assert_eq!(collides_with_reserved("/cookies"), Some("/cookies"));
        assert_eq!(collides_with_reserved("/cookies/x"), Some("/cookies"));
        assert_eq!(collides_with_reserved("/auth"), Some("/auth"));
        assert_eq!(collides_with_reserved("/healthz"), Some("/healthz"));
        assert_eq!(collides_with_reserved("/files"), None);
        assert_eq!(collides_with_reserved("/cookiesx"), None);
        assert_eq!(collides_with_reserved("/signed"), None);
        assert_eq!(collides_with_reserved("/media/files"), None);
    }
}
