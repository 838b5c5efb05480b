//! The layer must never panic and must count right whatever order span
//! events arrive in.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::Instrument;

fn current_thread(doctor: &tokio_doctor::Doctor) -> (tokio::runtime::Runtime, tracing::Dispatch) {
    use tracing_subscriber::prelude::*;
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (rt, dispatch)
}

#[test]
fn a_reentered_span_is_timed_once() {
    let doctor = support::doctor();
    let (rt, dispatch) = current_thread(&doctor);
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let span = tracing::info_span!("reentered");
            let inner = span.clone();
            async move {
                // Entering the span again while it is entered.
                inner.in_scope(|| support::spin_for(Duration::from_millis(15)));
            }
            .instrument(span)
            .await;
        })
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].span.as_str(), found[0].count), ("reentered", 1));
}

#[test]
fn blame_goes_to_the_span_with_the_most_self_time() {
    let doctor = support::doctor();
    let (rt, dispatch) = current_thread(&doctor);
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(
            async {
                support::spin_for(Duration::from_millis(30));
                tracing::info_span!("small_helper")
                    .in_scope(|| support::spin_for(Duration::from_millis(3)));
            }
            .instrument(tracing::info_span!("heavy_handler")),
        )
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].span, "heavy_handler");
    let self_s = found[0].evidence("self_seconds").unwrap();
    let total = found[0].evidence("blocked_seconds").unwrap();
    assert!(
        self_s >= 0.03 && self_s < total,
        "self {self_s} total {total}"
    );
}

#[test]
fn out_of_order_and_cross_thread_exits_do_not_panic_or_leak() {
    // A threshold no step here can reach, even when spawning and joining
    // the thread below waits on a loaded host: this test is about panics
    // and leaks, not timing.
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .blocking_poll_threshold(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let (rt, dispatch) = current_thread(&doctor);
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let a = tracing::info_span!("a");
            let b = tracing::info_span!("b");
            // Exits in the wrong order.
            let ga = a.enter();
            let gb = b.enter();
            drop(ga);
            drop(gb);
            // Exit of a span never entered, and an exit on another thread.
            let c = tracing::info_span!("c");
            let id = c.id().unwrap();
            tracing::dispatcher::get_default(|d| d.exit(&id));
            tracing::dispatcher::get_default(|d| d.enter(&id));
            let d2 = dispatch.clone();
            let id2 = id.clone();
            std::thread::spawn(move || d2.exit(&id2)).join().unwrap();
            tracing::dispatcher::get_default(|d| d.exit(&id));
            // Close while entered.
            let e = tracing::info_span!("e");
            let ge = e.enter();
            let e_id = e.id().unwrap();
            drop(e.clone());
            std::mem::forget(ge);
            tracing::dispatcher::get_default(|d| d.exit(&e_id));
            drop(e);
        })
    });
    assert!(support::of_kind(&doctor, FindingKind::BlockingPoll).is_empty());
    let text = doctor.render_prometheus();
    assert!(
        text.contains("tokio_doctor_live_spans 0"),
        "every span state is freed: {text}"
    );
}

#[test]
fn deep_nesting_beyond_the_tracked_depth_is_tolerated() {
    let doctor = support::doctor();
    let (rt, dispatch) = current_thread(&doctor);
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let spans: Vec<_> = (0..100)
                .map(|i| tracing::info_span!("deep", depth = i))
                .collect();
            let guards: Vec<_> = spans.iter().map(|s| s.enter()).collect();
            support::spin_for(Duration::from_millis(12));
            drop(guards);
        })
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].count, 1);
}
