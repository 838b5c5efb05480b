//! The `/doctor` page: the report as HTML, for a person with a browser and
//! no Grafana.
//!
//! The page shell (styles, and a few lines of script that swap in a fresh
//! report every few seconds) is `page.html`, embedded in the crate: no build
//! step, no CDN, nothing fetched but the page itself. The report is rendered
//! here, on the server, so the page shows the findings even with scripts
//! off, and every dynamic string goes through [`escape`] once, in one place.

use std::fmt::Write;

mod chart;
mod evidence;
mod format;

use format::{duration, elapsed, escape, figure};

use crate::export::report::{LagPoint, Report, Trend};
use crate::finding::{Finding, Severity};

/// Content type of the page.
pub(crate) const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// What the page may load: nothing but itself. Inline styles and the inline
/// refresh script are the only code; it may fetch only this origin.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

const SHELL: &str = include_str!("page.html");
const SLOT: &str = "<!--report-->";

/// The event-loop lag alert threshold, drawn on the chart.
const LAG_LIMIT_SECONDS: f64 = 0.05;

/// The whole page for a report.
pub(crate) fn render(report: &Report) -> String {
    let (before, after) = SHELL
        .split_once(SLOT)
        .expect("page.html has the report slot");
    let mut out = String::with_capacity(SHELL.len() + 4096);
    out.push_str(before);
    report_section(report, &mut out);
    out.push_str(after);
    out
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn report_section(r: &Report, out: &mut String) {
    let lag = &r.event_loop_lag;
    let _ = write!(
        out,
        "<div id=\"report\">\n<header class=\"top\"><h1>tokio-doctor</h1>\
         <span class=\"meta\">version {} · up {} · {} polls timed · stalled polls now: {}</span></header>\n",
        escape(r.version),
        elapsed(r.uptime_seconds),
        r.polls,
        r.stalled_polls
    );

    // The lag, now and over the last minutes.
    let bound = |v: Option<f64>| {
        v.map(|s| format!("≤ {}", duration(s)))
            .unwrap_or("-".into())
    };
    let bad = |v: Option<f64>| {
        if v.is_some_and(|s| s > LAG_LIMIT_SECONDS) {
            " bad"
        } else {
            ""
        }
    };
    let _ = write!(
        out,
        "<section class=\"card lag\"><h2>Event-loop lag</h2>\n<div class=\"figures\">\
         <div class=\"figure\"><b>{}</b><span>p50 since start</span></div>\
         <div class=\"figure{}\"><b>{}</b><span>p99 since start</span></div>\
         <div class=\"figure{}\"><b>{}</b><span>max, last interval</span></div>\
         <div class=\"figure\"><b>{}</b><span>probe samples</span></div></div>\n",
        bound(lag.p50_seconds),
        bad(lag.p99_seconds),
        bound(lag.p99_seconds),
        bad(Some(lag.max_seconds)),
        duration(lag.max_seconds),
        lag.samples
    );
    sparkline(&r.lag_history, out);
    out.push_str("</section>\n");

    // The findings, as the report ranks them: severity, then cost.
    let _ = writeln!(
        out,
        "<section class=\"card\"><h2>Findings ({}), most severe and costly first</h2>",
        r.findings.len()
    );
    if r.findings.is_empty() {
        out.push_str(
            "<p class=\"none\">No findings: nothing tokio-doctor watches for is happening.</p>\n",
        );
    } else {
        out.push_str("<ul class=\"summary\">");
        for s in &r.summary {
            let _ = write!(out, "<li>{}</li>", escape(s));
        }
        out.push_str("</ul>\n<ol class=\"findings\">\n");
        for f in &r.findings {
            let trends: Vec<&Trend> = r
                .trends
                .iter()
                .filter(|t| t.span == f.span && t.location == f.location)
                .collect();
            finding(f, &trends, r.uptime_seconds, out);
        }
        out.push_str("</ol>\n");
    }
    if !r.notes.is_empty() {
        out.push_str("<ul class=\"notes\">");
        for n in &r.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n</div>\n");
}

fn finding(f: &Finding, trends: &[&Trend], uptime: f64, out: &mut String) {
    let sev = severity(f.severity);
    let _ = write!(
        out,
        "<li class=\"finding sev-{sev}\" data-kind=\"{kind}\">\n<div class=\"head\">\
         <span class=\"sev\">{sev}</span><code class=\"kind\">{kind}</code>\
         <span class=\"site\"><code class=\"span\">{span}</code> <small>at</small> \
         <code class=\"location\">{location}</code></span>\
         <span class=\"cost\" title=\"what it cost since start\">{cost}</span></div>\n\
         <p class=\"msg\">{msg}</p>\n<div class=\"body\">",
        kind = escape(f.kind.as_str()),
        span = escape(&f.span),
        location = escape(&f.location),
        cost = duration(f.cost_seconds),
        msg = escape(&f.message),
    );
    // The pictures first, where they read at a glance; every figure stays
    // in the table beside them.
    let charts_at = out.len();
    out.push_str("<div class=\"charts\">");
    evidence::charts(f, trends, uptime, out);
    let charted = out.len() > charts_at + "<div class=\"charts\">".len();
    if charted {
        // The figures behind the charts, one click away.
        let _ = write!(
            out,
            "</div><details class=\"figures-table\"><summary>all {} figures</summary>",
            f.evidence.len() + 2
        );
    } else {
        out.truncate(charts_at);
    }
    out.push_str("<table class=\"evidence\">");
    let _ = write!(
        out,
        "<tr><td>target</td><td><code>{}</code></td></tr><tr><td>observed</td><td>{} times</td></tr>",
        escape(&f.target),
        f.count
    );
    for e in &f.evidence {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(e.name),
            escape(&figure(e.value, e.unit))
        );
    }
    out.push_str("</table>");
    if charted {
        out.push_str("</details>");
    }
    let _ = write!(
        out,
        "</div>\n<p class=\"fix\"><b>Fix:</b> {}</p>\n</li>\n",
        escape(&f.fix)
    );
}

/// An inline SVG chart of the lag history: max and p99 per interval, and
/// the 50 ms alert threshold.
fn sparkline(points: &[LagPoint], out: &mut String) {
    const W: f64 = 1000.0;
    const H: f64 = 140.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 18.0;
    if points.len() < 2 {
        out.push_str("<p class=\"caption\">The lag history fills in over the first seconds.</p>\n");
        return;
    }
    let highest = points
        .iter()
        .map(|p| p.max_seconds.max(p.p99_seconds.unwrap_or(0.0)))
        .fold(LAG_LIMIT_SECONDS * 1.2, f64::max);
    let first = points[0].uptime_seconds;
    let span = (points[points.len() - 1].uptime_seconds - first).max(1.0);
    let x = |p: &LagPoint| (p.uptime_seconds - first) / span * W;
    let y = |v: f64| TOP + (1.0 - (v / highest).min(1.0)) * (H - TOP - BOTTOM);
    let line = |pick: &dyn Fn(&LagPoint) -> Option<f64>| {
        let mut s = String::new();
        for p in points {
            if let Some(v) = pick(p) {
                let _ = write!(s, "{:.1},{:.1} ", x(p), y(v));
            }
        }
        s
    };
    let limit_y = y(LAG_LIMIT_SECONDS);
    let _ = write!(
        out,
        "<svg class=\"spark\" viewBox=\"0 0 {W} {H}\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"event-loop lag over the last {minutes}\">\
         <line class=\"limit\" x1=\"0\" x2=\"{W}\" y1=\"{limit_y:.1}\" y2=\"{limit_y:.1}\"/>\
         <polyline class=\"max\" points=\"{max}\"/><polyline class=\"p99\" points=\"{p99}\"/>\
         <text x=\"4\" y=\"{ty:.1}\">50 ms</text><text x=\"4\" y=\"11\">{top}</text>\
         <text x=\"4\" y=\"{H}\" dy=\"-3\">{minutes} ago</text>\
         <text x=\"{W}\" y=\"{H}\" dy=\"-3\" text-anchor=\"end\">now</text></svg>\n\
         <p class=\"caption\"><span class=\"legend-max\">max</span> and \
         <span class=\"legend-p99\">p99</span> lag per interval over the last {minutes}; the \
         dashed line is the 50 ms alert threshold.</p>\n",
        minutes = elapsed(span),
        max = line(&|p| Some(p.max_seconds)),
        p99 = line(&|p| p.p99_seconds),
        ty = limit_y - 3.0,
        top = duration(highest),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::report::LagSummary;
    use crate::finding::{Evidence, FindingKind};

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            version: "0.0.0",
            uptime_seconds: 61.0,
            findings,
            summary: vec!["1 call site <blocked>".into()],
            notes: vec![],
            event_loop_lag: LagSummary {
                p50_seconds: Some(0.001),
                p99_seconds: Some(0.1),
                max_seconds: 0.08,
                samples: 6000,
            },
            stalled_polls: 0,
            polls: 10,
            lag_history: (0..60)
                .map(|i| LagPoint {
                    uptime_seconds: i as f64,
                    p99_seconds: (i % 7 != 0).then_some(0.002 * i as f64),
                    max_seconds: 0.003 * i as f64,
                    samples: 100,
                })
                .collect(),
            trends: Vec::new(),
        }
    }

    #[test]
    fn every_dynamic_string_is_escaped() {
        let f = Finding::new(
            FindingKind::BlockingPoll,
            Severity::Critical,
            "<script>alert(1)</script>",
            "a&b",
            "src/\"x\".rs:1",
        )
        .with_count(3)
        .with_cost_seconds(1.5)
        .with_evidence([Evidence::new("worst_poll_seconds", 0.25, "seconds")])
        .with_message("it's <bad>")
        .with_fix("use <spawn_blocking>");
        let page = render(&report(vec![f]));
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("src/&quot;x&quot;.rs:1"));
        assert!(page.contains("it&#39;s &lt;bad&gt;"));
        assert!(page.contains("use &lt;spawn_blocking&gt;"));
        assert!(page.contains("a&amp;b"));
        assert!(page.contains("1 call site &lt;blocked&gt;"));
        assert!(page.contains("250.0 ms"), "evidence in its unit");
        // Exactly one script element: the page's own.
        assert_eq!(page.matches("<script").count(), 1);
    }

    #[test]
    fn the_page_draws_the_lag_history_and_says_when_nothing_is_wrong() {
        let page = render(&report(Vec::new()));
        assert!(page.contains("No findings"));
        assert!(page.contains("<polyline class=\"max\" points=\"0.0,"));
        assert!(
            page.contains("class=\"figure bad\""),
            "p99 over 50 ms is marked"
        );
        assert!(page.starts_with("<!doctype html>"));
        assert!(!page.contains(SLOT));
        let mut short = report(Vec::new());
        short.lag_history.truncate(1);
        assert!(render(&short).contains("fills in"));
    }
}

#[cfg(test)]
mod chart_tests {
    use super::*;
    use crate::export::report::{LagSummary, TrendPoint};
    use crate::finding::{Evidence, FindingKind};

    /// The figures each kind's detector reports, as the demo shows them.
    fn evidence_of(kind: FindingKind) -> Vec<Evidence> {
        let e = |pairs: &[(&'static str, f64, &'static str)]| {
            pairs
                .iter()
                .map(|&(n, v, u)| Evidence::new(n, v, u))
                .collect()
        };
        match kind {
            FindingKind::SerialAwaits => e(&[
                ("longest_chain", 5.0, "count"),
                ("mean_call_seconds", 0.02, "seconds"),
            ]),
            FindingKind::UnboundedFanout => e(&[
                ("peak_concurrent", 800.0, "count"),
                ("threshold_concurrent", 256.0, "count"),
                ("suggested_bound", 16.0, "count"),
            ]),
            FindingKind::ConcurrencyAdvice => e(&[
                ("recommended_concurrency", 16.0, "count"),
                ("in_flight", 60.0, "count"),
                ("latency_seconds", 0.2, "seconds"),
                ("low_load_latency_seconds", 0.05, "seconds"),
            ]),
            FindingKind::TrivialAsync => e(&[("trivial_share", 0.98, "ratio")]),
            FindingKind::BlockingPoll => e(&[
                ("worst_poll_seconds", 0.03, "seconds"),
                ("blocked_seconds", 6.0, "seconds"),
                ("threshold_seconds", 0.01, "seconds"),
            ]),
            FindingKind::Materialization => e(&[
                ("peak_bytes", 8e6, "bytes"),
                ("threshold_bytes", 4e6, "bytes"),
            ]),
            FindingKind::ConnectionChurn => e(&[("new_connections_per_request", 1.0, "count")]),
            FindingKind::QueueGrowth => e(&[
                ("growth_per_second", 40.0, "items/second"),
                ("producer_per_second", 100.0, "items/second"),
                ("consumer_per_second", 60.0, "items/second"),
            ]),
            FindingKind::ExcessTasks => e(&[
                ("live_tasks", 20_000.0, "count"),
                ("threshold_tasks", 10_000.0, "count"),
            ]),
            FindingKind::AllocationAmplification => e(&[
                ("allocated_bytes_per_instance", 4e6, "bytes"),
                ("retained_bytes_per_instance", 1e6, "bytes"),
            ]),
            FindingKind::HeldAcrossAwait => e(&[
                ("mean_idle_seconds", 0.3, "seconds"),
                ("threshold_seconds", 0.15, "seconds"),
            ]),
            FindingKind::SlowWorkWhileHeld => e(&[
                ("inner_worst_seconds", 0.3, "seconds"),
                ("threshold_seconds", 0.15, "seconds"),
            ]),
            FindingKind::MissingDeadline => e(&[
                ("p50_seconds", 0.01, "seconds"),
                ("p99_seconds", 2.0, "seconds"),
            ]),
            FindingKind::DeadlineOverrun => e(&[
                ("worst_overrun_seconds", 0.4, "seconds"),
                ("grace_seconds", 0.05, "seconds"),
            ]),
        }
    }

    fn finding(kind: FindingKind, i: usize) -> Finding {
        Finding::new(
            kind,
            Severity::Warning,
            format!("site{i}"),
            "shop",
            format!("src/shop.rs:{i}"),
        )
        .with_count(1)
        .with_cost_seconds(1.0)
        .with_evidence(evidence_of(kind))
        .with_message("m")
        .with_fix("f")
    }

    fn report(findings: Vec<Finding>, trends: Vec<Trend>) -> Report {
        Report {
            version: "0.0.0",
            uptime_seconds: 30.0,
            findings,
            summary: Vec::new(),
            event_loop_lag: LagSummary {
                p50_seconds: None,
                p99_seconds: None,
                max_seconds: 0.0,
                samples: 0,
            },
            stalled_polls: 0,
            polls: 0,
            lag_history: Vec::new(),
            trends,
            notes: Vec::new(),
        }
    }

    /// The `<li>` of the finding of `kind`.
    fn item<'a>(page: &'a str, kind: &str) -> &'a str {
        let at = page
            .find(&format!("data-kind=\"{kind}\""))
            .unwrap_or_else(|| panic!("no {kind} finding"));
        let end = page[at..].find("</li>").expect("closed") + at;
        &page[at..end]
    }

    #[test]
    fn every_kind_is_drawn_with_its_figures_one_click_away() {
        let findings = FindingKind::ALL
            .iter()
            .enumerate()
            .map(|(i, &k)| finding(k, i))
            .collect();
        let page = render(&report(findings, Vec::new()));
        for kind in FindingKind::ALL {
            let li = item(&page, kind.as_str());
            assert!(
                li.contains("<svg class=\"mini\""),
                "{kind} has no chart: {li}"
            );
            assert!(li.contains("<details class=\"figures-table\">"), "{kind}");
            assert!(li.contains("<table class=\"evidence\">"), "{kind}");
        }
        // Still nothing but the page's own script, and nothing fetched.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
        assert!(!page.contains("<img"));
    }

    #[test]
    fn a_finding_without_a_picture_shows_its_table_open() {
        let mut f = finding(FindingKind::QueueGrowth, 1);
        f.evidence = vec![Evidence::new("depth", 500.0, "items")];
        let page = render(&report(vec![f], Vec::new()));
        let li = item(&page, "queue_growth");
        assert!(!li.contains("<svg") && !li.contains("<details"), "{li}");
        assert!(li.contains("<table class=\"evidence\">"));
    }

    #[test]
    fn trends_are_drawn_beside_the_finding_they_name() {
        let q = finding(FindingKind::QueueGrowth, 1);
        let c = finding(FindingKind::ConcurrencyAdvice, 2);
        let trend = |name, f: &Finding, values: &[f64]| Trend {
            name,
            span: f.span.clone(),
            location: f.location.clone(),
            unit: "count",
            points: values
                .iter()
                .enumerate()
                .map(|(i, &value)| TrendPoint {
                    uptime_seconds: i as f64,
                    value,
                })
                .collect(),
        };
        let trends = vec![
            trend("queue_depth", &q, &[100.0, 300.0, 731.0]),
            trend("in_flight", &c, &[10.0, 50.0, 64.0]),
        ];
        let page = render(&report(vec![q.clone(), c.clone()], trends));
        let queue = item(&page, "queue_growth");
        assert!(queue.contains("queue depth: rising"));
        assert!(queue.contains(">731</text>"), "the depth now is labelled");
        assert!(
            !queue.contains(">64</text>"),
            "another site's trend stays out"
        );
        let advice = item(&page, "concurrency_advice");
        assert!(advice.contains("<polyline class=\"line bad\""));
        assert!(advice.contains("recommended 16"), "the limit is drawn");
        // Without a trend the advice falls back to one bar of in flight.
        let page = render(&report(vec![c], Vec::new()));
        let advice = item(&page, "concurrency_advice");
        assert!(!advice.contains("<polyline") && advice.contains("in flight"));
    }
}
