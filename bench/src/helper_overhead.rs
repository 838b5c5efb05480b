//! Cost per use of the span-level machinery: a span's node (made on
//! creation, freed on close), `held()` and `deadline()`, against the same
//! operation under a registry with a no-op layer, in one run.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin helper-overhead
//! ```
//!
//! A third column runs the doctor with `span_nodes(false)`.
//!
//! Each operation runs `--iters N` times (default 200,000) inside an
//! entered parent span on a current-thread runtime, for `--rounds N`
//! interleaved rounds (default 7); the table has the median ns per
//! operation and the doctor's cost over the baseline.

use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

#[derive(Clone, Copy, PartialEq)]
enum Sub {
    Noop,
    Doctor,
    /// tokio-doctor with `span_nodes(false)`.
    DoctorNoNodes,
}

struct NoopLayer;
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoopLayer {}

fn dispatch(sub: Sub) -> (tracing::Dispatch, Option<tokio_doctor::Doctor>) {
    match sub {
        Sub::Noop => (
            tracing::Dispatch::new(tracing_subscriber::registry().with(NoopLayer)),
            None,
        ),
        Sub::Doctor | Sub::DoctorNoNodes => {
            let doctor = tokio_doctor::Doctor::builder()
                .no_endpoint()
                .span_nodes(sub == Sub::Doctor)
                .build()
                .expect("valid");
            (
                tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer())),
                Some(doctor),
            )
        }
    }
}

/// Wakes itself `remaining` times, then completes: one poll per wake, no
/// I/O, so the span enter/exit around each poll is what is measured.
struct SelfWaking {
    remaining: u32,
}

impl std::future::Future for SelfWaking {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.remaining == 0 {
            return std::task::Poll::Ready(());
        }
        self.remaining -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

const OPS: [&str; 7] = [
    "span create+close (no fields)",
    "outbound span create+close (otel.kind=client)",
    "span with timeout_ms field",
    "held(name, guard) + drop",
    "tokio::time::timeout(ready)",
    "tokio_doctor::deadline(ready)",
    "poll of a task in a span (enter+exit)",
];

async fn run_op(op: usize, iters: u32) -> Duration {
    let start = Instant::now();
    match op {
        0 => {
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::info_span!("work")));
            }
        }
        1 => {
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::info_span!(
                    "call",
                    otel.kind = "client"
                )));
            }
        }
        2 => {
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::info_span!(
                    "budget",
                    timeout_ms = 250u64
                )));
            }
        }
        3 => {
            for i in 0..iters {
                drop(std::hint::black_box(tokio_doctor::held("bench.lock", i)));
            }
        }
        4 => {
            for _ in 0..iters {
                let r = tokio::time::timeout(Duration::from_secs(1), std::future::ready(1)).await;
                std::hint::black_box(r.ok());
            }
        }
        5 => {
            for _ in 0..iters {
                let r = tokio_doctor::deadline(Duration::from_secs(1), std::future::ready(1)).await;
                std::hint::black_box(r.ok());
            }
        }
        _ => {
            // A spawned task, so each wake is a real task poll by the
            // runtime (the enclosing block_on is not a worker poll).
            tokio::spawn(SelfWaking { remaining: iters }.instrument(tracing::info_span!("task")))
                .await
                .expect("task");
        }
    }
    start.elapsed()
}

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `--profile OP SUB`: runs only operation OP under SUB (0 no-op layer, 1
/// tokio-doctor) once, for a profiler or `valgrind --tool=callgrind`.
fn profile(iters: u32) -> bool {
    let op = arg("--profile", u32::MAX);
    if op == u32::MAX {
        return false;
    }
    let args: Vec<String> = std::env::args().collect();
    let sub = args.last().map(String::as_str) == Some("doctor");
    let (d, _doctor) = dispatch(if sub { Sub::Doctor } else { Sub::Noop });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::dispatcher::with_default(&d, || {
        rt.block_on(run_op(op as usize, iters).instrument(tracing::info_span!("parent")))
    });
    true
}

fn main() {
    let iters = arg("--iters", 200_000);
    let rounds = arg("--rounds", 7);
    if profile(iters) {
        return;
    }
    let mut ns: Vec<[Vec<f64>; 3]> = (0..OPS.len()).map(|_| [vec![], vec![], vec![]]).collect();
    for round in 0..rounds {
        for (si, sub) in [Sub::Noop, Sub::Doctor, Sub::DoctorNoNodes]
            .into_iter()
            .enumerate()
        {
            let (d, _doctor) = dispatch(sub);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            tracing::dispatcher::with_default(&d, || {
                rt.block_on(
                    async {
                        for (op, out) in ns.iter_mut().enumerate() {
                            let t = run_op(op, iters).await;
                            out[si].push(t.as_nanos() as f64 / iters as f64);
                        }
                    }
                    .instrument(tracing::info_span!("parent")),
                )
            });
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    println!(
        "| operation ({iters} per round, {rounds} rounds, medians) | no-op layer ns | tokio-doctor ns | added ns | with span_nodes(false) | added ns |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (op, [noop, doc, bare]) in ns.into_iter().enumerate() {
        let (a, b, c) = (median(noop), median(doc), median(bare));
        println!(
            "| {} | {a:.0} | {b:.0} | {:+.0} | {c:.0} | {:+.0} |",
            OPS[op],
            b - a,
            c - a
        );
    }
}
