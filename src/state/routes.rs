//! The task monitors of one doctor by route: what `TaskMonitorLayer` and
//! `Doctor::monitor_job` record, read by the route detector and export.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::RwLock;

use tokio_metrics::TaskMonitor;

/// The route label shared by routes past the label cap.
pub const OTHER: &str = "other";

/// One monitored route or job.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) monitor: TaskMonitor,
    /// Where the layer or job wrapper was created.
    pub(crate) location: String,
}

/// The monitors of one doctor, by route. Bounded by the label cap.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_name: RwLock<HashMap<String, Route>>,
}

impl Routes {
    /// The monitor for `route`, created on first use; past `cap` routes,
    /// the shared `other` monitor.
    pub(crate) fn monitor(
        &self,
        route: &str,
        cap: usize,
        slow_poll: std::time::Duration,
        location: &'static Location<'static>,
    ) -> TaskMonitor {
        if let Some(r) = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
        {
            return r.monitor.clone();
        }
        let mut routes = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        let name = if routes.len() >= cap && !routes.contains_key(route) {
            OTHER
        } else {
            route
        };
        routes
            .entry(name.to_string())
            .or_insert_with(|| Route {
                monitor: TaskMonitor::with_slow_poll_threshold(slow_poll),
                location: format!("{}:{}", location.file(), location.line()),
            })
            .monitor
            .clone()
    }

    /// Every route with its monitor, sorted by name.
    pub(crate) fn all(&self) -> Vec<(String, Route)> {
        let mut v: Vec<(String, Route)> = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
