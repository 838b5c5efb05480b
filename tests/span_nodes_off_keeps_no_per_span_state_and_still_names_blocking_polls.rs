//! `span_nodes(false)`: ordinary spans get no per-span state (opening one
//! does not move the live-span gauge), and the poll-level detectors, which
//! never needed it, still name a blocking span.
mod support;

/// The live-span gauge (tokio's own task spans, with `tokio_unstable`,
/// always have a node, so tests compare before and after).
fn live(doctor: &Doctor) -> f64 {
    let text = doctor.render_prometheus();
    text.lines()
        .find_map(|l| l.strip_prefix("tokio_doctor_live_spans "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{text}"))
}

use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind};
use tracing::Instrument;

#[test]
fn spans_carry_no_node_and_a_blocking_span_is_still_named() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .span_nodes(false)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let before = live(&doctor);
        let open = tracing::info_span!("held_open_for_the_check");
        assert_eq!(live(&doctor), before);
        drop(open);
        tokio::spawn(
            async {
                support::spin_for(Duration::from_millis(30));
            }
            .instrument(tracing::info_span!("hash_inline")),
        )
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert!(found.iter().any(|f| f.span == "hash_inline"), "{found:#?}");
}

#[test]
fn by_default_every_open_span_has_a_node() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let before = live(&doctor);
        let open = tracing::info_span!("held_open_for_the_check");
        assert_eq!(live(&doctor), before + 1.0);
        drop(open);
        assert_eq!(live(&doctor), before);
    });
}
