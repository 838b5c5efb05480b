//! `tokio_doctor::init()`: defaults plus `TOKIO_DOCTOR_*`, a global
//! subscriber, and clear errors when misused.
mod support;

use std::time::Duration;

use tokio_doctor::{Error, FindingKind};
use tracing::Instrument;

#[test]
fn init_reads_the_environment_installs_the_subscriber_and_refuses_twice() {
    // Outside a runtime: a clear error, and nothing installed.
    assert!(matches!(tokio_doctor::init(), Err(Error::NoRuntime)));

    std::env::set_var("TOKIO_DOCTOR_LISTEN", "127.0.0.1:0");
    std::env::set_var("TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD", "5ms");
    // The doctor's own level, so a TRACE span that RUST_LOG hides is its.
    std::env::set_var("TOKIO_DOCTOR_SPAN_LEVEL", "trace");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let running = tokio_doctor::init().unwrap();
        assert!(running.local_addr().unwrap().ip().is_loopback());
        tokio::spawn(async {
            // 8 ms: over the 5 ms threshold set in the environment only.
            async { support::spin_for(Duration::from_millis(8)) }
                .instrument(tracing::trace_span!("trace_level_span"))
                .await
        })
        .await
        .unwrap();
        let found = support::of_kind(running.doctor(), FindingKind::BlockingPoll);
        assert_eq!(
            found.len(),
            1,
            "RUST_LOG does not hide spans from the doctor: {found:#?}"
        );
        assert_eq!(found[0].span, "trace_level_span");

        assert!(matches!(
            tokio_doctor::init(),
            Err(Error::SubscriberAlreadySet)
        ));
    });

    std::env::set_var("TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD", "soon");
    let err = tokio_doctor::Doctor::from_env().unwrap_err().to_string();
    assert!(
        err.contains("TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD") && err.contains("\"soon\""),
        "{err}"
    );
}
