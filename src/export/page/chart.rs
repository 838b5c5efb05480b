//! Small inline SVG charts: bars against a limit, a short trend against a
//! limit, and a serial-versus-concurrent timeline. Drawn on the server as
//! plain markup (no script, nothing fetched), so they pass the page's CSP
//! and show with scripts off.
//!
//! Every chart is a `<figure class="chart">` with a caption saying what it
//! shows, and fixed pixel sizes so its text is never stretched.

use std::fmt::Write;

use super::format::{elapsed, escape, figure};
use crate::export::report::TrendPoint;

/// Width of every chart, in pixels: three fit beside the figures table.
const W: f64 = 300.0;
/// Where bars start: their labels sit to the left.
const LABEL_W: f64 = 88.0;
/// Room right of the longest bar for its value.
const VALUE_W: f64 = 66.0;
const ROW_H: f64 = 20.0;

/// How a bar or a line reads: the problem, what good looks like, or
/// neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Bad,
    Good,
    Plain,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Bad => "bad",
            Tone::Good => "good",
            Tone::Plain => "plain",
        }
    }
}

/// One bar: a label, a value in the chart's unit and its tone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bar<'a> {
    pub(super) label: &'a str,
    pub(super) value: f64,
    pub(super) tone: Tone,
}

/// A reference value drawn across a chart as a dashed line: a threshold,
/// a recommended limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit<'a> {
    pub(super) label: &'a str,
    pub(super) value: f64,
}

fn open(out: &mut String, caption: &str, h: f64, aria: &str) {
    let _ = write!(
        out,
        "<figure class=\"chart\"><figcaption>{}</figcaption>\
         <svg class=\"mini\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\" \
         aria-label=\"{}\">",
        escape(caption),
        escape(aria),
    );
}

fn close(out: &mut String) {
    out.push_str("</svg></figure>\n");
}

/// Horizontal bars on one linear scale from zero, with an optional dashed
/// limit. Bars with a non-finite or negative value are left out; nothing
/// is drawn when none is left.
pub(super) fn bars(
    out: &mut String,
    caption: &str,
    unit: &str,
    rows: &[Bar<'_>],
    limit: Option<Limit<'_>>,
) {
    let rows: Vec<&Bar<'_>> = rows
        .iter()
        .filter(|b| b.value.is_finite() && b.value >= 0.0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let top = if limit.is_some() { 14.0 } else { 2.0 };
    let h = top + rows.len() as f64 * ROW_H + 2.0;
    let highest = rows
        .iter()
        .map(|b| b.value)
        .chain(limit.map(|l| l.value))
        .fold(0.0, f64::max);
    let span = W - LABEL_W - VALUE_W;
    let x = |v: f64| {
        if highest > 0.0 {
            LABEL_W + v / highest * span
        } else {
            LABEL_W
        }
    };
    open(out, caption, h, caption);
    for (i, b) in rows.iter().enumerate() {
        let y = top + i as f64 * ROW_H;
        let end = x(b.value);
        // A sliver even for zero, so the row reads as "measured, nothing".
        let width = (end - LABEL_W).max(1.5);
        let _ = write!(
            out,
            "<text class=\"label\" x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"{tone}\" x=\"{LABEL_W}\" y=\"{ry:.1}\" width=\"{width:.1}\" height=\"13\" rx=\"2\"/>\
             <text class=\"value\" x=\"{vx:.1}\" y=\"{ty:.1}\">{value}</text>",
            lx = LABEL_W - 6.0,
            ty = y + 12.0,
            label = escape(b.label),
            tone = b.tone.class(),
            ry = y + 2.0,
            vx = LABEL_W + width + 4.0,
            value = escape(&figure(b.value, unit)),
        );
    }
    if let Some(l) = limit {
        let lx = x(l.value);
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"{lx:.1}\" x2=\"{lx:.1}\" y1=\"{y1:.1}\" y2=\"{h:.1}\"/>\
             <text class=\"limit-label\" x=\"{lx:.1}\" y=\"10\" text-anchor=\"{anchor}\">{label} {value}</text>",
            y1 = top - 2.0,
            anchor = if lx > W - 90.0 { "end" } else { "middle" },
            label = escape(l.label),
            value = escape(&figure(l.value, unit)),
        );
    }
    close(out);
}

/// A share of a whole, 0 to 1: one bar on a 0–100 % track.
pub(super) fn share(out: &mut String, caption: &str, label: &str, value: f64, tone: Tone) {
    if !value.is_finite() {
        return;
    }
    let value = value.clamp(0.0, 1.0);
    let span = W - LABEL_W - VALUE_W;
    open(out, caption, 24.0, caption);
    let _ = write!(
        out,
        "<text class=\"label\" x=\"{lx:.1}\" y=\"14\" text-anchor=\"end\">{label}</text>\
         <rect class=\"track\" x=\"{LABEL_W}\" y=\"4\" width=\"{span:.1}\" height=\"13\" rx=\"2\"/>\
         <rect class=\"{tone}\" x=\"{LABEL_W}\" y=\"4\" width=\"{width:.1}\" height=\"13\" rx=\"2\"/>\
         <text class=\"value\" x=\"{vx:.1}\" y=\"14\">{value}</text>",
        lx = LABEL_W - 6.0,
        label = escape(label),
        tone = tone.class(),
        width = (value * span).max(1.5),
        vx = LABEL_W + span + 4.0,
        value = escape(&figure(value, "ratio")),
    );
    close(out);
}

/// One line of a trend chart.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    pub(super) legend: &'a str,
    pub(super) points: &'a [TrendPoint],
    pub(super) tone: Tone,
}

/// Lines over the last minutes, from zero up, with an optional dashed
/// limit; the first line is filled below. Nothing is drawn when no line
/// has two points.
pub(super) fn trend(
    out: &mut String,
    caption: &str,
    unit: &str,
    lines: &[Line<'_>],
    limit: Option<Limit<'_>>,
) {
    const H: f64 = 96.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 14.0;
    const RIGHT: f64 = 44.0;
    let lines: Vec<&Line<'_>> = lines.iter().filter(|l| l.points.len() >= 2).collect();
    let Some(first) = lines.first() else {
        return;
    };
    let t0 = lines
        .iter()
        .map(|l| l.points[0].uptime_seconds)
        .fold(f64::INFINITY, f64::min);
    let t1 = lines
        .iter()
        .map(|l| l.points[l.points.len() - 1].uptime_seconds)
        .fold(f64::NEG_INFINITY, f64::max);
    let secs = (t1 - t0).max(1.0);
    let highest = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.value))
        .chain(limit.map(|l| l.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let plot_w = W - RIGHT;
    let x = |p: &TrendPoint| (p.uptime_seconds - t0) / secs * plot_w;
    let y = |v: f64| TOP + (1.0 - (v.max(0.0) / highest).min(1.0)) * (H - TOP - BOTTOM);
    let path = |pts: &[TrendPoint]| {
        let mut s = String::new();
        for p in pts.iter().filter(|p| p.value.is_finite()) {
            let _ = write!(s, "{:.1},{:.1} ", x(p), y(p.value));
        }
        s
    };
    open(out, caption, H, caption);
    let base = y(0.0);
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"0\" x2=\"{plot_w}\" y1=\"{base:.1}\" y2=\"{base:.1}\"/>\
         <polygon class=\"area {tone}\" points=\"{x0:.1},{base:.1} {pts}{x1:.1},{base:.1}\"/>",
        tone = first.tone.class(),
        x0 = x(&first.points[0]),
        pts = path(first.points),
        x1 = x(&first.points[first.points.len() - 1]),
    );
    for l in &lines {
        let last = l.points[l.points.len() - 1];
        let _ = write!(
            out,
            "<polyline class=\"line {tone}\" points=\"{pts}\"/>\
             <text class=\"value {tone}\" x=\"{vx:.1}\" y=\"{vy:.1}\">{value}</text>",
            tone = l.tone.class(),
            pts = path(l.points),
            vx = x(&last) + 4.0,
            vy = y(last.value) + 4.0,
            value = escape(&figure(last.value, unit)),
        );
    }
    if let Some(l) = limit {
        let ly = y(l.value);
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"0\" x2=\"{plot_w}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\"/>\
             <text class=\"limit-label\" x=\"2\" y=\"{ty:.1}\">{label} {value}</text>",
            ty = ly - 3.0,
            label = escape(l.label),
            value = escape(&figure(l.value, unit)),
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis-label\" x=\"0\" y=\"{H}\" dy=\"-2\">{ago} ago</text>\
         <text class=\"axis-label\" x=\"{plot_w}\" y=\"{H}\" dy=\"-2\" text-anchor=\"end\">now</text>\
         <text class=\"axis-label\" x=\"0\" y=\"10\">{top}</text>",
        ago = elapsed(secs),
        top = escape(&figure(highest, unit)),
    );
    // A legend only where there is more than one line, in their colours.
    if lines.len() > 1 {
        let _ = write!(
            out,
            "<text class=\"axis-label\" x=\"{plot_w}\" y=\"10\" text-anchor=\"end\">"
        );
        for (i, l) in lines.iter().enumerate() {
            let _ = write!(
                out,
                "{sep}<tspan class=\"legend {tone}\">{legend}</tspan>",
                sep = if i == 0 { "" } else { " · " },
                tone = l.tone.class(),
                legend = escape(l.legend),
            );
        }
        out.push_str("</text>");
    }
    close(out);
}

/// `chain` calls of `each` seconds one after another, as written, above
/// the same calls started together: the time a join would save, drawn.
pub(super) fn serial_timeline(out: &mut String, chain: f64, each: f64) {
    if !(chain >= 2.0 && each.is_finite() && each > 0.0) {
        return;
    }
    // Past a few dozen segments they blur into one bar: draw that many
    // and say the real count in the labels.
    let n = chain.min(40.0) as usize;
    let span = W - LABEL_W - VALUE_W;
    let seg = span / n as f64;
    let caption = format!(
        "{} awaits one after another vs started together",
        chain as u64
    );
    open(out, &caption, 2.0 * ROW_H + 4.0, &caption);
    let _ = write!(
        out,
        "<text class=\"label\" x=\"{lx:.1}\" y=\"14\" text-anchor=\"end\">as written</text>\
         <text class=\"label\" x=\"{lx:.1}\" y=\"34\" text-anchor=\"end\">joined</text>",
        lx = LABEL_W - 6.0
    );
    for i in 0..n {
        let _ = write!(
            out,
            "<rect class=\"bad seg\" x=\"{:.1}\" y=\"4\" width=\"{:.1}\" height=\"13\" rx=\"1.5\"/>",
            LABEL_W + i as f64 * seg,
            (seg - 1.0).max(0.5),
        );
    }
    let _ = write!(
        out,
        "<text class=\"value\" x=\"{vx:.1}\" y=\"14\">{total}</text>\
         <rect class=\"good\" x=\"{LABEL_W}\" y=\"24\" width=\"{w:.1}\" height=\"13\" rx=\"1.5\"/>\
         <text class=\"value\" x=\"{jx:.1}\" y=\"34\">{one}</text>",
        vx = LABEL_W + span + 4.0,
        total = escape(&figure(chain * each, "seconds")),
        w = (seg - 1.0).max(1.5),
        jx = LABEL_W + seg + 4.0,
        one = escape(&figure(each, "seconds")),
    );
    close(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[f64]) -> Vec<TrendPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| TrendPoint {
                uptime_seconds: i as f64,
                value,
            })
            .collect()
    }

    #[test]
    fn bars_scale_to_the_largest_value_or_limit_and_escape_labels() {
        let mut out = String::new();
        let rows = [
            Bar {
                label: "<worst>",
                value: 0.02,
                tone: Tone::Bad,
            },
            Bar {
                label: "gone",
                value: f64::NAN,
                tone: Tone::Plain,
            },
        ];
        let limit = Limit {
            label: "threshold",
            value: 0.01,
        };
        bars(&mut out, "poll", "seconds", &rows, Some(limit));
        assert!(out.contains("&lt;worst&gt;") && !out.contains("<worst>"));
        assert!(out.contains("20.0 ms") && out.contains("threshold 10.0 ms"));
        assert_eq!(out.matches("<rect").count(), 1, "the NaN bar is left out");
        // The worst bar spans the whole scale; the limit sits half-way.
        let span = W - LABEL_W - VALUE_W;
        assert!(out.contains(&format!("width=\"{span:.1}\"")), "{out}");
        assert!(out.contains(&format!("x1=\"{:.1}\"", LABEL_W + span / 2.0)));
        let mut none = String::new();
        bars(&mut none, "empty", "count", &rows[1..], None);
        assert!(none.is_empty());
    }

    #[test]
    fn a_trend_needs_two_points_and_draws_its_limit_and_last_value() {
        let mut out = String::new();
        let one = points(&[3.0]);
        let many = points(&[0.0, 10.0, 40.0]);
        fn line(points: &[TrendPoint]) -> Line<'_> {
            Line {
                legend: "in flight",
                points,
                tone: Tone::Bad,
            }
        }
        trend(&mut out, "c", "count", &[line(&one)], None);
        assert!(out.is_empty());
        let limit = Limit {
            label: "recommended",
            value: 16.0,
        };
        trend(&mut out, "c", "count", &[line(&many)], Some(limit));
        assert!(out.contains("<polyline class=\"line bad\""));
        assert!(out.contains("recommended 16"));
        assert!(out.contains(">40</text>"), "the last value is labelled");
        assert!(out.contains("2 s ago"));
    }

    #[test]
    fn the_serial_timeline_shows_the_chain_and_the_join() {
        let mut out = String::new();
        serial_timeline(&mut out, 5.0, 0.02);
        assert_eq!(out.matches("class=\"bad seg\"").count(), 5);
        assert!(out.contains("100.0 ms") && out.contains("20.0 ms"));
        let mut none = String::new();
        serial_timeline(&mut none, 1.0, 0.02);
        assert!(none.is_empty());
    }
}
