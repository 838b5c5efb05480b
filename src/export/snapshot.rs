//! One snapshot per scrape, report or recorder push: the detectors run
//! once, the running stalls are read once, and every format (Prometheus
//! text, the report as JSON or HTML, the recorder push) renders from it.
//!
//! The endpoint keeps its latest snapshot for [`snapshot_max_age`]
//! (default 1 s): concurrent scrapes within that age are answered from it,
//! each format rendered at most once, so a crowd of scrapers costs one
//! render per age whatever its size.
//!
//! [`snapshot_max_age`]: crate::DoctorBuilder::snapshot_max_age

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::report::Report;
use super::samples::Family;
use crate::detect::Detectors;
use crate::state::Shared;

/// What the doctor concluded at one instant, ready to render.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) report: Report,
    pub(crate) families: Vec<Family>,
}

impl Snapshot {
    /// Runs every detector once and reads every metric family.
    pub(crate) fn take(shared: &Shared, detectors: &Detectors) -> Snapshot {
        let concluded = detectors.conclude(shared);
        let stalls = shared.running_stalls();
        let families =
            super::samples::collect(shared, &detectors.windows, &concluded.findings, &stalls);
        let report = super::report::build(shared, concluded, stalls.len());
        Snapshot { report, families }
    }

    /// The Prometheus text of `/metrics`.
    pub(crate) fn prometheus_text(&self) -> String {
        super::text::render(&self.families)
    }
}

/// A response body the endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Metrics,
    Json,
    Page,
}

/// A snapshot and the bodies rendered from it so far.
#[derive(Debug)]
struct Served {
    taken: Instant,
    snapshot: Snapshot,
    bodies: [OnceLock<Arc<str>>; 3],
}

/// The endpoint's latest snapshot, shared by the scrapes within its age.
#[derive(Debug)]
pub(crate) struct SnapshotCache {
    max_age: Duration,
    detectors: Arc<Detectors>,
    latest: Mutex<Option<Arc<Served>>>,
}

impl SnapshotCache {
    pub(crate) fn new(max_age: Duration, detectors: Arc<Detectors>) -> SnapshotCache {
        SnapshotCache {
            max_age,
            detectors,
            latest: Mutex::new(None),
        }
    }

    /// `body`, from a snapshot no older than the cache's age. The lock is
    /// held while a snapshot is taken, so concurrent callers wait for the
    /// one render instead of each doing their own.
    pub(crate) fn body(&self, shared: &Shared, body: Body) -> Arc<str> {
        let served = {
            let mut latest = crate::util::lock(&self.latest);
            match latest.as_ref() {
                Some(s) if s.taken.elapsed() <= self.max_age => s.clone(),
                _ => {
                    shared.endpoint_snapshots.fetch_add(1, Relaxed);
                    let s = Arc::new(Served {
                        taken: Instant::now(),
                        snapshot: Snapshot::take(shared, &self.detectors),
                        bodies: Default::default(),
                    });
                    *latest = Some(s.clone());
                    s
                }
            }
        };
        served.bodies[body as usize]
            .get_or_init(|| {
                let report = &served.snapshot.report;
                match body {
                    Body::Metrics => served.snapshot.prometheus_text().into(),
                    Body::Json => (serde_json::to_string_pretty(report)
                        .unwrap_or_else(|_| "{}".into())
                        + "\n")
                        .into(),
                    Body::Page => super::page::render(report).into(),
                }
            })
            .clone()
    }
}
