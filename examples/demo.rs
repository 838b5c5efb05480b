//! The tokio-doctor demo: a small HTTP service with one endpoint that blocks
//! the executor and one that does the same work correctly, under load from
//! its own client on loopback.
//!
//! ```text
//! cargo run --release --example demo              # 20 s, then a final report
//! cargo run --release --example demo -- --serve   # keep serving (Ctrl-C stops)
//! ```
//!
//! What the doctor shows, live in the terminal and at
//! <http://127.0.0.1:9464/metrics> and <http://127.0.0.1:9464/doctor>:
//! a `blocking_poll` finding for `hash_inline` at `examples/demo.rs:<line>`
//! (each request hashes for 20 ms on a runtime worker), rising event-loop
//! lag, and nothing about `hash_offloaded`, which runs the same hash in
//! `spawn_blocking`.
//!
//! Options: `--duration SECS` (default 20), `--serve` (run until Ctrl-C,
//! at most an hour), `--connections N` per endpoint (default 4).
//! `TOKIO_DOCTOR_LISTEN` moves the doctor's endpoint.
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use tracing_subscriber::prelude::*;

const HASH_COST: Duration = Duration::from_millis(20);

/// Bad: the hash runs on the runtime worker that polls this handler.
#[tracing::instrument]
async fn hash_inline() -> String {
    format!("{:x}\n", common::expensive_hash(HASH_COST))
}

/// Fixed: the same hash on the blocking pool; the worker stays free.
#[tracing::instrument]
async fn hash_offloaded() -> String {
    let h = tokio::task::spawn_blocking(|| common::expensive_hash(HASH_COST))
        .await
        .unwrap_or(0);
    format!("{h:x}\n")
}

struct Options {
    duration: Duration,
    serve: bool,
    connections: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(20),
        serve: false,
        connections: 4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--serve" => o.serve = true,
            "--duration" => {
                let v = args.next().ok_or("--duration needs a number of seconds")?;
                o.duration = Duration::from_secs(
                    v.parse()
                        .map_err(|_| format!("--duration: not a number: {v}"))?,
                );
            }
            "--connections" => {
                let v = args.next().ok_or("--connections needs a number")?;
                o.connections = v
                    .parse()
                    .map_err(|_| format!("--connections: not a number: {v}"))?;
                if o.connections == 0 || o.connections > 256 {
                    return Err("--connections must be 1..=256".into());
                }
            }
            "-h" | "--help" => {
                println!("usage: demo [--duration SECS] [--serve] [--connections N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    if o.serve {
        o.duration = Duration::from_secs(3600);
    }
    Ok(o)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
    let doctor = match tokio_doctor::Doctor::from_env() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
    // The fmt layer shows warnings; the doctor's own stall warnings would
    // flood the terminal here, and the table below shows the same thing.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,tokio_doctor=error"));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(filter))
        .with(doctor.layer())
        .init();
    let running = match doctor.start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(1);
        }
    };

    // Per-route executor health, with no span needed: each route's requests
    // run under a tokio-metrics task monitor (with the `axum` feature the
    // route comes from axum's matched path; here it is named by hand).
    let routes = tokio_doctor::TaskMonitorLayer::new(&doctor).route_fn(|r| match r.uri.path() {
        p @ ("/hash-inline" | "/hash-offloaded" | "/health") => Some(p.to_string().into()),
        _ => None,
    });
    let app = Router::new()
        .route("/hash-inline", get(hash_inline))
        .route("/hash-offloaded", get(hash_offloaded))
        .route("/health", get(|| async { "ok\n" }))
        .layer(routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the demo service");
    let service_addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let doctor_addr = running
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "(endpoint off)".into());
    println!("demo service on http://{service_addr} (/hash-inline blocks the executor, /hash-offloaded does not)");
    println!("doctor on http://{doctor_addr}/metrics and http://{doctor_addr}/doctor");
    println!(
        "running {} with {} connections per endpoint{}",
        if opts.serve {
            "until Ctrl-C".to_string()
        } else {
            format!("for {} s", opts.duration.as_secs())
        },
        opts.connections,
        if opts.serve {
            ""
        } else {
            "; --serve keeps it up for Prometheus"
        }
    );

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let load = start_load(service_addr, opts.connections, stop.clone(), counts.clone());

    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        println!(
            "\n[{:>4} s] requests: /hash-inline {}, /hash-offloaded {}",
            started.elapsed().as_secs(),
            counts[0].load(Ordering::Relaxed),
            counts[1].load(Ordering::Relaxed)
        );
        common::print_findings(&doctor);
        if started.elapsed() >= opts.duration {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = load.join();

    println!("\n=== final report ===");
    common::print_findings(&doctor);
    for line in doctor.report().summary {
        println!("  {line}");
    }
    for f in doctor.findings() {
        println!("\n  {}\n  fix: {}", f.message, f.fix);
    }
}

/// Load from its own thread and runtime, so it never shares a worker with
/// the service it measures.
fn start_load(
    addr: SocketAddr,
    connections: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 2]>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("load runtime");
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for (i, path) in ["/hash-inline", "/hash-offloaded"].into_iter().enumerate() {
                for _ in 0..connections {
                    let (stop, counts) = (stop.clone(), counts.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut buf = Vec::new();
                        while !stop.load(Ordering::Relaxed) {
                            let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                continue;
                            };
                            while !stop.load(Ordering::Relaxed)
                                && common::get(&mut conn, path, &mut buf).await
                            {
                                counts[i].fetch_add(1, Ordering::Relaxed);
                                // About 10 requests a second per connection.
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    })
}
