//! # tokio-doctor
//!
//! Watches a live tokio service and tells its operators, in Prometheus
//! metrics and a `/doctor` report, which async anti-patterns cost them
//! latency, memory or stability, and where in the code they sit.
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
//!         .with(tracing_subscriber::fmt::layer())
//!         .with(doctor.layer())
//!         .init();
//!     let _running = doctor.start()?; // inside a runtime; drop stops it
//!     // ... serve ...
//!     Ok(())
//! }
//! ```
//!
//! or, with defaults and `TOKIO_DOCTOR_*` variables, `let _doctor =
//! tokio_doctor::init()?;`.
//!
//! ## How it works
//! - [`layer`](DoctorLayer): on every span enter/exit it reads a TSC clock
//!   and updates thread-owned state. No allocation, no lock, no syscall.
//! - monitors: an event-loop lag probe, a sampler reading tokio's runtime
//!   metrics through tokio-metrics, and a watchdog thread that sees polls
//!   still running.
//! - detectors turn that state into [`Finding`]s: kind, call site
//!   (`span`, `file:line`), cost, and the fix: `blocking_poll` (CPU on the
//!   executor), `queue_growth` (see [`queue`]) and `connection_churn` (see
//!   [`connection`]); from the shape of the span tree, `serial_awaits`,
//!   `unbounded_fanout`, the Little's Law `concurrency_advice`, and with
//!   [`spawn`] (or `tokio_unstable` task spans) `trivial_async` and
//!   `excess_tasks` per spawn site.
//! - [`export`]: one table of metrics, rendered as Prometheus text at
//!   `/metrics`, the report as an HTML page at `/doctor` and as JSON at
//!   `/doctor.json`; the `tokio-doctor` binary prints it in a terminal.
//!
//! ## Stable and `tokio_unstable`
//! Everything works on stable tokio from user spans (`#[instrument]`,
//! `.instrument(span)`, `span.in_scope`). Built with
//! `RUSTFLAGS="--cfg tokio_unstable"` and tokio's `tracing` feature, tokio's
//! own task spans (`runtime.spawn`, with the spawn location) also time tasks
//! that carry no user span, and the extra runtime metrics are exported.
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
mod lock;
mod monitor;
mod state;

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
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(filter))
        .with(doctor.layer())
        .try_init()
        .map_err(|_| Error::SubscriberAlreadySet)?;
    doctor.start()
}

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
