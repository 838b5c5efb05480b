//! The sampler: once per `sample_interval`, reads the runtime's metrics
//! through tokio-metrics, folds away exited threads, rotates the lag
//! maximum, notes the interval's lag in the history the report page
//! draws with the trends beside its findings, and (when asked) pushes everything into the global recorder.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio_metrics::{RuntimeMetricsReporterBuilder, RuntimeMonitor};

use crate::detect::Detectors;
use crate::state::Shared;

pub(crate) async fn run(
    shared: Arc<Shared>,
    detectors: Arc<Detectors>,
    handle: tokio::runtime::Handle,
) {
    let interval = shared.config.sample_interval;
    let mut reporter = metrics::with_local_recorder(&shared.runtime, || {
        RuntimeMetricsReporterBuilder::default()
            .with_interval(interval)
            .build_with_monitor(RuntimeMonitor::new(&handle))
    });
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        reporter.run_once();
        shared.retire_exited_threads();
        detectors.sample(&shared, &handle);
        let runtime_live = detectors.windows.shape.runtime_live.load(Relaxed);
        crate::state::trends::sample(&shared, runtime_live);
        let lag_max_ns = shared.lag_max_ns.swap(0, Relaxed);
        shared.lag_max_last_ns.store(lag_max_ns, Relaxed);
        crate::util::lock(&shared.lag_history).record(
            shared.created.elapsed().as_secs_f64(),
            shared.lag.snapshot(),
            lag_max_ns,
        );
        if shared.config.use_global_recorder {
            crate::export::push_to_global_recorder(&shared, &detectors);
        }
    }
}
