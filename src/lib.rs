//! # tokio-doctor
//!
//! Watches a live tokio service and tells its operators, in Prometheus
//! metrics and a `/doctor` report, which async anti-patterns cost them
//! latency, memory or stability, and where in the code they sit: span name
//! and `file:line`, with the cost in seconds and the fix in one line.
//!
//! Add one layer in `main()`:
//!
//! ```no_run
//! use std::time::Duration;
//! use tracing_subscriber::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let doctor = tokio_doctor::Doctor::builder()
//!         .listen("127.0.0.1:9464".parse()?) // default; serves /metrics and /doctor
//!         .blocking_poll_threshold(Duration::from_millis(10))
//!         .build()?;
//!     tracing_subscriber::registry()
//!         .with(doctor.layer()) // first: directly on the registry
//!         .with(tracing_subscriber::fmt::layer())
//!         .init();
//!     let _running = doctor.start()?; // inside a runtime; drop stops it
//!     // ... serve ...
//!     Ok(())
//! }
//! ```
//!
//! or, with defaults and `TOKIO_DOCTOR_*` variables, `let _doctor =
//! tokio_doctor::init()?;`. In-process, [`Doctor::findings`] returns the
//! findings, [`Doctor::report`] the whole report and
//! [`Doctor::render_prometheus`] the `/metrics` text.
//!
//! The doctor sees code inside spans (`#[tracing::instrument]`,
//! `.instrument(span)`, `span.in_scope(..)`) at INFO and above
//! ([`DoctorBuilder::span_level`] widens it), plus its own helpers' spans
//! and tokio's task spans; never events. What it declines stays as the
//! subscriber's other layers want it (a per-layer filter).
//!
//! ## What it finds
//! Every [`Finding`] has a [`FindingKind`], a call site, a cost in seconds,
//! evidence figures and a fix. **[`FindingKind`] is the reference**: each
//! variant says what is measured and its default threshold (with the
//! builder setter that changes it), what the finding reports, which
//! healthy shapes it is silent on, and how to fix it, with an example
//! program. In short:
//! - [`BlockingPoll`](FindingKind::BlockingPoll): CPU or blocking work on a
//!   runtime worker, including a poll stuck right now;
//! - [`SerialAwaits`](FindingKind::SerialAwaits),
//!   [`UnboundedFanout`](FindingKind::UnboundedFanout),
//!   [`ConcurrencyAdvice`](FindingKind::ConcurrencyAdvice),
//!   [`TrivialAsync`](FindingKind::TrivialAsync) and
//!   [`ExcessTasks`](FindingKind::ExcessTasks): the shape of concurrency,
//!   read from the span tree and the spawn sites of [`spawn`];
//! - [`QueueGrowth`](FindingKind::QueueGrowth): a queue of [`queue`]
//!   growing without back-pressure;
//! - [`ConnectionChurn`](FindingKind::ConnectionChurn): a client per call
//!   (see [`connection`]);
//! - [`HeldAcrossAwait`](FindingKind::HeldAcrossAwait) and
//!   [`SlowWorkWhileHeld`](FindingKind::SlowWorkWhileHeld): a connection,
//!   lock or transaction ([`held`], [`sync`]) held while waiting;
//! - [`MissingDeadline`](FindingKind::MissingDeadline) and
//!   [`DeadlineOverrun`](FindingKind::DeadlineOverrun): outbound calls with
//!   no [`deadline`], or one that does not cancel;
//! - [`Materialization`](FindingKind::Materialization) and
//!   [`AllocationAmplification`](FindingKind::AllocationAmplification):
//!   memory per span, with the `alloc` feature.
//!
//! ## How it works
//! - [`layer`](DoctorLayer): on every span enter/exit it reads a TSC clock
//!   and updates thread-owned state. No allocation, no lock, no syscall.
//! - monitors: an event-loop lag probe, a sampler reading tokio's runtime
//!   metrics through tokio-metrics, and a watchdog thread that sees polls
//!   still running.
//! - detectors turn that state into [`Finding`]s.
//! - [`export`]: one table of metrics ([`export::METRICS`]), rendered as
//!   Prometheus text at `/metrics`, the report as an HTML page at `/doctor`
//!   and as JSON at `/doctor.json`; the `tokio-doctor` binary prints it in
//!   a terminal.
//!
//! ## Stable and `tokio_unstable`
//! Everything works on stable tokio from user spans. Built with
//! `RUSTFLAGS="--cfg tokio_unstable"` and tokio's `tracing` feature, tokio's
//! own task spans (`runtime.spawn`, with the spawn location) also time tasks
//! that carry no user span, every `tokio::spawn` counts as a spawn site,
//! and the extra runtime metrics are exported.
//!
//! ## More
//! The [README](https://github.com/tokio-doctor/tokio-doctor#readme) is the
//! guide; the metric reference, the alert runbook, configuration, overhead
//! and reliability figures are in its
//! [`docs/`](https://github.com/tokio-doctor/tokio-doctor/tree/main/docs).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod alloc;
mod config;
mod detect;
mod doctor;
mod error;
pub mod export;
pub mod fields;
mod finding;
#[doc(hidden)]
pub mod fuzz;
mod helpers;
mod layer;
mod monitor;
mod state;
mod util;

pub use config::defaults;
pub use config::defaults::*;
pub use config::ENV_VARS;
pub use doctor::{Doctor, DoctorBuilder, Running};
pub use error::Error;
pub use finding::{Evidence, Finding, FindingKind, Severity};
#[cfg(feature = "connections")]
#[cfg_attr(docsrs, doc(cfg(feature = "connections")))]
pub use helpers::connection::{ConnectionLayer, OutboundRequestLayer};
pub use helpers::deadline::{deadline, Deadline, DeadlineExt};
pub use helpers::held::{held, Held, HeldGuard, HoldExt};
pub use helpers::route::future::RouteFuture;
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub use helpers::route::layer::{RouteInfo, TaskMonitorLayer, TaskMonitorService};
pub use helpers::spawn::spawn;
pub use helpers::{connection, queue, route, sync};
pub use layer::DoctorLayer;

/// Starts a doctor with defaults and `TOKIO_DOCTOR_*` settings, and installs
/// a global subscriber: a registry with the doctor's layer and a `fmt` layer
/// that honours `RUST_LOG` (default `info`). Keep the returned [`Running`]
/// alive for as long as the service runs.
///
/// # Errors
/// [`Error::NoRuntime`] outside a runtime, [`Error::SubscriberAlreadySet`]
/// if a global subscriber exists, and those of [`Doctor::from_env`] and
/// [`Doctor::start`].
///
/// # Examples
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), tokio_doctor::Error> {
///     let _doctor = tokio_doctor::init()?;
///     // ... serve; metrics at http://127.0.0.1:9464/metrics
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Running, Error> {
    use tracing_subscriber::prelude::*;
    tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let doctor = Doctor::from_env()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The doctor's layer directly on the registry: it reads a new span's
    // parent from its own per-thread stack instead of asking the registry.
    tracing_subscriber::registry()
        .with(doctor.layer())
        .with(tracing_subscriber::fmt::layer().with_filter(filter))
        .try_init()
        .map_err(|_| Error::SubscriberAlreadySet)?;
    doctor.start()
}

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The alert runbook's Rust examples: checked like the README's, so a
/// block marked `rust` there must compile (the before/after sketches are
/// `rust,ignore`, since they call users' own functions).
#[cfg(doctest)]
#[doc = include_str!("../docs/alerts.md")]
pub struct AlertsDoctests;
