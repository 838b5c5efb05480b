//! The doctor reads a span's name, target and `file:line`, and only the
//! field values it documents (the spawn location of tokio's task spans);
//! it never exports a field value: not in a label, not in the report.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::Instrument;

const SECRET: &str = "s3cr3t-user-token";

#[test]
fn field_values_are_not_in_metrics_or_the_report() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        tokio::spawn(
            async {
                tracing::Span::current().record("user", SECRET);
                support::spin_for(Duration::from_millis(15))
            }
            .instrument(tracing::info_span!(
                "login",
                token = SECRET,
                user = tracing::field::Empty,
                otel.kind = "client",
                db.statement = SECRET,
            )),
        )
        .await
        .unwrap();
    });
    assert_eq!(
        support::of_kind(&doctor, FindingKind::BlockingPoll)
            .iter()
            .filter(|f| f.span == "login")
            .count(),
        1
    );
    let metrics = doctor.render_prometheus();
    let report = serde_json::to_string(&doctor.report()).unwrap();
    assert!(!metrics.contains(SECRET), "{metrics}");
    assert!(!report.contains(SECRET), "{report}");
}
