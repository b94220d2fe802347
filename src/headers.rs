//! Headers signgate sets on its answers.

use http::{header, HeaderMap, HeaderName, HeaderValue};

/// The request id, kept from a trusted proxy or made here, and sent back on every answer.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers every per-user answer (signed or refused) carries: never cached, never leaked as a
/// referrer.
pub fn private(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
