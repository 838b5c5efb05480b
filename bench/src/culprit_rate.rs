//! How many stalls get their culprit named at a `file:line`: the share of
//! stalls for which the doctor's stack captures name the service's own
//! function, in each way a stall can be seen.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin culprit-rate
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --release -p tokio-doctor-bench --bin culprit-rate
//! ```
//!
//! A multi-thread runtime (2 workers) with unrelated load (short polls in
//! spans) runs `--stalls N` stalls (default 20) of `--stall-ms` each
//! (default 20: twice the default threshold), 150 ms apart, in a function
//! of this file, `hash_password`, that the stalling code calls:
//!
//! - `span`: the stalling task runs in a span of its own (the poll is
//!   marked; the watchdog captures it while it runs);
//! - `no span`: the stalling task has no span (stable tokio: seen only
//!   while the lag probe is late, see `monitor::stack::unmarked`; with
//!   `tokio_unstable`, tokio's task spans mark it);
//! - `no span, both workers`: two such tasks at once, so the runtime lags
//!   (the two meet before they stall, so both stalls run side by side; a
//!   pair that did not meet, run on one worker or started over 2 ms apart,
//!   is spawned again, and how many were is printed);
//! - `tokio_doctor::spawn`: no span, the task spawned by the doctor's
//!   `spawn`, which marks its polls;
//! - `monitor_job`: no span, the task wrapped in `Doctor::monitor_job`,
//!   which marks its polls too;
//! - `a route behind TaskMonitorLayer`: no span, an axum handler on
//!   loopback that stalls, behind the doctor's `TaskMonitorLayer` (whose
//!   future marks the route's polls), one request at a time;
//! - `poll hooks` (`tokio_unstable` only): no span, no doctor layer, tokio's
//!   poll hooks installed with `Doctor::install_poll_hooks`.
//!
//! A stall counts as named when `tokio_doctor_blocking_frames_total` counts
//! it with `function` ending in `hash_password` and a `frame_location` in
//! this file. The release profile keeps line tables (`debug = 1`).

use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// The service's own function: `d` of CPU work without yielding; with a
/// `meeting`, only once the other task of the pair has met it there (the
/// wait is in this function too, so a sample of it names the same frame),
/// and not at all if it did not.
#[inline(never)]
fn hash_password(d: Duration, meeting: Option<&Meeting>) -> Option<u64> {
    use std::sync::atomic::Ordering::{AcqRel, Acquire};
    if let Some(m) = meeting.map(|m| &m.state) {
        // 0: empty; 1: the first waits; 2: both go; 3: the first gave up.
        if m.compare_exchange(0, 1, AcqRel, Acquire).is_err() {
            m.compare_exchange(1, 2, AcqRel, Acquire).ok()?;
        } else {
            let start = Instant::now();
            while m.load(Acquire) != 2 && start.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            // Gave up, unless the second arrived just now.
            if m.compare_exchange(1, 3, AcqRel, Acquire).is_ok() {
                return None;
            }
        }
    }
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        for k in 0..1_000u64 {
            x = x.rotate_left(7) ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    Some(std::hint::black_box(x))
}

#[inline(never)]
fn login(d: Duration) -> u64 {
    hash_password(d, None).unwrap_or(0) ^ 1
}

/// [`login`] for one task of a pair: `None` when the pair did not meet.
#[inline(never)]
fn login_met(d: Duration, meeting: &Meeting) -> Option<u64> {
    hash_password(d, Some(meeting)).map(|x| x ^ 1)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Span,
    NoSpan,
    NoSpanBoth,
    DoctorSpawn,
    MonitorJob,
    Route,
    #[cfg(tokio_unstable)]
    PollHooks,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Span => "span",
            Mode::NoSpan => "no span",
            Mode::NoSpanBoth => "no span, both workers",
            Mode::DoctorSpawn => "no span, tokio_doctor::spawn",
            Mode::MonitorJob => "no span, monitor_job",
            Mode::Route => "no span, a route behind TaskMonitorLayer",
            #[cfg(tokio_unstable)]
            Mode::PollHooks => "poll hooks, no layer",
        }
    }
}

/// Stalls named with the culprit at a line of this file.
fn named(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("tokio_doctor_blocking_frames_total{"))
        .filter(|l| {
            l.contains("hash_password\",frame_location=\"")
                && l.contains(&format!("frame_location=\"{}:", file!()))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
        + 0.0
}

fn run(mode: Mode, stalls: usize, stall: Duration) -> (f64, f64) {
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .unwrap();
    let layer = {
        #[cfg(tokio_unstable)]
        {
            mode != Mode::PollHooks
        }
        #[cfg(not(tokio_unstable))]
        {
            true
        }
    };
    let dispatch = if layer {
        tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()))
    } else {
        tracing::Dispatch::none()
    };
    let for_threads = dispatch.clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        });
    #[cfg(tokio_unstable)]
    if mode == Mode::PollHooks {
        doctor.install_poll_hooks(&mut builder);
    }
    let rt = builder.build().unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for _ in 0..4 {
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    async { hash_chunk() }
                        .instrument(tracing::info_span!("unrelated"))
                        .await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
        let route = if mode == Mode::Route {
            Some(serve_login(&doctor, stall).await)
        } else {
            None
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut expected = 0.0;
        let mut respawned = 0;
        for _ in 0..stalls {
            match mode {
                Mode::Span => {
                    tokio::spawn(
                        async move { login(stall) }.instrument(tracing::info_span!("handle_login")),
                    )
                    .await
                    .unwrap();
                    expected += 1.0;
                }
                Mode::NoSpanBoth => {
                    // The runtime lags only while both workers are stuck,
                    // and tokio may run both tasks on one worker, one after
                    // the other: the two meet first (see `Meeting`), and a
                    // pair that did not meet is spawned again.
                    for _ in 0..10 {
                        let meeting = std::sync::Arc::new(Meeting::default());
                        let stuck = move |m: std::sync::Arc<Meeting>| login_met(stall, &m);
                        let a = tokio::spawn({
                            let m = meeting.clone();
                            async move { stuck(m) }
                        });
                        let b = tokio::spawn(async move { stuck(meeting) });
                        let (a, b) = (a.await.unwrap(), b.await.unwrap());
                        if a.is_some() && b.is_some() {
                            expected += 2.0;
                            break;
                        }
                        respawned += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Mode::Route => {
                    request_login(route.expect("the route's server")).await;
                    expected += 1.0;
                }
                Mode::MonitorJob => {
                    tokio::spawn(doctor.monitor_job("login-job", async move { login(stall) }))
                        .await
                        .unwrap();
                    expected += 1.0;
                }
                Mode::DoctorSpawn => {
                    tokio_doctor::spawn(async move { login(stall) })
                        .await
                        .unwrap();
                    expected += 1.0;
                }
                _ => {
                    tokio::spawn(async move { login(stall) }).await.unwrap();
                    expected += 1.0;
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if mode == Mode::NoSpanBoth {
            eprintln!(
                "{}: {respawned} pairs that did not meet (one worker, or over 2 ms apart) were spawned again",
                mode.name()
            );
        }
        (named(&doctor.render_prometheus()), expected)
    })
}

/// Where the two tasks of a pair meet before they stall (in
/// [`hash_password`], each spinning on its worker): both go only when the
/// second arrives while the first waits, which two tasks on one worker
/// cannot do (the first gives up after 2 ms, well under the threshold, and
/// the second then finds it gone).
#[derive(Default)]
struct Meeting {
    state: std::sync::atomic::AtomicU8,
}

/// An axum app on loopback whose `/login` route, behind
/// `TaskMonitorLayer` and in no span, calls [`login`]: its address.
async fn serve_login(doctor: &tokio_doctor::Doctor, stall: Duration) -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route(
            "/login",
            axum::routing::get(move || async move { login(stall).to_string() }),
        )
        .layer(tokio_doctor::TaskMonitorLayer::new(doctor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// One request to the `/login` route, read to its end.
async fn request_login(addr: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /login HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"), "the route answers");
}

/// A short burst of work, well within the threshold.
fn hash_chunk() -> u64 {
    let mut x = 0u64;
    for k in 0..5_000u64 {
        x = x.rotate_left(5) ^ k;
    }
    std::hint::black_box(x)
}

fn main() {
    let mut stalls = 20;
    let mut stall_ms = 20;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{a} needs a number"))
        };
        match a.as_str() {
            "--stalls" => stalls = value(),
            "--stall-ms" => stall_ms = value() as u64,
            "--mode" => only = args.next(),
            other => panic!(
                "unknown argument {other}; options: --stalls N --stall-ms N --mode NAME (a row's name, e.g. \"no span\")"
            ),
        }
    }
    let stall = Duration::from_millis(stall_ms);
    let modes = [
        Mode::Span,
        Mode::NoSpan,
        Mode::NoSpanBoth,
        Mode::DoctorSpawn,
        Mode::MonitorJob,
        Mode::Route,
        #[cfg(tokio_unstable)]
        Mode::PollHooks,
    ];
    println!(
        "| mode ({} build, stalls of {stall_ms} ms) | stalls | named at file:line | share |",
        if cfg!(tokio_unstable) {
            "tokio_unstable"
        } else {
            "stable"
        }
    );
    println!("|---|---:|---:|---:|");
    for mode in modes {
        if only.as_ref().is_some_and(|m| m != mode.name()) {
            continue;
        }
        let (got, expected) = run(mode, stalls, stall);
        println!(
            "| {} | {expected:.0} | {got:.0} | {:.0}% |",
            mode.name(),
            100.0 * got / expected
        );
    }
}
