//! The doctor: builder, configuration, start and stop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{apply_env, Config};
use crate::export::Report;
use crate::finding::Finding;
use crate::layer::DoctorLayer;
use crate::state::Shared;
use crate::Error;

/// Configures a [`Doctor`]. Setters take `self`; [`build`](Self::build)
/// validates everything at once and says what to change.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let doctor = tokio_doctor::Doctor::builder()
///     .listen("127.0.0.1:0".parse().unwrap())
///     .blocking_poll_threshold(Duration::from_millis(20))
///     .build()?;
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct DoctorBuilder {
    pub(crate) config: Config,
}

impl DoctorBuilder {
    /// Address of the `/metrics` and `/doctor` endpoint. Default
    /// `127.0.0.1:9464` (loopback only); listening on other interfaces must
    /// be asked for explicitly, here.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = Some(addr);
        self
    }

    /// Serve no endpoint: read the doctor in-process with
    /// [`Doctor::render_prometheus`] and [`Doctor::findings`], or push into
    /// the service's recorder with [`use_global_recorder`](Self::use_global_recorder).
    pub fn no_endpoint(mut self) -> Self {
        self.config.listen = None;
        self
    }

    /// Answer only clients whose address is in `list`: comma-separated
    /// addresses or CIDR ranges, IPv4 or IPv6 (`"10.0.0.0/8, ::1"`); every
    /// other client gets `403 Forbidden`. Default: every client that can
    /// reach the address (loopback only unless [`listen`](Self::listen)
    /// says otherwise). Environment: `TOKIO_DOCTOR_ALLOW`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming `allow_clients` and the accepted form
    /// when an entry is malformed or the list is empty.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .listen("0.0.0.0:9464".parse().unwrap())
    ///     .allow_clients("127.0.0.1, 10.0.0.0/8")?
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn allow_clients(mut self, list: &str) -> Result<Self, Error> {
        let parsed = crate::export::allow::AllowList::parse(list).ok_or_else(|| {
            crate::config::invalid(
                "allow_clients",
                &format!(
                    "got {list:?}, expected {}",
                    crate::export::allow::FORM.trim_end_matches(", or `any`")
                ),
            )
        })?;
        self.config.allow = Some(parsed);
        Ok(self)
    }

    /// When `false`, a busy port makes [`Doctor::start`] print a warning
    /// and run without the endpoint instead of returning an error. Default
    /// `true`.
    pub fn require_endpoint(mut self, required: bool) -> Self {
        self.config.require_endpoint = required;
        self
    }

    /// A poll longer than this is a blocking poll. Default
    /// [`DEFAULT_BLOCKING_POLL_THRESHOLD`](crate::DEFAULT_BLOCKING_POLL_THRESHOLD) (10 ms).
    pub fn blocking_poll_threshold(mut self, threshold: Duration) -> Self {
        self.config.blocking_poll_threshold = threshold;
        self
    }

    /// Most label sets (call sites) any metric carries; the rest are folded
    /// into `other`. Default [`DEFAULT_LABEL_CAP`](crate::DEFAULT_LABEL_CAP).
    pub fn label_cap(mut self, cap: usize) -> Self {
        self.config.label_cap = cap;
        self
    }

    /// Interval of the event-loop lag probe. Default 10 ms.
    pub fn lag_probe_interval(mut self, interval: Duration) -> Self {
        self.config.lag_probe_interval = interval;
        self
    }

    /// Interval of the sampler (runtime metrics, recorder push). Default 1 s.
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.config.sample_interval = interval;
        self
    }

    /// Interval at which the watchdog looks for stalled polls. Default 5 ms.
    pub fn watchdog_interval(mut self, interval: Duration) -> Self {
        self.config.watchdog_interval = interval;
        self
    }

    /// Also record every doctor metric into the global `metrics` recorder
    /// the service installed (for example `metrics-exporter-prometheus`), once
    /// per sample interval, so one scrape carries both. Combine with
    /// [`no_endpoint`](Self::no_endpoint). Histograms arrive as their
    /// `_bucket{le}`/`_count` counters and a `_sum` gauge.
    pub fn use_global_recorder(mut self, yes: bool) -> Self {
        self.config.use_global_recorder = yes;
        self
    }

    /// Ignore tokio's resource and waker instrumentation (present with
    /// `--cfg tokio_unstable` and tokio's `tracing` feature) by answering
    /// `Interest::never` for it. Default `true`: those callsites fire on
    /// every timer and waker operation. Turn off if another layer (such as
    /// console-subscriber) needs them.
    pub fn ignore_tokio_resource_spans(mut self, ignore: bool) -> Self {
        self.config.ignore_tokio_resource_spans = ignore;
        self
    }

    /// Window over which an unbounded queue's depth must keep rising to be
    /// a `queue_growth` finding. Default
    /// [`DEFAULT_QUEUE_WINDOW`](crate::DEFAULT_QUEUE_WINDOW) (10 s); at least
    /// three sample intervals.
    pub fn queue_window(mut self, window: Duration) -> Self {
        self.config.queue_window = window;
        self
    }

    /// Depth under which a growing queue is not reported. Default
    /// [`DEFAULT_QUEUE_DEPTH_FLOOR`](crate::DEFAULT_QUEUE_DEPTH_FLOOR).
    pub fn queue_depth_floor(mut self, floor: u64) -> Self {
        self.config.queue_depth_floor = floor;
        self
    }

    /// The depth at which a queue is in trouble (memory, latency); a growing
    /// queue's finding then says how long until it gets there. Default none.
    pub fn queue_limit(mut self, limit: u64) -> Self {
        self.config.queue_limit = Some(limit);
        self
    }

    /// Window over which new connections are compared with requests for
    /// `connection_churn`. Default
    /// [`DEFAULT_CHURN_WINDOW`](crate::DEFAULT_CHURN_WINDOW) (30 s).
    pub fn churn_window(mut self, window: Duration) -> Self {
        self.config.churn_window = window;
        self
    }

    /// Peak live heap bytes of one span instance at or above which it is a
    /// `materialization` finding (needs the `alloc` feature and
    /// [`TrackingAllocator`](crate::alloc)). Default
    /// [`DEFAULT_MATERIALIZATION_BYTES`](crate::DEFAULT_MATERIALIZATION_BYTES) (64 MiB).
    pub fn materialization_threshold(mut self, bytes: u64) -> Self {
        self.config.materialization_bytes = bytes;
        self
    }

    /// The most verbose level of span the doctor enables. Default INFO:
    /// `info_span!`, `#[instrument]` (INFO unless told otherwise) and
    /// above. The doctor never enables events, nor a DEBUG or TRACE span
    /// at this default, so a library's per-request DEBUG span (tower-http's
    /// `TraceLayer`) costs nothing unless another layer wants it; what the
    /// doctor declines is declined for the doctor only (a per-layer filter),
    /// so an `fmt` layer at DEBUG still gets every DEBUG span and event.
    /// Whatever the level, the doctor enables its own spans
    /// ([`held`](crate::held) scopes), tokio's task spans (`runtime.spawn`,
    /// TRACE, with `--cfg tokio_unstable`), spans with a `doctor.resource` or
    /// `doctor.sequential` field and spans named by
    /// [`outbound_span`](Self::outbound_span) or
    /// [`resource_span`](Self::resource_span). Widen it to time and name
    /// DEBUG or TRACE spans as blocking-poll sites and shape children.
    /// Environment: `TOKIO_DOCTOR_SPAN_LEVEL`.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .span_level(tracing::Level::DEBUG)
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn span_level(mut self, level: tracing::Level) -> Self {
        self.config.span_level = level;
        self
    }

    /// Validates the settings and builds the doctor.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting, when a duration is zero
    /// or the label cap is out of range.
    pub fn build(self) -> Result<Doctor, Error> {
        self.config.validate()?;
        Ok(Doctor {
            shared: Arc::new(Shared::new(self.config)),
        })
    }
}

/// Watches a tokio service. Cheap to clone; all clones share one state.
///
/// # Examples
/// ```no_run
/// use tracing_subscriber::prelude::*;
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let doctor = tokio_doctor::Doctor::builder().build()?;
///     tracing_subscriber::registry().with(doctor.layer()).init();
///     let _running = doctor.start()?; // serves /metrics and /doctor until dropped
///     // ... run the service ...
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Doctor {
    pub(crate) shared: Arc<Shared>,
}

impl Doctor {
    /// Starts configuring a doctor.
    pub fn builder() -> DoctorBuilder {
        DoctorBuilder::default()
    }

    /// Builds a doctor from the `TOKIO_DOCTOR_*` environment variables
    /// (see [`ENV_VARS`](crate::ENV_VARS)); unset variables keep their
    /// defaults.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the variable and the accepted form.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::from_env()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn from_env() -> Result<Doctor, Error> {
        let mut config = Config::default();
        apply_env(&mut config, |var| std::env::var(var).ok())?;
        Ok(Doctor {
            shared: Arc::new(Shared::new(config)),
        })
    }

    /// The tracing layer to add to the subscriber. Every clone feeds this
    /// doctor. `S`, the subscriber it goes into, is inferred where it is
    /// added (`tracing_subscriber::registry().with(doctor.layer())`).
    pub fn layer<S>(&self) -> DoctorLayer<S>
    where
        S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        DoctorLayer::new(self.shared.clone())
    }

    /// Starts the monitors (lag probe, runtime sampler, watchdog) and the
    /// endpoint. Call it inside the runtime to watch. Dropping the returned
    /// [`Running`] stops them.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a tokio runtime; [`Error::AlreadyStarted`]
    /// while a [`Running`] of this doctor is alive; [`Error::Bind`] when
    /// the endpoint's address is taken (unless
    /// [`require_endpoint(false)`](DoctorBuilder::require_endpoint)).
    pub fn start(&self) -> Result<Running, Error> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let shared = &self.shared;
        // Two sets of monitors would count every lag sample twice.
        if shared
            .started
            .compare_exchange(false, true, AcqRel, Acquire)
            .is_err()
        {
            return Err(Error::AlreadyStarted);
        }
        let started = StartGuard(shared);
        let mut local_addr = None;
        let mut tasks = Vec::new();
        if let Some(addr) = shared.config.listen {
            match bind(addr) {
                Ok(listener) => {
                    local_addr = listener.local_addr().ok();
                    tasks.push(handle.spawn(crate::export::http::serve(listener, shared.clone())));
                }
                Err(e) if shared.config.require_endpoint => return Err(e), // un-marks started
                Err(e) => eprintln!("tokio-doctor: running without its endpoint: {e}"),
            }
        }
        tasks.push(handle.spawn(crate::monitor::lag::run(shared.clone())));
        tasks.push(handle.spawn(crate::monitor::sampler::run(shared.clone(), handle.clone())));
        let stop = Arc::new(AtomicBool::new(false));
        if let Err(e) = crate::monitor::watchdog::spawn(shared, stop.clone()) {
            // Without the watchdog, stalls are still seen at each scrape.
            eprintln!("tokio-doctor: could not start the watchdog thread: {e}");
        }
        std::mem::forget(started);
        Ok(Running {
            doctor: self.clone(),
            tasks,
            stop,
            local_addr,
        })
    }

    /// Renders every metric in the Prometheus text format, as `/metrics`
    /// serves it.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
    /// assert!(doctor.render_prometheus().contains("tokio_doctor_build_info"));
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn render_prometheus(&self) -> String {
        crate::export::render_prometheus(&self.shared)
    }

    /// The current findings, most severe and costly first.
    pub fn findings(&self) -> Vec<Finding> {
        crate::detect::findings(&self.shared)
    }

    /// Wraps a named background task (a queue consumer, a scheduler) in a
    /// `tokio_metrics::TaskMonitor`, so it shows up beside the routes of
    /// [`TaskMonitorLayer`](crate::route) with the same
    /// `tokio_doctor_route_*{route=name}` metrics and findings. Names are
    /// given in code; past the label cap they share `other`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tokio_doctor::Error> {
    /// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
    /// let consumer = doctor.monitor_job("email-consumer", async { /* loop { recv; send } */ });
    /// tokio::spawn(consumer).await.unwrap();
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn monitor_job<F: std::future::Future>(
        &self,
        name: &'static str,
        job: F,
    ) -> tokio_metrics::Instrumented<F> {
        let cfg = &self.shared.config;
        self.shared
            .routes
            .monitor(
                name,
                cfg.label_cap,
                cfg.blocking_poll_threshold,
                std::panic::Location::caller(),
            )
            .instrument(job)
    }

    /// The report `/doctor` serves.
    pub fn report(&self) -> Report {
        crate::export::report::build(&self.shared)
    }
}

/// Un-marks a doctor as started if `start` fails half-way.
struct StartGuard<'a>(&'a Shared);

impl Drop for StartGuard<'_> {
    fn drop(&mut self) {
        self.0.started.store(false, Release);
    }
}

fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    let std = std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    std.set_nonblocking(true)
        .map_err(|source| Error::Bind { addr, source })?;
    tokio::net::TcpListener::from_std(std).map_err(|source| Error::Bind { addr, source })
}

/// A started doctor. Dropping it stops the endpoint and the monitors; the
/// layer keeps recording.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tokio_doctor::Error> {
/// let doctor = tokio_doctor::Doctor::builder().listen("127.0.0.1:0".parse().unwrap()).build()?;
/// let running = doctor.start()?;
/// println!("metrics at http://{}/metrics", running.local_addr().unwrap());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Running {
    doctor: Doctor,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    local_addr: Option<SocketAddr>,
}

impl Running {
    /// The address the endpoint listens on (useful with port 0), if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The doctor being run.
    pub fn doctor(&self) -> &Doctor {
        &self.doctor
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in &self.tasks {
            t.abort();
        }
        self.doctor.shared.started.store(false, Release);
    }
}
