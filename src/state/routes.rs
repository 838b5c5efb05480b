//! The task monitors of one doctor by route: what `TaskMonitorLayer` and
//! `Doctor::monitor_job` record, read by the route detector and export.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use tokio_metrics::TaskMonitor;

/// The route label shared by routes past the label cap.
pub const OTHER: &str = "other";

/// One monitored route or job.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) monitor: TaskMonitor,
    /// Where the layer or job wrapper was created.
    pub(crate) location: String,
    /// The route's slow polls judged on CPU time, not the wall clock.
    pub(crate) polls: Arc<RoutePolls>,
}

/// A route's polls past the threshold, judged as the span view judges
/// them: the time the worker waited for a CPU does not count. Written only
/// on the slow path (a poll already past the threshold on the wall clock),
/// so a fast poll touches none of it.
#[derive(Debug, Default)]
pub(crate) struct RoutePolls {
    /// Set once a request future that judges its polls ran for the route
    /// (`TaskMonitorLayer`, `monitor_job`); until then the wall-clock view.
    pub(crate) judged: AtomicBool,
    /// Polls whose on-CPU (or blocked-in-a-syscall) time crossed the threshold.
    pub(crate) slow: AtomicU64,
    /// Their on-CPU time, in nanoseconds.
    pub(crate) slow_ns: AtomicU64,
    /// Polls past the threshold on the wall clock that mostly waited for a CPU.
    pub(crate) preempted: AtomicU64,
    /// The route's call site and its doctor, set by the first request: how
    /// a request's poll is marked on its worker (so the watchdog sees it
    /// stall) and how a slow poll inside it is counted at the span it
    /// blamed. A `Weak`, since the doctor owns the routes.
    pub(crate) marks: std::sync::OnceLock<RouteMarks>,
}

/// See [`RoutePolls::marks`].
#[derive(Debug)]
pub(crate) struct RouteMarks {
    pub(crate) site: u32,
    pub(crate) shared: std::sync::Weak<super::Shared>,
}

/// Makes a route's marks from its name and location.
pub(crate) type MarkRoute<'a> = dyn Fn(&str, &str) -> RouteMarks + 'a;

/// The monitors of one doctor, by route. Bounded by the label cap.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_name: RwLock<HashMap<String, Route>>,
    /// Where `TaskMonitorLayer`s that could name none of their first
    /// requests were created (a layer around the whole app), at most
    /// [`MAX_BLIND_LAYERS`].
    blind_layers: Mutex<Vec<String>>,
}

/// Blind layers remembered: one per place a layer is created, so a few.
#[cfg(feature = "middleware")]
const MAX_BLIND_LAYERS: usize = 8;

impl Routes {
    /// The monitor for `route`, created on first use (past `cap` routes,
    /// the shared `other` monitor), with the route's CPU-judged slow-poll
    /// counts; `marks` (the route's name and location → its site and
    /// doctor) is called once per route, by its first request.
    pub(crate) fn route(
        &self,
        route: &str,
        cap: usize,
        slow_poll: std::time::Duration,
        location: &'static Location<'static>,
        marks: Option<&MarkRoute<'_>>,
    ) -> (TaskMonitor, Arc<RoutePolls>) {
        let mark = |name: &str, r: &Route| {
            if let Some(mk) = marks {
                r.polls.marks.get_or_init(|| mk(name, &r.location));
            }
        };
        if let Some(r) = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
        {
            mark(route, r);
            return (r.monitor.clone(), r.polls.clone());
        }
        let mut routes = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        let name = if routes.len() >= cap && !routes.contains_key(route) {
            OTHER
        } else {
            route
        };
        let r = routes.entry(name.to_string()).or_insert_with(|| Route {
            monitor: TaskMonitor::with_slow_poll_threshold(slow_poll),
            location: format!(
                "{}:{}",
                super::location::stable_path(location.file(), &[]),
                location.line()
            ),
            polls: Arc::default(),
        });
        mark(name, r);
        (r.monitor.clone(), r.polls.clone())
    }

    /// Notes that the layer created at `location` names no route.
    #[cfg(feature = "middleware")]
    pub(crate) fn note_blind_layer(&self, location: String) {
        let mut blind = crate::util::lock(&self.blind_layers);
        if blind.len() < MAX_BLIND_LAYERS && !blind.contains(&location) {
            blind.push(location);
        }
    }

    /// What the report says of layers that name no route.
    pub(crate) fn notes(&self) -> Vec<String> {
        crate::util::lock(&self.blind_layers)
            .iter()
            .map(|l| {
                format!(
                    "TaskMonitorLayer at {l} named none of its first requests: every request is \
                     `unmatched`, so a blocking route is diluted by the healthy ones. Behind axum, \
                     apply it with Router::layer (inside the router, where the matched path is \
                     known), not around the whole app; elsewhere give it a route_fn."
                )
            })
            .collect()
    }

    /// The call sites routes' polls are marked at: their stalls and stacks
    /// are the route view's, not the span view's.
    pub(crate) fn marked_sites(&self) -> std::collections::HashSet<u32> {
        self.by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|r| r.polls.marks.get().map(|m| m.site))
            .collect()
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
