//! Scenario 7: a client per call pays a handshake per call.
//!
//! **Signal.** Per peer, over the churn window (default 30 s): new
//! connections ÷ requests ≥ 0.5 with at least 20 requests.
//!
//! **Quantity.** Connections per second and the handshake seconds spent.
//!
//! **Silent on.** A shared client with keep-alive: a few connections for
//! many requests.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::Detector;
use super::Windows;
use crate::connection::registry::{self, PeerStats};
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::series::Series;
use crate::state::Shared;
use crate::util::lock;

/// New connections per request at or above which a peer churns: a healthy
/// pool reuses each connection for many requests; 0.5 means at most two.
pub(crate) const CHURN_RATIO: f64 = 0.5;
/// Requests needed in the window before judging: fewer say nothing.
pub(crate) const MIN_REQUESTS: f64 = 20.0;

pub(crate) const FIX: &str = "build one client at startup (reqwest::Client or hyper-util's \
    Client) and share it - it is cheap to clone - so connections are pooled and kept alive \
    instead of paying a TCP/TLS handshake per request";

/// What the sampler keeps about one peer, per doctor.
#[derive(Debug)]
pub(crate) struct PeerTrack {
    stats: Arc<PeerStats>,
    /// (connections, requests, connect ns) over time, cumulative.
    series: Series<3>,
    churn_checks: u64,
    last: Option<Churn>,
}

#[derive(Debug, Clone, Copy)]
struct Churn {
    ratio: f64,
    requests: f64,
    connections_per_second: f64,
    handshake_seconds: f64,
}

impl Churn {
    fn is_churning(&self) -> bool {
        self.requests >= MIN_REQUESTS && self.ratio >= CHURN_RATIO
    }
}

/// Sampler side.
pub(crate) fn sample(shared: &Shared, windows: &Windows) {
    let t = shared.created.elapsed().as_secs_f64();
    let cfg = &shared.config;
    let window = cfg.churn_window.as_secs_f64();
    let points = (window / cfg.sample_interval.as_secs_f64()).ceil() as usize + 2;
    let mut tracks = lock(&windows.peers);
    // A peer that appears after this doctor's first sample was registered
    // since the previous one, at zero: its counts all fall in the last
    // interval, so its series starts from zero there, not from its first
    // sample (which would drop the requests made before it).
    let seen_before = windows.peers_sampled.swap(true, Relaxed);
    for p in registry::all() {
        let track = tracks.entry(p.peer.clone()).or_insert_with(|| {
            let mut series = Series::new(points);
            if seen_before {
                series.push(t - cfg.sample_interval.as_secs_f64(), [0.0; 3]);
            }
            PeerTrack {
                stats: p.clone(),
                series,
                churn_checks: 0,
                last: None,
            }
        });
        track.series.push(
            t,
            [
                p.connections.load(Relaxed) as f64,
                p.requests.load(Relaxed) as f64,
                p.connect_ns.load(Relaxed) as f64,
            ],
        );
        let pts = track.series.window(window);
        track.last = match (pts.first(), pts.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                let (dc, dr) = (b.1[0] - a.1[0], b.1[1] - a.1[1]);
                Some(Churn {
                    ratio: if dr > 0.0 { dc / dr } else { 0.0 },
                    requests: dr,
                    connections_per_second: dc / (b.0 - a.0),
                    handshake_seconds: (b.1[2] - a.1[2]) / 1e9,
                })
            }
            _ => None,
        };
        if track.last.is_some_and(|c| c.is_churning()) {
            track.churn_checks += 1;
        }
    }
}

pub(crate) struct ConnectionChurn;

impl Detector for ConnectionChurn {
    fn check(&self, _shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let tracks = lock(&windows.peers);
        tracks
            .values()
            .filter(|t| t.churn_checks > 0)
            .map(|t| {
                let c = t.last;
                let now = c.is_some_and(|c| c.is_churning());
                let total_handshake = t.stats.connect_ns.load(Relaxed) as f64 / 1e9;
                let severity = if now {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                Finding::new(
                    FindingKind::ConnectionChurn,
                    severity,
                    t.stats.peer.clone(),
                    "connection",
                    t.stats.location.clone(),
                )
                .with_count(t.churn_checks)
                .with_cost_seconds(total_handshake)
                .with_evidence([
                    Evidence::new(
                        "new_connections_per_request",
                        c.map_or(0.0, |c| c.ratio),
                        "ratio",
                    ),
                    Evidence::new(
                        "connections_per_second",
                        c.map_or(0.0, |c| c.connections_per_second),
                        "1/second",
                    ),
                    Evidence::new("requests_in_window", c.map_or(0.0, |c| c.requests), "count"),
                    Evidence::new(
                        "handshake_seconds_in_window",
                        c.map_or(0.0, |c| c.handshake_seconds),
                        "seconds",
                    ),
                    Evidence::new("handshake_seconds_total", total_handshake, "seconds"),
                    Evidence::new("churning_now", if now { 1.0 } else { 0.0 }, "bool"),
                ])
                .with_fix(FIX)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        format!(
            "Calls to {} (client built at {}) open {:.2} new connections per request ({:.1} connections/s); \
             {:.3} s have gone to handshakes in all.",
            f.span,
            f.location,
            ev("new_connections_per_request"),
            ev("connections_per_second"),
            ev("handshake_seconds_total")
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let secs: f64 = findings.iter().map(|f| f.cost_seconds).sum();
        format!(
            "{} peer{} reached with a new connection per request; {:.3} s spent on handshakes.",
            findings.len(),
            if findings.len() == 1 { " is" } else { "s are" },
            secs
        )
    }
}
