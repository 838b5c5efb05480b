//! When the endpoint's port is taken, `start()` says which address and what
//! to do; with `require_endpoint(false)` the doctor runs without it and
//! still diagnoses the service.
mod support;

use std::time::Duration;

use tokio_doctor::{Doctor, Error, FindingKind};
use tracing::Instrument;

#[test]
fn a_taken_port_is_a_bind_error_naming_the_address_and_the_ways_out() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let doctor = Doctor::builder().listen(addr).build().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(async { doctor.start() }).unwrap_err();
    assert!(
        matches!(err, Error::Bind { addr: a, .. } if a == addr),
        "{err:?}"
    );
    let msg = err.to_string();
    for hint in [
        &addr.to_string(),
        "TOKIO_DOCTOR_LISTEN",
        "require_endpoint(false)",
    ] {
        assert!(msg.contains(hint), "{hint} missing from: {msg}");
    }
    // A failed start leaves the doctor startable once the port is free.
    drop(taken);
    let running = rt.block_on(async { doctor.start() }).unwrap();
    assert_eq!(running.local_addr(), Some(addr));
}

#[test]
fn without_a_required_endpoint_the_service_runs_and_is_still_diagnosed() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let doctor = Doctor::builder()
        .listen(taken.local_addr().unwrap())
        .require_endpoint(false)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let running = doctor.start().expect("runs without its endpoint");
        assert_eq!(running.local_addr(), None);
        tokio::spawn(
            async { support::spin_for(Duration::from_millis(15)) }
                .instrument(tracing::info_span!("still_watched")),
        )
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert!(
        found.iter().any(|f| f.span == "still_watched"),
        "{found:#?}"
    );
}
