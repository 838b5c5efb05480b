//! The doctor: start and stop, and what a service reads in-process. Its
//! settings are in [`builder`].

mod builder;

pub use builder::DoctorBuilder;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;

use crate::export::Report;
use crate::finding::Finding;
use crate::layer::DoctorLayer;
use crate::state::Shared;
use crate::Error;

/// The file every monitor task of the doctor is spawned in: their task
/// spans (and poll hooks) carry it as their spawn location, which is how
/// the layer tells them from the service's tasks.
pub(crate) const MONITORS_FILE: &str = file!();

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
    /// The detectors and their windows, built once; the sampler feeds them.
    pub(crate) detectors: Arc<crate::detect::Detectors>,
}

impl Doctor {
    /// Starts configuring a doctor.
    pub fn builder() -> DoctorBuilder {
        DoctorBuilder::default()
    }

    /// Builds a doctor from the `TOKIO_DOCTOR_*` environment variables
    /// (see [`ENV_VARS`](crate::ENV_VARS)); unset variables keep their
    /// defaults. To lay them over settings made in code, use
    /// [`DoctorBuilder::with_env`].
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
        DoctorBuilder::from_env()?.build()
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
        let mut endpoint = None;
        let mut tasks = Vec::new();
        if let Some(addr) = shared.config.listen {
            match bind(addr) {
                Ok(listener) => {
                    local_addr = listener.local_addr().ok();
                    let spawned = crate::export::http::spawn(
                        listener,
                        shared.clone(),
                        self.detectors.clone(),
                    )
                    .map_err(|source| Error::Bind { addr, source });
                    match spawned {
                        Ok(e) => endpoint = Some(e),
                        Err(e) if shared.config.require_endpoint => return Err(e),
                        Err(e) => eprintln!("tokio-doctor: running without its endpoint: {e}"),
                    }
                }
                Err(e) if shared.config.require_endpoint => return Err(e), // un-marks started
                Err(e) => eprintln!("tokio-doctor: running without its endpoint: {e}"),
            }
        }
        // Every monitor task is spawned in this file (`MONITORS_FILE`).
        tasks.push(handle.spawn(crate::monitor::lag::run(shared.clone())));
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        if shared.config.stack_capture {
            tasks.push(handle.spawn(crate::monitor::ping::run(shared.clone())));
        }
        tasks.push(handle.spawn(crate::monitor::sampler::run(
            shared.clone(),
            self.detectors.clone(),
            handle.clone(),
        )));
        let stop = Arc::new(AtomicBool::new(false));
        if let Err(e) = crate::monitor::watchdog::spawn(shared, stop.clone(), handle.clone()) {
            // Without the watchdog, stalls are still seen at each scrape.
            eprintln!("tokio-doctor: could not start the watchdog thread: {e}");
        }
        std::mem::forget(started);
        Ok(Running {
            doctor: self.clone(),
            tasks,
            endpoint,
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
        crate::export::render_prometheus(&self.shared, &self.detectors)
    }

    /// The current findings, most severe and costly first.
    pub fn findings(&self) -> Vec<Finding> {
        self.detectors.conclude(&self.shared).findings
    }

    /// Wraps a named background task (a queue consumer, a scheduler) in a
    /// task monitor (tokio-metrics' model), so it shows up beside the routes of
    /// [`TaskMonitorLayer`](crate::route) with the same
    /// `tokio_doctor_route_*{route=name}` metrics and findings. Names are
    /// given in code; past the label cap they share `other`.
    ///
    /// As a request's future behind `TaskMonitorLayer`, the job's slow
    /// polls are judged on CPU time (a job on a starved host is not
    /// blamed), and each poll is marked on its worker, so the watchdog sees
    /// the job stall while it lasts and names the line it is stuck in.
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
    ) -> crate::RouteFuture<F> {
        crate::RouteFuture::for_route(&self.shared, name, std::panic::Location::caller(), job)
    }

    /// Installs tokio's task poll hooks (`--cfg tokio_unstable`) on a
    /// runtime builder, so that every poll of every task is marked on its
    /// worker, in a span or not: the watchdog then sees a stall in any task
    /// while it lasts (and captures its stack), and a slow poll outside the
    /// service's spans is blamed on `runtime.spawn` at the task's spawn
    /// `file:line`. This works without tokio's `tracing` feature and
    /// without the doctor's layer. Costs two clock reads and a thread-local
    /// lookup per poll.
    ///
    /// # Examples
    /// ```no_run
    /// let doctor = tokio_doctor::Doctor::builder().build()?;
    /// let mut builder = tokio::runtime::Builder::new_multi_thread();
    /// let rt = doctor.install_poll_hooks(builder.enable_all()).build()?;
    /// rt.block_on(async {
    ///     let _running = doctor.start()?;
    ///     // ... serve ...
    ///     Ok::<(), tokio_doctor::Error>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(tokio_unstable)]
    #[cfg_attr(docsrs, doc(cfg(tokio_unstable)))]
    pub fn install_poll_hooks<'b>(
        &self,
        builder: &'b mut tokio::runtime::Builder,
    ) -> &'b mut tokio::runtime::Builder {
        crate::layer::poll_hooks::install(&self.shared, builder);
        builder
    }

    /// The report `/doctor` serves.
    pub fn report(&self) -> Report {
        crate::export::report(&self.shared, &self.detectors)
    }
}

/// Un-marks a doctor as started if `start` fails half-way.
struct StartGuard<'a>(&'a Shared);

impl Drop for StartGuard<'_> {
    fn drop(&mut self) {
        self.0.started.store(false, Release);
    }
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, Error> {
    let std = std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    std.set_nonblocking(true)
        .map_err(|source| Error::Bind { addr, source })?;
    Ok(std)
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
    /// The endpoint's own thread; dropped (and joined) first.
    endpoint: Option<crate::export::http::Endpoint>,
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
        drop(self.endpoint.take());
        for t in &self.tasks {
            t.abort();
        }
        self.doctor.shared.started.store(false, Release);
    }
}

impl Shared {
    /// The state of a new doctor, with export's table of runtime metrics
    /// (this floor knows no metric names).
    pub(crate) fn for_doctor(config: crate::config::Config) -> Arc<Shared> {
        Arc::new(Shared::new(config, crate::export::runtime_metric))
    }
}

#[cfg(all(test, tokio_unstable))]
mod own_monitors_tests;
