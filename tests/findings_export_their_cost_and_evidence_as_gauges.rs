//! Findings are data: the same finding feeds the findings counter, a gauge
//! of its cost, a gauge per evidence figure and the report, so a dashboard
//! shows exactly what /doctor shows.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::Instrument;

#[test]
fn every_evidence_figure_and_the_cost_of_a_finding_are_exported_with_its_call_site() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        tokio::spawn(
            async { support::spin_for(Duration::from_millis(30)) }
                .instrument(tracing::info_span!("exported_blocker")),
        )
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    let text = doctor.render_prometheus();
    let site = format!(
        "kind=\"blocking_poll\",span=\"exported_blocker\",location=\"{}\"",
        f.location
    );
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} missing from\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let cost = value(&format!("tokio_doctor_finding_cost_seconds{{{site}}}"));
    assert!(cost >= 0.03, "{cost}");
    assert!(f.evidence.len() >= 4);
    for e in &f.evidence {
        let v = value(&format!(
            "tokio_doctor_finding_evidence{{{site},evidence=\"{}\"}}",
            e.name
        ));
        // The report may have been taken a moment before the scrape.
        assert!(
            (v - e.value).abs() <= e.value.abs() * 0.5 + 0.01,
            "{}: {v} vs {}",
            e.name,
            e.value
        );
        assert_eq!(
            e.unit == "seconds",
            e.name.ends_with("_seconds"),
            "{} says its unit",
            e.name
        );
    }
}
