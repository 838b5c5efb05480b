//! Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use crate::export::samples::{Family, Value};

/// Content type of the text format, for the `/metrics` response.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value as the text format requires.
pub(crate) fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn number(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

fn labels(names: &[&str], values: &[String], extra: Option<(&str, &str)>, out: &mut String) {
    if names.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (n, v) in names
        .iter()
        .zip(values)
        .map(|(n, v)| (*n, v.as_str()))
        .chain(extra)
    {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(n);
        out.push_str("=\"");
        escape_label(v, out);
        out.push('"');
    }
    out.push('}');
}

/// Renders families as Prometheus text.
pub(crate) fn render(families: &[Family]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for fam in families {
        let def = fam.def;
        out.push_str("# HELP ");
        out.push_str(def.name);
        out.push(' ');
        escape_help(def.help, &mut out);
        out.push_str("\n# TYPE ");
        out.push_str(def.name);
        out.push(' ');
        out.push_str(def.kind.as_str());
        out.push('\n');
        for s in &fam.series {
            match &s.value {
                Value::Scalar(v) => {
                    out.push_str(def.name);
                    labels(def.labels, &s.labels, None, &mut out);
                    out.push(' ');
                    number(*v, &mut out);
                    out.push('\n');
                }
                Value::Histogram {
                    bounds,
                    counts,
                    sum,
                } => {
                    let mut cumulative = 0u64;
                    for (i, c) in counts.iter().enumerate() {
                        cumulative += c;
                        let le = bounds
                            .get(i)
                            .map(|b| b.to_string())
                            .unwrap_or_else(|| "+Inf".into());
                        let _ = write!(out, "{}_bucket", def.name);
                        labels(def.labels, &s.labels, Some(("le", &le)), &mut out);
                        let _ = writeln!(out, " {cumulative}");
                    }
                    let _ = write!(out, "{}_sum", def.name);
                    labels(def.labels, &s.labels, None, &mut out);
                    out.push(' ');
                    number(*sum, &mut out);
                    let _ = write!(out, "\n{}_count", def.name);
                    labels(def.labels, &s.labels, None, &mut out);
                    let _ = writeln!(out, " {cumulative}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_text_format_requires() {
        let mut out = String::new();
        escape_label("a\"b\\c\nd", &mut out);
        assert_eq!(out, r#"a\"b\\c\nd"#);
    }
}
