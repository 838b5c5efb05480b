//! Scenario 12: outbound calls without a deadline are counted with their
//! p99, a hung one is reported while it hangs, a deadline that does not
//! cancel (work spawned off) is an overrun, and the join names the child
//! that set its latency; calls inside `tokio_doctor::deadline`, or with a
//! `timeout_ms` field, stay silent.
mod support;

use std::time::Duration;

use tokio_doctor::{DeadlineExt, Doctor, FindingKind};
use tracing::Instrument;

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .hang_limit(Duration::from_millis(300))
        .build()
        .unwrap()
}

/// A backend call taking `ms`.
async fn call_backend(ms: u64) {
    let span = tracing::info_span!("call_backend", otel.kind = "client"); // MARK: call
    tokio::time::sleep(Duration::from_millis(ms))
        .instrument(span)
        .await;
}

#[test]
fn calls_without_a_deadline_are_reported_with_their_p99_and_hangs() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("missing_deadline_and_overrun_fire_and_a_cancelling_deadline_is_silent.rs"),
        "MARK: call",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        for _ in 0..5 {
            tokio::spawn(call_backend(120).instrument(tracing::info_span!("handler")))
                .await
                .unwrap();
        }
        let hung = tokio::spawn(call_backend(60_000));
        let seen = support::eventually(Duration::from_secs(3), || {
            support::of_kind(&doctor, FindingKind::MissingDeadline)
                .iter()
                .any(|f| f.evidence("hung_now") == Some(1.0))
        })
        .await;
        let text = doctor.render_prometheus();
        hung.abort();
        // Wait for the cancelled task to be dropped (and its span closed).
        let _ = hung.await;
        assert!(seen, "{:#?}", doctor.findings());
        assert!(
            text.lines().any(
                |l| l.starts_with("tokio_doctor_hung_calls{span=\"call_backend\"")
                    && l.ends_with(" 1")
            ),
            "{text}"
        );
    });
    let found = support::of_kind(&doctor, FindingKind::MissingDeadline);
    let f = found
        .iter()
        .find(|f| f.span == "call_backend")
        .expect("call_backend");
    assert!(
        f.location.ends_with(&format!(
            "missing_deadline_and_overrun_fire_and_a_cancelling_deadline_is_silent.rs:{line}"
        )),
        "{}",
        f.location
    );
    // The five, and the hung one once aborted.
    assert_eq!(f.evidence("calls_without_deadline"), Some(6.0), "{f:#?}");
    let p99 = f.evidence("p99_seconds").unwrap();
    assert!(
        (0.1..=0.5).contains(&p99),
        "p99 bucket edge over 120 ms: {f:#?}"
    );
}

#[test]
fn calls_inside_a_deadline_or_with_a_timeout_field_are_silent() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        for _ in 0..5 {
            let r = tokio_doctor::deadline(Duration::from_millis(500), call_backend(20)).await;
            assert!(r.is_ok());
        }
        // Cancelled at its deadline: the span closes on time.
        for _ in 0..3 {
            let r = call_backend(10_000)
                .deadline(Duration::from_millis(40))
                .await;
            assert!(r.is_err());
        }
        // A timeout field on an enclosing span counts as a deadline.
        for _ in 0..3 {
            call_backend(20)
                .instrument(tracing::info_span!("with_budget", timeout_ms = 250u64))
                .await;
        }
    });
    for kind in [FindingKind::MissingDeadline, FindingKind::DeadlineOverrun] {
        assert!(
            support::of_kind(&doctor, kind).is_empty(),
            "{kind}: {:#?}",
            doctor.findings()
        );
    }
    assert!(doctor
        .render_prometheus()
        .contains("tokio_doctor_outbound_calls_total{span=\"call_backend\""));
}

#[test]
fn work_spawned_past_its_deadline_is_an_overrun() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let mut detached = Vec::new();
        for _ in 0..3 {
            // The timeout stops the wait, not the work.
            let _ = tokio_doctor::deadline(Duration::from_millis(30), async {
                // The call's span is made here, inside the deadline; the
                // call itself runs on in a task of its own.
                let call = tokio::time::sleep(Duration::from_millis(200))
                    .instrument(tracing::info_span!("call_backend", otel.kind = "client"));
                let work = tokio::spawn(call);
                detached.push(work);
                std::future::pending::<()>().await
            })
            .await;
        }
        for w in detached {
            w.await.unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::DeadlineOverrun);
    let f = found
        .iter()
        .find(|f| f.span == "call_backend")
        .expect("overrun");
    assert_eq!(f.evidence("overruns"), Some(3.0), "{f:#?}");
    let worst = f.evidence("worst_overrun_seconds").unwrap();
    assert!((0.1..1.0).contains(&worst), "about 170 ms past: {f:#?}");
}

#[test]
fn a_join_names_the_child_that_set_its_latency() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let svc = |name: &'static str, ms: u64| {
            tokio::time::sleep(Duration::from_millis(ms)).instrument(tracing::info_span!(
                "svc",
                otel.kind = "client",
                peer.service = name
            ))
        };
        let svc_c = |ms: u64| {
            tokio::time::sleep(Duration::from_millis(ms))
                .instrument(tracing::info_span!("svc_c", otel.kind = "client"))
        };
        for _ in 0..4 {
            async {
                tokio::join!(svc("a", 5), svc("b", 5), svc_c(120));
            }
            .instrument(tracing::info_span!("fan_out"))
            .await;
        }
    });
    let text = doctor.render_prometheus();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("tokio_doctor_join_slowest_total{span=\"fan_out\"")
                && l.contains("child_span=\"svc_c\"")
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with(" 4"), "{line}");
    assert!(
        !text.contains("child_span=\"svc\""),
        "the fast children never set the latency: {text}"
    );
}
