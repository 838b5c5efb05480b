//! Pushes the doctor's families into the process's global metrics-rs
//! recorder, for services that already export through `metrics` and want
//! one scrape to carry both.
//!
//! metrics-rs histograms take raw observations, and the doctor's are
//! pre-bucketed, so histograms are pushed as their Prometheus series:
//! `_bucket{le}` and `_count` counters and a `_sum` gauge. PromQL reads them
//! exactly as it reads a native histogram.

use metrics::{Key, Label};

use crate::export::samples::{Family, Value};
use crate::export::table::MetricType;

pub(crate) fn push(families: &[Family]) {
    // `with_recorder` hands us the installed recorder (or a no-op one).
    metrics::with_recorder(|r| {
        for fam in families {
            let def = fam.def;
            for s in &fam.series {
                let base: Vec<Label> = def
                    .labels
                    .iter()
                    .zip(&s.labels)
                    .map(|(n, v)| Label::new(*n, v.clone()))
                    .collect();
                let meta = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
                match &s.value {
                    Value::Scalar(v) => {
                        let key = Key::from_parts(def.name, base);
                        match def.kind {
                            MetricType::Counter => {
                                r.register_counter(&key, &meta).absolute(*v as u64)
                            }
                            _ => r.register_gauge(&key, &meta).set(*v),
                        }
                    }
                    Value::Histogram {
                        bounds,
                        counts,
                        sum,
                    } => {
                        let mut cumulative = 0;
                        for (i, c) in counts.iter().enumerate() {
                            cumulative += c;
                            let le = bounds
                                .get(i)
                                .map(|b| b.to_string())
                                .unwrap_or_else(|| "+Inf".into());
                            let mut labels = base.clone();
                            labels.push(Label::new("le", le));
                            let key = Key::from_parts(format!("{}_bucket", def.name), labels);
                            r.register_counter(&key, &meta).absolute(cumulative);
                        }
                        let key = Key::from_parts(format!("{}_count", def.name), base.clone());
                        r.register_counter(&key, &meta).absolute(cumulative);
                        let key = Key::from_parts(format!("{}_sum", def.name), base);
                        r.register_gauge(&key, &meta).set(*sum);
                    }
                }
            }
        }
    });
}
