//! The floor of a 302 on this stack, for `bench/run`: axum with one route, signgate's
//! `/files/{*key}`, answering a constant 302 (the `Location` of `bench/nginx.conf`'s
//! `return 302`) with no middleware, on the runtime signgate serves with in the benchmark
//! (multi-threaded, one worker). What signgate's cache-hit 302 costs above this is its own work.
//!
//!   signgate-floor PORT

use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;

const LOCATION: &str = "https://d111111abcdef8.cloudfront.net/public/videos/intro.mp4?Expires=1767225600&Signature=reference&Key-Pair-Id=KDEMO2RSA0001";

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: signgate-floor PORT");
            std::process::exit(2);
        });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let app = Router::new().route(
            "/files/{*key}",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, HeaderValue::from_static(LOCATION))],
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}
