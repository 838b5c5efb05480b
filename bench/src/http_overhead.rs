//! HTTP throughput, p99 latency and RSS of a small axum server under `wrk`
//! load on loopback, with and without the doctor's layer.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin http-overhead   # needs wrk (apt install wrk)
//! ```
//!
//! Two servers: a hello-world axum app whose handler opens an INFO span,
//! and the same app behind tower-http's usual stack (a `TraceLayer` span
//! per request, request ids, a timeout, compression, a concurrency limit
//! and load shedding), as services are built; each without the doctor
//! (a registry with a no-op layer) and with it as the README adds it.
//!
//! Each round starts the server in a child process of this binary (one
//! per configuration, interleaved), warms it up with `wrk` for
//! `--warmup` seconds (not measured: a fresh process pays its one-time
//! costs then, as a long-running service does once, such as the doctor's
//! first stack capture mapping the binary's debug info), runs
//! `wrk -t1 -c64 -d<secs>s --latency` from a second process, and reads the
//! server's RSS. At least five rounds; medians and ratios are printed.
//! Options: `--rounds N` (default 5), `--seconds N` per run (default 5),
//! `--warmup N` seconds before it (default 1; 0 measures from the start).
//! The doctor's servers read the `TOKIO_DOCTOR_*` variables (an A/B of one
//! setting, such as `TOKIO_DOCTOR_STACKS=false`, needs no rebuild).
//!
//! `bench/http-instructions` runs the same servers under callgrind and
//! counts instructions per request instead, which do not drift with the
//! machine: the figures to compare changes by.

use std::process::{Command, Stdio};
use std::time::Duration;

use tracing::Instrument;
use tracing_subscriber::prelude::*;

async fn handler() -> &'static str {
    async {
        // A little work per request, as a real handler does.
        let mut x = 0u64;
        for k in 0..200u64 {
            x = x.wrapping_mul(31).wrapping_add(k);
        }
        std::hint::black_box(x);
        "ok\n"
    }
    .instrument(tracing::info_span!("handle_request"))
    .await
}

/// tower-http's usual stack around `app`, outermost first as
/// `ServiceBuilder` reads, with `innermost` (the doctor's
/// `TaskMonitorLayer`, or `Identity` for the baseline) as its last layer:
/// one `Router::layer` call, as the README tells services with a stack to
/// add it (axum boxes every route again for each call).
fn usual_stack<L>(app: axum::Router, innermost: L) -> axum::Router
where
    L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
{
    use tower::ServiceBuilder;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let header = axum::http::HeaderName::from_static("x-request-id");
    app.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(header.clone(), MakeRequestUuid))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .layer(PropagateRequestIdLayer::new(header))
            .layer(axum::error_handling::HandleErrorLayer::new(
                |_: tower::BoxError| async { axum::http::StatusCode::SERVICE_UNAVAILABLE },
            ))
            .layer(tower::load_shed::LoadShedLayer::new())
            .layer(tower::limit::ConcurrencyLimitLayer::new(1024))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(10),
            ))
            .layer(tower_http::compression::CompressionLayer::new())
            .layer(innermost),
    )
}

fn serve(mode: &str, port_file: &str) {
    let with_doctor = !mode.ends_with("baseline");
    let stack = mode.starts_with("stack");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut app = axum::Router::new().route("/", axum::routing::get(handler));
        let _running = if with_doctor {
            let doctor = tokio_doctor::DoctorBuilder::from_env()
                .unwrap()
                .listen("127.0.0.1:0".parse().unwrap())
                .build()
                .unwrap();
            tracing_subscriber::registry().with(doctor.layer()).init();
            let monitor = tokio_doctor::TaskMonitorLayer::new(&doctor);
            if mode == "stack" {
                // In the service's own stack, as the README says.
                app = usual_stack(app, monitor);
            } else if mode == "routes" || mode == "stack-own-layer" {
                // A `Router::layer` call of its own: for the stack, what
                // the README's advice saves (`bench/http-instructions`).
                app = app.layer(monitor);
            }
            Some(doctor.start().unwrap())
        } else {
            struct Noop;
            impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}
            tracing_subscriber::registry().with(Noop).init();
            None
        };
        if mode == "layer-baseline" {
            // What any tower layer costs behind axum's `Router::layer`,
            // which boxes each route again and clones it per request: the
            // share of `TaskMonitorLayer`'s cost that is axum's, not the
            // doctor's (a server for `bench/http-instructions` only).
            app = app.layer(tower::layer::util::Identity::new());
        }
        if stack && mode != "stack" {
            app = usual_stack(app, tower::layer::util::Identity::new());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        std::fs::write(port_file, listener.local_addr().unwrap().port().to_string()).unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Parses wrk's Requests/sec and the 99% latency (in ms).
fn parse_wrk(out: &str) -> (f64, f64) {
    let rps = out
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    let p99 = out
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|v| {
            let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
            let n: f64 = num.parse().unwrap_or(0.0);
            match unit {
                "us" => n / 1e3,
                "ms" => n,
                "s" => n * 1e3,
                _ => n,
            }
        })
        .unwrap_or(0.0);
    (rps, p99)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(&args[2], &args[3]);
        return;
    }
    let mut rounds = 5;
    let mut seconds = 5;
    let mut warmup = 1;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().map(String::as_str).unwrap_or("");
        match a.as_str() {
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            "--seconds" => seconds = v.parse().expect("--seconds N"),
            "--warmup" => warmup = v.parse().expect("--warmup N (seconds)"),
            _ => panic!("unknown argument {a}; options: --rounds N --seconds N --warmup N"),
        }
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("http-overhead needs wrk on PATH (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let exe = std::env::current_exe().unwrap();
    let modes = ["baseline", "doctor", "routes", "stack-baseline", "stack"];
    let mut results: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); modes.len()];
    for round in 0..rounds {
        for (i, mode) in modes.iter().enumerate() {
            let port_file = std::env::temp_dir()
                .join(format!("tokio-doctor-bench-{}-{mode}", std::process::id()));
            let _ = std::fs::remove_file(&port_file);
            let mut child = Command::new(&exe)
                .args(["--serve", mode, port_file.to_str().unwrap()])
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let mut port = String::new();
            for _ in 0..100 {
                if let Ok(p) = std::fs::read_to_string(&port_file) {
                    port = p;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let url = format!("http://127.0.0.1:{port}/");
            if warmup > 0 {
                let _ = Command::new("wrk")
                    .args(["-t1", "-c64", &format!("-d{warmup}s"), &url])
                    .output();
            }
            let out = Command::new("wrk")
                .args(["-t1", "-c64", &format!("-d{seconds}s"), "--latency", &url])
                .output()
                .unwrap();
            let rss = rss_kib(child.id()) as f64;
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&port_file);
            let (rps, p99) = parse_wrk(&String::from_utf8_lossy(&out.stdout));
            eprintln!(
                "round {}/{rounds} {mode}: {rps:.0} req/s, p99 {p99:.2} ms, RSS {:.1} MiB",
                round + 1,
                rss / 1024.0
            );
            results[i].push((rps, p99, rss));
        }
    }
    let pick = |i: usize, f: fn(&(f64, f64, f64)) -> f64| {
        median(&mut results[i].iter().map(f).collect::<Vec<_>>())
    };
    // Each server against its own baseline.
    let names = [
        ("registry + no-op layer", 0),
        ("registry + tokio-doctor", 0),
        ("registry + tokio-doctor + TaskMonitorLayer", 0),
        ("tower-http stack, registry + no-op layer", 3),
        ("tower-http stack + tokio-doctor + TaskMonitorLayer", 3),
    ];
    println!(
        "\naxum on 1 worker, wrk -t1 -c64 -d{seconds}s after {warmup} s of warm-up, {rounds} interleaved rounds, medians"
    );
    println!(
        "| server | req/s | p99 ms | RSS MiB | req/s ratio | p99 ratio | paired req/s ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (i, (name, base)) in names.iter().enumerate() {
        let (b_rps, b_p99) = (pick(*base, |r| r.0), pick(*base, |r| r.1));
        let (rps, p99, rss) = (pick(i, |r| r.0), pick(i, |r| r.1), pick(i, |r| r.2));
        // Rounds run back to back, so pairing them cancels slow drifts of a
        // shared machine.
        let mut paired: Vec<f64> = results[i]
            .iter()
            .zip(&results[*base])
            .map(|(d, b)| d.0 / b.0)
            .collect();
        println!(
            "| {name} | {rps:.0} | {p99:.2} | {:.1} | {:.3} | {:.3} | {:.3} |",
            rss / 1024.0,
            rps / b_rps,
            p99 / b_p99,
            median(&mut paired)
        );
    }
}
