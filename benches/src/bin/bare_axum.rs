//! The HTTP stack's own limit, for `benches/gateway-sustained.sh`: an axum
//! handler on tokio's multi-threaded runtime (as `alertgate serve`) that
//! reads the body and answers 200, nothing else. Prints `listening on
//! ADDR` (port 0: the system picks one) and serves until killed.
//!
//!     cargo run --release -p alertgate-benches --bin bare_axum [ADDR]

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;

async fn webhook(body: Bytes) -> &'static str {
    // The body is read (extracted) before the handler runs; its length
    // keeps the read from being optimised away.
    if body.is_empty() {
        "empty\n"
    } else {
        "ok\n"
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let app = Router::new().route("/webhook", post(webhook));
        axum::serve(listener, app).await
    })
}
