//! The tokio-doctor demo: a small shop (an axum service) whose routes each
//! carry one async anti-pattern a real team writes, driven by its own
//! customers on loopback, diagnosed live.
//!
//! ```text
//! cargo run --release --example demo                # 30 s, then the final report
//! cargo run --release --example demo -- --fixed     # every route fixed: no findings
//! cargo run --release --example demo -- --serve     # keep serving (Ctrl-C stops)
//! ```
//!
//! | route       | the anti-pattern (examples/demo/shop.rs)               | finding kinds |
//! |-------------|--------------------------------------------------------|---------------|
//! | `/login`    | password hash on the runtime worker                    | `blocking_poll` (span and route) |
//! | `/cart`     | twelve independent price lookups awaited in a loop     | `serial_awaits` |
//! | `/checkout` | confirmation mail sent inside the order's transaction  | `held_across_await`, `slow_work_while_held` |
//! | `/feed`     | `join_all` over 1,100 calls, no deadline, some hang    | `unbounded_fanout`, `missing_deadline` |
//! | `/stock`    | no limit in front of an inventory service that serves 16 | `concurrency_advice` |
//! | `/events`   | an unbounded queue, its consumer slower than producers | `queue_growth` |
//! | `/quote`    | a task per cart line for a multiplication              | `trivial_async` |
//! | `/import`   | a task per SKU, 15,000 alive at once                   | `excess_tasks` (and `unbounded_fanout`) |
//! | `/shipping` | a deadline around a spawned call: stops the wait only  | `deadline_overrun` |
//! | `/rates`    | a new HTTP client per call (`--features connections`)  | `connection_churn` |
//!
//! The doctor serves <http://127.0.0.1:9464/metrics> and
//! <http://127.0.0.1:9464/doctor> (`TOKIO_DOCTOR_LISTEN` moves it; when the
//! default port is taken the demo picks a free one and says so).
//!
//! Options: `--duration SECS` (default 30), `--serve` (until Ctrl-C, at
//! most an hour), `--fixed`, `--connections N` (customers of `/login`,
//! default 2: more oversubscribes the workers on purpose).
#[path = "../common/mod.rs"]
mod common;
mod load;
#[cfg(feature = "connections")]
mod rates;
mod shop;
mod view;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;

struct Options {
    duration: Duration,
    serve: bool,
    fixed: bool,
    connections: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(30),
        serve: false,
        fixed: false,
        connections: 2,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--serve" => o.serve = true,
            "--fixed" => o.fixed = true,
            "--duration" => {
                let v = args.next().ok_or("--duration needs a number of seconds")?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("--duration: not a number: {v}"))?;
                if !(1..=3600).contains(&secs) {
                    return Err("--duration must be 1..=3600".into());
                }
                o.duration = Duration::from_secs(secs);
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
                println!("usage: demo [--duration SECS] [--serve] [--fixed] [--connections N]");
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

/// The doctor, with windows short enough for a 30 s run to show every
/// finding, and two margins wide enough that a host starved of CPU (a
/// 2-core CI runner compiling beside it) cannot make the fixed shop look
/// bad: a transaction whose 2 ms statements wait 80 ms for a CPU is not
/// idle-held (150 ms, under the 300 ms mail of the bad shape), and a call
/// cancelled at its deadline but dropped late is not an overrun (200 ms,
/// under the bad shape's 800 ms). Everything else at its defaults.
fn doctor(listen: SocketAddr) -> Result<tokio_doctor::Doctor, tokio_doctor::Error> {
    tokio_doctor::Doctor::builder()
        .listen(listen)
        .held_idle_threshold(Duration::from_millis(150))
        .deadline_grace(Duration::from_millis(200))
        .sample_interval(Duration::from_millis(250))
        .concurrency_window(Duration::from_secs(1))
        .task_window(Duration::from_secs(2))
        .queue_window(Duration::from_secs(5))
        .churn_window(Duration::from_secs(10))
        .hang_limit(Duration::from_secs(2))
        .build()
}

/// Starts the doctor on `TOKIO_DOCTOR_LISTEN`, or on the default port, or,
/// when that is taken (another demo), on a free one.
fn start_doctor() -> Result<(tokio_doctor::Doctor, tokio_doctor::Running), String> {
    let from_env = std::env::var("TOKIO_DOCTOR_LISTEN").ok();
    let listen: SocketAddr = match &from_env {
        Some(v) => v
            .parse()
            .map_err(|_| format!("TOKIO_DOCTOR_LISTEN: not an address: {v}"))?,
        None => tokio_doctor::DEFAULT_LISTEN
            .parse()
            .map_err(|_| "the default address".to_string())?,
    };
    let d = doctor(listen).map_err(|e| e.to_string())?;
    match d.start() {
        Ok(r) => Ok((d, r)),
        Err(tokio_doctor::Error::Bind { .. }) if from_env.is_none() => {
            let d =
                doctor("127.0.0.1:0".parse().expect("an address")).map_err(|e| e.to_string())?;
            let r = d.start().map_err(|e| e.to_string())?;
            println!("(port {listen} is taken: the doctor picked another)");
            Ok((d, r))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn main() {
    let opts = options().unwrap_or_else(|e| {
        eprintln!("demo: {e}");
        std::process::exit(2)
    });
    // Two workers, as a small service has.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the shop's runtime");
    rt.block_on(run(opts));
}

async fn run(opts: Options) {
    let (doctor, running) = start_doctor().unwrap_or_else(|e| {
        eprintln!("demo: {e}");
        std::process::exit(1)
    });
    // The fmt layer shows warnings; the doctor's own stall warnings would
    // flood the terminal here, and the view below shows the same thing.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,tokio_doctor=error"));
    tracing_subscriber::registry()
        .with(doctor.layer())
        .with(tracing_subscriber::fmt::layer().with_filter(filter))
        .init();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the shop");
    let service_addr = listener.local_addr().expect("local address");
    let paths = load::paths();
    // Per-route executor health, no span needed: each route's requests run
    // under a task monitor (with the `axum` feature the route comes from
    // axum's matched path; here it is named by hand).
    let known = paths.clone();
    let routes = tokio_doctor::TaskMonitorLayer::new(&doctor).route_fn(move |r| {
        let p = r.uri.path();
        known.iter().find(|k| **k == p).map(|k| (*k).into())
    });
    let app = shop::router(opts.fixed, service_addr).layer(routes);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let doctor_addr = running
        .local_addr()
        .map_or_else(|| "(endpoint off)".into(), |a| a.to_string());
    let header = format!(
        "tokio-doctor demo: a shop on http://{service_addr} ({}), {}\n\
         doctor: http://{doctor_addr}/doctor and /metrics{}",
        if opts.fixed {
            "every route fixed"
        } else {
            "each route with one anti-pattern"
        },
        if opts.serve {
            "until Ctrl-C".to_string()
        } else {
            format!("for {} s", opts.duration.as_secs())
        },
        if cfg!(feature = "connections") {
            ""
        } else {
            "\n(connection_churn, a client per call: run with --features connections)"
        }
    );
    println!("{header}");

    let stop = Arc::new(AtomicBool::new(false));
    let counts: load::Counts = Arc::new(paths.iter().map(|_| AtomicU64::new(0)).collect());
    let customers = load::start(service_addr, opts.connections, stop.clone(), counts.clone());

    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    // A terminal redraws in place every 2 s; a log gets a block every 5 s.
    let mut ticker = tokio::time::interval(Duration::from_secs(if tty { 2 } else { 5 }));
    ticker.tick().await;
    let end = tokio::time::sleep(opts.duration);
    tokio::pin!(end);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut end => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        view::live(&doctor, started.elapsed(), &paths, &counts, &header, tty);
    }
    stop.store(true, Relaxed);
    // A customer may be waiting on a hung call: give them 5 s, no more.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !customers.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served = counts.iter().map(|c| c.load(Relaxed)).sum();
    view::final_report(&doctor, served, paths.len());
}
