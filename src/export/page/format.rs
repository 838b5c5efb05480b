//! Numbers for people: one place that decides how a duration, a size or a
//! rate reads on the page, and the one escape every dynamic string takes.

/// Escapes text for HTML element content and quoted attribute values (SVG
/// text included).
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

/// A duration for people: `40 ns`, `850 µs`, `20.1 ms`, `1.250 s`, `3 m 20 s`.
pub(super) fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        "∞".into()
    } else if secs <= 0.0 {
        "0 s".into()
    } else if secs < 1e-6 {
        format!("{:.0} ns", secs * 1e9)
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
pub(super) fn elapsed(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else {
        duration(secs)
    }
}

/// A plain number with no more digits than a glance needs: `541`, `12.5`,
/// `0.25`, `1.2 k`, `3.4 M`.
pub(super) fn number(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "∞".into()
    } else if a >= 1e6 {
        format!("{:.1} M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", v / 1e3)
    } else if v.fract() == 0.0 || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A figure in its unit, as the evidence table and the charts show it.
pub(super) fn figure(value: f64, unit: &str) -> String {
    match unit {
        "seconds" => duration(value),
        "bytes" if value >= 1024.0 * 1024.0 => format!("{:.1} MiB", value / (1024.0 * 1024.0)),
        "bytes" if value >= 1024.0 => format!("{:.1} KiB", value / 1024.0),
        "bytes" => format!("{value:.0} B"),
        "ratio" => format!("{:.0} %", value * 100.0),
        "bool" => if value != 0.0 { "yes" } else { "no" }.into(),
        _ if unit.ends_with("/second") => format!("{}/s", number(value)),
        "count" | "items" => number(value),
        _ if value.fract() == 0.0 && value.abs() < 1e15 => format!("{value:.0}"),
        _ => format!("{value:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn rates_shares_and_flags_read_as_such() {
        assert_eq!(figure(12.345, "items/second"), "12.3/s");
        assert_eq!(figure(0.25, "ratio"), "25 %");
        assert_eq!(figure(1.0, "bool"), "yes");
        assert_eq!(figure(0.0, "bool"), "no");
        assert_eq!(number(15_300.0), "15.3 k");
        assert_eq!(number(0.333), "0.33");
        assert_eq!(number(16.0), "16");
        assert_eq!(figure(3.73, "count"), "3.7");
        assert_eq!(duration(0.000_000_04), "40 ns");
    }
}
