//! The [`Caller`] extractor: the configuration in force, the client's address (the TCP peer, or
//! the forwarded address when the peer is a trusted proxy) and its per-IP limit, once per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::client_ip::{canonical, client_ip};
use crate::flow::Caller;
use crate::service::Service;

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let app = service.app();
        // Every route is served with connect info; without it (a router driven directly), the
        // caller is the unspecified address, which no proxy list trusts.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip());
        let ip = client_ip(peer, &parts.headers, &app.server.trusted_proxies);
        Ok(Caller::new(app, canonical(peer), ip).await)
    }
}
