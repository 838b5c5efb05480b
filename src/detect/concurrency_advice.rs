//! Scenario 3: concurrency not sized by Little's Law. Advice, not an alarm.
//!
//! **Signal.** Per outbound call site (OpenTelemetry `otel.kind = "client"`
//! or the `http.*`, `db.*`, `rpc.*`, `server.address`, `peer.service`
//! fields, or configured names), once per sample interval over the
//! concurrency window: throughput λ (calls completed per second), latency
//! W (their mean duration) and the time-weighted mean in flight L = λ × W.
//! Each window's (λ, W) is filed under its level of L (powers of two), so
//! a service that has run at several levels shows where more concurrency
//! stopped adding throughput: λ_max, and W at the lowest level seen.
//!
//! **Quantity.** The recommended limit `floor(λ_max × W_low)`, exported as
//! `tokio_doctor_concurrency_recommended` beside
//! `tokio_doctor_concurrency_in_flight` (L) for every outbound site. A
//! finding (severity info) is made only when the caller runs *past the
//! knee*: throughput was seen to stop rising with concurrency, and L and W
//! are now both half again above the recommendation and W at low load.
//!
//! **Silent on** callers at or under the knee, and on sites never seen at
//! more than one level of concurrency (the ceiling is then unknown).

use super::at_site;
use super::shape_sampler::Advice;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;
use crate::util::lock;

pub(crate) const FIX: &str = "cap the calls in flight at the recommended limit (a \
    tokio::sync::Semaphore, or buffer_unordered(n)): past the knee more concurrency only \
    queues at the downstream and adds latency, with no more throughput";

pub(crate) struct ConcurrencyAdvice;

/// The latest advice of every outbound call site, and its mean in flight
/// over the last window (or, before a window is complete, in flight now).
pub(crate) fn advice_by_site(windows: &Windows) -> Vec<(u32, Option<Advice>, f64)> {
    lock(&windows.shape.advice)
        .iter()
        .map(|(site, t)| {
            let l = t.last.map_or(t.in_flight_now as f64, |w| w.l);
            (*site, t.advice, l)
        })
        .collect()
}

/// The recommended limit of one call site, once its ceiling is measured.
pub(crate) fn recommended(windows: &Windows, site: u32) -> Option<u64> {
    lock(&windows.shape.advice)
        .get(&site)
        .and_then(|t| t.advice)
        .filter(|a| a.saturated)
        .map(|a| a.recommended)
}

impl Detector for ConcurrencyAdvice {
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let tracks = lock(&windows.shape.advice);
        let interval = shared.config.sample_interval.as_secs_f64();
        tracks
            .iter()
            .filter(|(_, t)| t.past_knee_samples > 0)
            .filter_map(|(site, t)| {
                let a = t.advice?;
                let meta = shared.sites.get(*site).meta.get()?;
                let now = a.now;
                // Seconds of waiting the excess concurrency added in the
                // last window: calls × (W − W at low load).
                let added = (now.w - a.w_low).max(0.0) * now.calls;
                let f = at_site(FindingKind::ConcurrencyAdvice, Severity::Info, meta)
                    .with_count(t.past_knee_samples)
                    .with_cost_seconds(added)
                    .with_evidence([
                        Evidence::new("recommended_concurrency", a.recommended as f64, "count"),
                        Evidence::new("in_flight", now.l, "count"),
                        Evidence::new("past_knee_now", f64::from(u8::from(a.past_knee)), "bool"),
                        Evidence::new("throughput_per_second", now.lambda, "calls/second"),
                        Evidence::new("max_throughput_per_second", a.lambda_max, "calls/second"),
                        Evidence::new("latency_seconds", now.w, "seconds"),
                        Evidence::new("low_load_latency_seconds", a.w_low, "seconds"),
                        Evidence::new("knee_in_flight", a.knee_in_flight, "count"),
                        Evidence::new("ceiling_measured", f64::from(u8::from(a.saturated)), "bool"),
                        Evidence::new(
                            "past_knee_seconds",
                            t.past_knee_samples as f64 * interval,
                            "seconds",
                        ),
                    ])
                    .with_fix(FIX);
                Some(f)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        let state = if ev("past_knee_now") == 1.0 {
            "is past the knee".to_string()
        } else {
            format!("was past the knee for {:.0} s", ev("past_knee_seconds"))
        };
        format!(
            "`{}` at {} {state}: {:.1} calls in flight at {:.0} calls/s and {:.0} ms each, \
             where the downstream tops out at {:.0} calls/s and answers in {:.0} ms at low load. \
             By Little's Law {:.0} × {:.3} s = {:.0} in flight is enough (recommended \
             concurrency {:.0}); the rest only queues.",
            f.span,
            f.location,
            ev("in_flight"),
            ev("throughput_per_second"),
            ev("latency_seconds") * 1e3,
            ev("max_throughput_per_second"),
            ev("low_load_latency_seconds") * 1e3,
            ev("max_throughput_per_second"),
            ev("low_load_latency_seconds"),
            ev("recommended_concurrency"),
            ev("recommended_concurrency"),
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} outbound call site{} ran more calls in flight than the downstream can use.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        )
    }
}
