//! Labels are bounded by the cap: call sites past it share `other`, and a
//! counter says how many were folded.
mod support;

use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind};
use tracing::Instrument;

#[test]
fn call_sites_past_the_cap_are_reported_as_other_and_counted() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .label_cap(2)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        tokio::spawn(async {
            // Four distinct call sites, each blocking once.
            let spin = || async { support::spin_for(Duration::from_millis(15)) };
            spin().instrument(tracing::info_span!("site_a")).await;
            spin().instrument(tracing::info_span!("site_b")).await;
            spin().instrument(tracing::info_span!("site_c")).await;
            spin().instrument(tracing::info_span!("site_d")).await;
        })
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    let mut spans: Vec<&str> = found.iter().map(|f| f.span.as_str()).collect();
    spans.sort();
    // The support runtime's unrelated spans may take the first slots; what
    // matters is that at most `cap` sites plus `other` carry labels.
    assert!(spans.contains(&"other"), "{spans:?}");
    let text = doctor.render_prometheus();
    let blocked_series = text
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_blocking_poll_seconds_total{"))
        .count();
    assert!(blocked_series <= 3, "cap 2 + other: {text}");
    let other = found.iter().find(|f| f.span == "other").unwrap();
    assert_eq!(other.location, "other");
    let folded: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tokio_doctor_labels_folded_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        folded >= 2.0,
        "at least site_c and site_d were folded: {folded}"
    );
    assert!(text.contains("tokio_doctor_call_sites 2"), "{text}");
}
