//! Cost per poll of an instrumented future, against baselines, in one run.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin poll-overhead
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --release -p tokio-doctor-bench --bin poll-overhead
//! ```
//!
//! Each task polls a future that wakes itself 1,000 times (no `yield_now`,
//! which adds an epoll per poll), inside one span. Configurations, run
//! interleaved for several rounds and reported as medians:
//!
//! - `no subscriber`: spans disabled;
//! - `registry + no-op layer`: **the baseline** (a registry with no layer at
//!   all never frees closed spans, tracing#900);
//! - `registry + naive timing layer`: `extensions_mut` and two
//!   `Instant::now` per poll, for reference;
//! - `registry + tokio-doctor`: the doctor's layer with its detectors on;
//! - `registry + console-subscriber`;
//! - `tokio-metrics TaskMonitor`: the future wrapped in a monitor, no
//!   subscriber.
//!
//! on a current-thread runtime and on multi-thread runtimes with 1 and 2
//! workers (each worker polls its own task). Wall ns per poll and process
//! CPU ns per poll; the added cost is over the baseline.
//! Options: `--rounds N` (default 5), `--polls N` per worker per round
//! (default 2,000,000), `--workers 1,2,16`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// Wakes itself `remaining` times, then completes.
struct SelfWaking {
    remaining: u32,
}

impl Future for SelfWaking {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.remaining == 0 {
            return Poll::Ready(());
        }
        self.remaining -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

const POLLS_PER_FUTURE: u32 = 1_000;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Config {
    NoSubscriber,
    NoopLayer,
    NaiveLayer,
    Doctor,
    Console,
    TokioMetrics,
}

impl Config {
    const ALL: [Config; 6] = [
        Config::NoSubscriber,
        Config::NoopLayer,
        Config::NaiveLayer,
        Config::Doctor,
        Config::Console,
        Config::TokioMetrics,
    ];
    /// console-subscriber refuses to start without tokio_unstable.
    fn available(self) -> bool {
        self != Config::Console || cfg!(tokio_unstable)
    }
    fn name(self) -> &'static str {
        match self {
            Config::NoSubscriber => "no subscriber",
            Config::NoopLayer => "registry + no-op layer (baseline)",
            Config::NaiveLayer => "registry + naive timing layer",
            Config::Doctor => "registry + tokio-doctor",
            Config::Console => "registry + console-subscriber",
            Config::TokioMetrics => "tokio-metrics TaskMonitor",
        }
    }
}

struct NoopLayer;
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoopLayer {}

/// The timing layer people write first: per-span state in extensions.
struct NaiveLayer;
struct Timing {
    entered: Option<Instant>,
    busy: Duration,
}
impl<S> tracing_subscriber::Layer<S> for NaiveLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(s) = ctx.span(id) {
            s.extensions_mut().insert(Timing {
                entered: None,
                busy: Duration::ZERO,
            });
        }
    }
    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(s) = ctx.span(id) {
            if let Some(t) = s.extensions_mut().get_mut::<Timing>() {
                t.entered = Some(Instant::now());
            }
        }
    }
    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(s) = ctx.span(id) {
            if let Some(t) = s.extensions_mut().get_mut::<Timing>() {
                if let Some(e) = t.entered.take() {
                    t.busy += e.elapsed();
                }
            }
        }
    }
}

fn dispatch(config: Config, doctor: &tokio_doctor::Doctor) -> Option<tracing::Dispatch> {
    Some(match config {
        Config::NoSubscriber | Config::TokioMetrics => return None,
        Config::NoopLayer => tracing::Dispatch::new(tracing_subscriber::registry().with(NoopLayer)),
        Config::NaiveLayer => {
            tracing::Dispatch::new(tracing_subscriber::registry().with(NaiveLayer))
        }
        Config::Doctor => {
            tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()))
        }
        Config::Console => {
            let (layer, server) = console_subscriber::ConsoleLayer::builder()
                .server_addr(([127, 0, 0, 1], 0))
                .build();
            // The aggregator runs off the measured runtime, as in a real service.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let _ = server.serve().await;
                });
            });
            tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
        }
    })
}

fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `futures` self-waking futures on each of `workers` tasks; returns
/// (wall ns, cpu ns) per poll.
fn measure(
    config: Config,
    workers: Option<usize>,
    polls: u64,
    doctor: &tokio_doctor::Doctor,
) -> (f64, f64) {
    let dispatch = dispatch(config, doctor);
    let mut builder = match workers {
        None => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
    };
    if let Some(d) = dispatch.clone() {
        builder.on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&d)));
    }
    let rt = builder.enable_all().build().unwrap();
    let tasks = workers.unwrap_or(1);
    let futures_per_task = (polls / POLLS_PER_FUTURE as u64).max(1);
    let run = || {
        rt.block_on(async {
            let monitor = tokio_metrics::TaskMonitor::new();
            let mut handles = Vec::new();
            for _ in 0..tasks {
                let monitor = monitor.clone();
                handles.push(tokio::spawn(async move {
                    for _ in 0..futures_per_task {
                        let fut = SelfWaking {
                            remaining: POLLS_PER_FUTURE,
                        };
                        if config == Config::TokioMetrics {
                            tokio_metrics::TaskMonitor::instrument(&monitor, fut).await;
                        } else {
                            fut.instrument(tracing::info_span!("bench_task")).await;
                        }
                    }
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
        })
    };
    let go = || {
        let (t0, c0) = (Instant::now(), cpu_ns());
        run();
        (t0.elapsed().as_nanos() as f64, (cpu_ns() - c0) as f64)
    };
    let (wall, cpu) = match &dispatch {
        Some(d) => tracing::dispatcher::with_default(d, go),
        None => go(),
    };
    let total = (tasks as u64 * futures_per_task * POLLS_PER_FUTURE as u64) as f64;
    // CPU per poll per worker: the cost each poll adds where it runs.
    (wall / total * tasks as f64, cpu / total)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut rounds = 5;
    let mut polls: u64 = 2_000_000;
    let mut workers: Vec<usize> = vec![1, 2];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            "--polls" => polls = v.parse().expect("--polls N"),
            "--workers" => {
                workers = v
                    .split(',')
                    .map(|w| w.parse().expect("--workers 1,2,16"))
                    .collect()
            }
            _ => panic!("unknown argument {a}; options: --rounds N --polls N --workers 1,2"),
        }
    }
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .unwrap();
    println!(
        "tokio-doctor poll overhead, build: {}, {} rounds x {} polls per worker, medians",
        if cfg!(tokio_unstable) {
            "tokio_unstable"
        } else {
            "stable"
        },
        rounds,
        polls
    );
    let mut runtimes: Vec<(String, Option<usize>)> = vec![("current-thread".into(), None)];
    runtimes.extend(workers.iter().map(|w| {
        (
            format!("multi-thread, {w} worker{}", if *w == 1 { "" } else { "s" }),
            Some(*w),
        )
    }));
    for (rt_name, w) in runtimes {
        let mut wall: Vec<Vec<f64>> = vec![Vec::new(); Config::ALL.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); Config::ALL.len()];
        for _ in 0..rounds {
            for (i, c) in Config::ALL.iter().enumerate() {
                if !c.available() {
                    continue;
                }
                let (wn, cn) = measure(*c, w, polls, &doctor);
                wall[i].push(wn);
                cpu[i].push(cn);
            }
        }
        let wall: Vec<f64> = wall.iter_mut().map(|v| median(v)).collect();
        let cpu: Vec<f64> = cpu.iter_mut().map(|v| median(v)).collect();
        let base = 1; // NoopLayer
        println!("\n{rt_name}");
        println!(
            "| configuration | wall ns/poll | added over baseline | CPU ns/poll | added CPU |"
        );
        println!("|---|---:|---:|---:|---:|");
        for (i, c) in Config::ALL.iter().enumerate() {
            if !c.available() {
                println!("| {} | n/a: needs --cfg tokio_unstable | | | |", c.name());
                continue;
            }
            println!(
                "| {} | {:.1} | {:+.1} | {:.1} | {:+.1} |",
                c.name(),
                wall[i],
                wall[i] - wall[base],
                cpu[i],
                cpu[i] - cpu[base]
            );
        }
    }
}
