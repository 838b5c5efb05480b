//! The `/doctor` page: the report as HTML, for a person with a browser and
//! no Grafana.
//!
//! The page shell (styles, and a few lines of script that swap in a fresh
//! report every few seconds) is `page.html`, embedded in the crate: no build
//! step, no CDN, nothing fetched but the page itself. The report is rendered
//! here, on the server, so the page shows the findings even with scripts
//! off, and every dynamic string goes through [`escape`] once, in one place.

use std::fmt::Write;

use crate::export::report::{LagPoint, Report};
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

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

/// A duration for people: `850 µs`, `20.1 ms`, `1.250 s`, `3 m 20 s`.
fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        "∞".into()
    } else if secs <= 0.0 {
        "0 s".into()
    } else if secs < 0.001 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else if secs < 120.0 {
        format!("{secs:.3} s")
    } else if secs < 7200.0 {
        format!("{} m {} s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{} h {} m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

/// A stretch of time in whole units: `23 s`, `10 m 0 s`.
fn elapsed(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else {
        duration(secs)
    }
}

fn figure(value: f64, unit: &str) -> String {
    match unit {
        "seconds" => duration(value),
        "bytes" if value >= 1024.0 * 1024.0 => format!("{:.1} MiB", value / (1024.0 * 1024.0)),
        "bytes" if value >= 1024.0 => format!("{:.1} KiB", value / 1024.0),
        "bytes" => format!("{value:.0} B"),
        _ if value.fract() == 0.0 && value.abs() < 1e15 => format!("{value:.0}"),
        _ => format!("{value:.3}"),
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
            finding(f, out);
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

fn finding(f: &Finding, out: &mut String) {
    let sev = severity(f.severity);
    let _ = write!(
        out,
        "<li class=\"finding sev-{sev}\" data-kind=\"{kind}\">\n<div class=\"head\">\
         <span class=\"sev\">{sev}</span><code class=\"kind\">{kind}</code>\
         <span class=\"site\"><code class=\"span\">{span}</code> <small>at</small> \
         <code class=\"location\">{location}</code></span>\
         <span class=\"cost\" title=\"what it cost since start\">{cost}</span></div>\n\
         <p class=\"msg\">{msg}</p>\n<table class=\"evidence\">",
        kind = escape(f.kind.as_str()),
        span = escape(&f.span),
        location = escape(&f.location),
        cost = duration(f.cost_seconds),
        msg = escape(&f.message),
    );
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
    let _ = write!(
        out,
        "</table>\n<p class=\"fix\"><b>Fix:</b> {}</p>\n</li>\n",
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
        }
    }

    #[test]
    fn every_dynamic_string_is_escaped() {
        let f = Finding {
            kind: FindingKind::BlockingPoll,
            severity: Severity::Critical,
            span: "<script>alert(1)</script>".into(),
            target: "a&b".into(),
            location: "src/\"x\".rs:1".into(),
            count: 3,
            peak: None,
            cost_seconds: 1.5,
            evidence: vec![Evidence::new("worst_poll_seconds", 0.25, "seconds")],
            message: "it's <bad>".into(),
            fix: "use <spawn_blocking>".into(),
        };
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

    #[test]
    fn durations_read_in_the_unit_a_person_expects() {
        assert_eq!(duration(0.000_25), "250 µs");
        assert_eq!(duration(0.0201), "20.1 ms");
        assert_eq!(duration(9.02), "9.020 s");
        assert_eq!(duration(200.0), "3 m 20 s");
        assert_eq!(duration(7300.0), "2 h 1 m");
        assert_eq!(duration(0.0), "0 s");
        assert_eq!(elapsed(23.4), "23 s");
        assert_eq!(figure(541.0, "count"), "541");
        assert_eq!(figure(3.0 * 1024.0 * 1024.0, "bytes"), "3.0 MiB");
    }
}
