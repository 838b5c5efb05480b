//! Per-route executor health without a single span: `TaskMonitorLayer` on
//! an axum router. Needs the `axum` feature.
//!
//! ```text
//! cargo run --release --features axum --example slow_route
//! ```
//!
//! The router has `/report/{id}`, whose handler renders for 15 ms on the
//! runtime worker, and `/health/{id}`. The program calls both on loopback
//! for 5 seconds (`--seconds N`), then prints the per-route metrics and
//! what the doctor reports: a `blocking_poll` finding with the route
//! `/report/{id}` as its call site (and the `file:line` of the layer), and
//! nothing for `/health/{id}`, which only *suffers* scheduling delay.
mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => 5,
        [flag, n] if flag == "--seconds" => match n.parse::<u64>() {
            Ok(s) if (1..=3600).contains(&s) => s,
            _ => {
                eprintln!("--seconds needs a number from 1 to 3600");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: slow_route [--seconds N]");
            std::process::exit(2);
        }
    };
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid settings");
    let _running = doctor.start().expect("inside a runtime");
    let app = axum::Router::new()
        .route(
            "/report/{id}",
            axum::routing::get(|| async {
                format!("{:x}", common::expensive_hash(Duration::from_millis(15)))
            }),
        )
        .route("/health/{id}", axum::routing::get(|| async { "ok" }))
        .layer(tokio_doctor::TaskMonitorLayer::new(&doctor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let until = Instant::now() + Duration::from_secs(seconds);
    let mut i = 0u64;
    while Instant::now() < until {
        let path = if i % 5 == 0 {
            format!("/report/{i}")
        } else {
            format!("/health/{i}")
        };
        if let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await {
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let _ = conn.write_all(req.as_bytes()).await;
            let mut sink = Vec::new();
            let _ = conn.read_to_end(&mut sink).await;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("{i} requests sent; per-route metrics:");
    for l in doctor
        .render_prometheus()
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_route_"))
    {
        println!("  {l}");
    }
    println!();
    common::print_findings(&doctor);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
