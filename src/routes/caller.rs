//! The [`Caller`] extractor: the configuration in force, the client's address (the TCP peer, or
//! the forwarded address when the peer is a trusted proxy) and its per-IP limit, once per request.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::app::App;
use crate::client_ip::{canonical, client_ip};
use crate::flow::Caller;
use crate::service::Service;

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        // Every route is served with connect info; without it (a router driven directly), the
        // caller is the unspecified address, which no proxy list trusts.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip());
        Ok(caller(service.app(), peer, &parts.headers).await)
    }
}

/// The caller of a request from the TCP peer `peer` with `headers`, under the configuration
/// `app`.
pub async fn caller(app: Arc<App>, peer: IpAddr, headers: &HeaderMap) -> Caller {
    let ip = client_ip(peer, headers, &app.server.trusted_proxies);
    Caller::new(app, canonical(peer), ip).await
}
