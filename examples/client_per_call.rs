//! Scenario 7: a client per call pays a handshake per call.
//! Needs the `connections` feature.
//!
//! ```text
//! cargo run --release --features connections --example client_per_call            # bad
//! cargo run --release --features connections --example client_per_call -- --fixed # shared client
//! ```
//!
//! The program serves a tiny HTTP endpoint on loopback and calls it 20
//! times a second for 8 seconds (`--seconds N`).
//!
//! - **Bad** (default): a new hyper-util `Client` per call, so every request
//!   opens a new TCP connection. The doctor reports `connection_churn` for
//!   peer `127.0.0.1:<port>`, naming the `ConnectionLayer::new()` line in
//!   `examples/client_per_call.rs`, with about 1 new connection per request
//!   and the handshake seconds spent.
//! - **Fixed** (`--fixed`): one client built at startup and reused: one
//!   connection for all requests, no finding.
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tower_layer::Layer;
use tower_service::Service;

type Http = tokio_doctor::connection::OutboundRequestService<
    Client<tokio_doctor::connection::ConnectionService<HttpConnector>, Empty<Bytes>>,
>;

fn new_client() -> Http {
    let connector = tokio_doctor::ConnectionLayer::new().layer(HttpConnector::new());
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    tokio_doctor::OutboundRequestLayer::new().layer(client)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(8);
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .churn_window(Duration::from_secs(5))
        .build()
        .expect("valid settings");
    let _running = doctor.start().expect("inside a runtime");

    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok\n" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "{} shape: 20 calls/s to http://{addr}/",
        if fixed {
            "fixed (shared client)"
        } else {
            "bad (client per call)"
        }
    );

    let mut shared = new_client();
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut next_print = Instant::now() + Duration::from_secs(2);
    let mut calls = 0u64;
    while Instant::now() < until {
        tick.tick().await;
        let mut per_call;
        let client = if fixed {
            &mut shared
        } else {
            per_call = new_client();
            &mut per_call
        };
        if std::future::poll_fn(|cx| client.poll_ready(cx))
            .await
            .is_err()
        {
            continue;
        }
        let req = http::Request::get(format!("http://{addr}/"))
            .body(Empty::new())
            .expect("request");
        if let Ok(resp) = client.call(req).await {
            let _ = resp.into_body().collect().await;
            calls += 1;
        }
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(2);
            println!("[{calls} calls]");
            common::print_findings(&doctor);
        }
    }
    println!("\n=== what the doctor reports after {calls} calls ===");
    common::print_findings(&doctor);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
