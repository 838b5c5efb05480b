//! Issue 16, safety: when the host stops the whole machine for a while (a
//! hypervisor's steal; here a child process stops this one and continues
//! it), the lag probe is late past the threshold, but the runtime's
//! workers were parked all along: none is interrupted, so the capture
//! handler is never installed, and nothing is reported. Linux only.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod support;

use std::time::Duration;

/// Every real-time signal's handler address.
fn dispositions() -> Vec<usize> {
    (libc::SIGRTMIN()..=libc::SIGRTMAX())
        .map(|sig| {
            // SAFETY: reading a disposition into a local.
            unsafe {
                let mut cur: libc::sigaction = std::mem::zeroed();
                assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut cur), 0);
                cur.sa_sigaction
            }
        })
        .collect()
}

/// The sum of the lag probe's observations, in seconds.
fn lag_sum(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("tokio_doctor_event_loop_lag_seconds_sum "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_stopped_process_lags_but_no_parked_worker_is_interrupted() {
    let before = dispositions();
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pid = std::process::id();
        for _ in 0..5 {
            // The whole process stopped for 60 ms, its workers parked. This
            // thread (block_on's, no worker) waits for the child, which
            // continues it before it exits.
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("kill -STOP {pid}; sleep 0.06; kill -CONT {pid}"))
                .status()
                .expect("sh runs");
            assert!(status.success());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let text = doctor.render_prometheus();
    assert!(
        lag_sum(&text) >= 0.1,
        "the probe saw the stops as lag: {}",
        lag_sum(&text)
    );
    assert_eq!(
        dispositions(),
        before,
        "no capture was taken, so no handler was installed"
    );
    assert!(
        support::of_kind(&doctor, tokio_doctor::FindingKind::BlockingPoll).is_empty(),
        "{:?}",
        doctor.findings()
    );
}
