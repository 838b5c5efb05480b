//! Scenario 1: a loop that awaits 20 independent 5 ms calls one after
//! another is reported with its chain length and the seconds running them
//! concurrently would save; the same calls through `join_all`, a `JoinSet`
//! or `buffer_unordered`, and a loop marked `doctor.sequential =
//! "intended"`, are silent.
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use tokio_doctor::FindingKind;
use tracing::{info_span, Instrument};

async fn fetch_profile(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    id
}

#[test]
fn a_loop_of_awaits_is_a_chain_with_its_avoidable_seconds() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("serial_awaits_fires_on_a_loop_of_awaits_and_not_on_joined_calls.rs"),
        "MARK: serial fetch",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        tokio::spawn(
            async {
                let mut out = Vec::new();
                for id in 0..20 {
                    let span = info_span!("fetch_profile", otel.kind = "client"); // MARK: serial fetch
                    out.push(fetch_profile(id).instrument(span).await);
                }
                out
            }
            .instrument(info_span!("load_profiles")),
        )
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::SerialAwaits);
    let f = found
        .iter()
        .find(|f| f.span == "fetch_profile")
        .unwrap_or_else(|| panic!("{found:#?}"));
    let expected = format!("{}:{line}", file!());
    assert_eq!(f.location, expected);
    assert_eq!(f.count, 1, "one chain");
    assert_eq!(f.evidence("longest_chain"), Some(20.0));
    assert_eq!(f.evidence("calls"), Some(20.0));
    let avoidable = f.evidence("avoidable_seconds").unwrap();
    // 19 of the 20 calls (each at least 5 ms) could have overlapped the longest.
    assert!((0.09..=2.0).contains(&avoidable), "{avoidable}");
    assert_eq!(f.cost_seconds, avoidable);
    assert!(
        f.message.contains("load_profiles") && f.message.contains(&expected),
        "{}",
        f.message
    );
    assert!(f.fix.contains("join_all"), "{}", f.fix);
    let text = doctor.render_prometheus();
    assert!(
        text.contains(&format!(
            "tokio_doctor_serial_avoidable_seconds_total{{span=\"fetch_profile\",location=\"{expected}\"}}"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "tokio_doctor_findings_total{{kind=\"serial_awaits\",span=\"fetch_profile\",location=\"{expected}\"}} 1"
    )));
}

#[test]
fn joined_bounded_and_intended_sequences_are_silent() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let joined = tokio::spawn(
            async {
                let calls =
                    (0..20).map(|id| fetch_profile(id).instrument(info_span!("fetch_joined")));
                futures_util::future::join_all(calls).await
            }
            .instrument(info_span!("load_joined")),
        );
        let join_set = tokio::spawn(
            async {
                let mut set = tokio::task::JoinSet::new();
                for id in 0..20 {
                    set.spawn(fetch_profile(id).instrument(info_span!("fetch_join_set")));
                }
                set.join_all().await
            }
            .instrument(info_span!("load_join_set")),
        );
        let buffered = tokio::spawn(
            async {
                futures_util::stream::iter(0..40)
                    .map(|id| fetch_profile(id).instrument(info_span!("fetch_buffered")))
                    .buffer_unordered(4)
                    .collect::<Vec<_>>()
                    .await
            }
            .instrument(info_span!("load_buffered")),
        );
        // Each page needs the previous page's cursor: sequential on purpose.
        let intended = tokio::spawn(
            async {
                let mut cursor = 0;
                for _ in 0..20 {
                    cursor = fetch_profile(cursor + 1)
                        .instrument(info_span!("fetch_page"))
                        .await;
                }
                cursor
            }
            .instrument(info_span!("paginate", doctor.sequential = "intended")),
        );
        joined.await.unwrap();
        join_set.await.unwrap();
        buffered.await.unwrap();
        intended.await.unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::SerialAwaits);
    assert!(found.is_empty(), "{found:#?}");
}
