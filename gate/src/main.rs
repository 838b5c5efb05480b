//! One operation `ITERS` times under tokio-doctor's layer or a no-op layer:
//! the program `.ci/cost-gate` runs under `valgrind --tool=callgrind`.
//!
//! ```text
//! cost-gate OP LAYER ITERS
//!   OP     poll | span | debug_span | outbound_span | timeout_span | held | deadline
//!          | request | span_beside_fmt | event_beside_fmt
//!   LAYER  noop | doctor | doctor-last
//! ```
//!
//! The `_beside_fmt` operations run in the README's subscriber: the layer
//! directly on the registry and a `fmt` layer above it with its own filter
//! at `warn`, which wants none of the spans and every WARN event;
//! `doctor-last` puts the doctor's layer above the `fmt` layer instead.
//! `event_beside_fmt` (a WARN event the `fmt` layer writes, to nowhere) and
//! `doctor-last` are measured by hand (docs/overhead.md): the gate counts
//! the other operations under `noop` and `doctor`.
//!
//! Only [`measured`] is counted (`--toggle-collect`), and the gate runs
//! each pair at two iteration counts and takes the difference, so setup,
//! the first-use registration of callsites and the runtime's start are not
//! in the per-operation figure.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// The registry with a layer that does nothing: what every operation costs
/// without the doctor.
struct NoopLayer;
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoopLayer {}

/// Wakes itself `remaining` times, then completes: one task poll per wake,
/// no I/O, so the span enter and exit around each poll is the difference.
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

/// The handler behind `TaskMonitorLayer`: ready at once.
#[derive(Clone)]
struct Hello;

impl tower_service::Service<http::Request<()>> for Hello {
    type Response = http::Response<()>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(())))
    }
}

async fn call<S>(svc: &mut S, iters: u32)
where
    S: tower_service::Service<http::Request<()>, Response = http::Response<()>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..iters {
        let req = http::Request::get("/users/7").body(()).expect("request");
        let resp = svc.call(req).await.expect("response");
        std::hint::black_box(resp);
    }
}

/// The operations, each inside an entered parent span as in a handler.
async fn run(op: &str, iters: u32, doctor: Option<&tokio_doctor::Doctor>) {
    match op {
        "poll" => {
            // A spawned task, so each wake is a real task poll by the
            // runtime (block_on itself is not a worker poll).
            tokio::spawn(SelfWaking { remaining: iters }.instrument(tracing::info_span!("task")))
                .await
                .expect("task");
        }
        "span" => {
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::info_span!("work")));
            }
        }
        "debug_span" => {
            // A library's DEBUG span that no layer wants (tower-http's
            // per-request span under an INFO filter): it should cost next
            // to nothing.
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::debug_span!("request")));
            }
        }
        "outbound_span" => {
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::info_span!(
                    "call",
                    otel.kind = "client"
                )));
            }
        }
        "event_beside_fmt" => {
            // An event the service logs: the doctor reads none, but its
            // filter's `never` beside the `fmt` layer's `always` makes the
            // callsite's interest `sometimes` (see docs/overhead.md).
            for i in 0..iters {
                tracing::warn!(i, "request done");
            }
        }
        "span_beside_fmt" => {
            // Created, entered once and closed, as a sync span in a handler.
            for _ in 0..iters {
                tracing::info_span!("work").in_scope(|| std::hint::black_box(()));
            }
        }
        "timeout_span" => {
            // A span that declares its deadline in a field: the doctor reads
            // the value, and its children inherit the deadline.
            for _ in 0..iters {
                drop(std::hint::black_box(tracing::info_span!(
                    "fetch",
                    timeout_ms = 250u64
                )));
            }
        }
        "held" => {
            for i in 0..iters {
                drop(std::hint::black_box(tokio_doctor::held("gate.lock", i)));
            }
        }
        "deadline" => {
            for _ in 0..iters {
                let r = tokio_doctor::deadline(Duration::from_secs(1), std::future::ready(1)).await;
                std::hint::black_box(r.ok());
            }
        }
        "request" => match doctor {
            Some(doctor) => {
                use tower_layer::Layer;
                let layer = tokio_doctor::TaskMonitorLayer::new(doctor)
                    .route_fn(|_| Some("/users/{id}".into()));
                call(&mut layer.layer(Hello), iters).await
            }
            None => call(&mut Hello, iters).await,
        },
        other => panic!("unknown operation {other:?}"),
    }
}

/// The counted part: `--toggle-collect` names this function.
#[inline(never)]
fn measured(
    rt: &tokio::runtime::Runtime,
    op: &str,
    iters: u32,
    doctor: Option<&tokio_doctor::Doctor>,
) {
    rt.block_on(run(op, iters, doctor).instrument(tracing::info_span!("parent")));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, op, layer, iters] = &args[..] else {
        eprintln!("usage: cost-gate OP noop|doctor ITERS");
        std::process::exit(2);
    };
    let iters: u32 = iters.parse().expect("ITERS: a number");
    let doctor = match layer.as_str() {
        "noop" => None,
        "doctor" | "doctor-last" => Some(
            tokio_doctor::Doctor::builder()
                .no_endpoint()
                .build()
                .expect("valid config"),
        ),
        other => panic!("unknown layer {other:?}"),
    };
    let registry = tracing_subscriber::registry;
    // The other operations' subscriber has no other layer at all (an
    // `Option` of one would add its own checks to every callback).
    let dispatch = match (&doctor, layer.as_str(), op.ends_with("_beside_fmt")) {
        (None, _, false) => tracing::Dispatch::new(registry().with(NoopLayer)),
        (Some(d), _, false) => tracing::Dispatch::new(registry().with(d.layer())),
        (None, _, true) => tracing::Dispatch::new(registry().with(NoopLayer).with(fmt())),
        (Some(d), "doctor-last", true) => {
            tracing::Dispatch::new(registry().with(fmt()).with(d.layer()))
        }
        (Some(d), _, true) => tracing::Dispatch::new(registry().with(d.layer()).with(fmt())),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::dispatcher::with_default(&dispatch, || {
        // One of each first, uncounted: callsite registration, the
        // thread's state and the sites are set up before counting starts.
        warm(&rt, op, doctor.as_ref());
        measured(&rt, op, iters, doctor.as_ref());
    });
}

/// The service's own log layer with its own filter (`warn`, as a service
/// run without `RUST_LOG` set has it), writing nowhere.
fn fmt<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(tracing_subscriber::EnvFilter::new("warn"))
}

/// One iteration, outside the counted function.
#[inline(never)]
fn warm(rt: &tokio::runtime::Runtime, op: &str, doctor: Option<&tokio_doctor::Doctor>) {
    rt.block_on(run(op, 1, doctor).instrument(tracing::info_span!("parent")));
}
