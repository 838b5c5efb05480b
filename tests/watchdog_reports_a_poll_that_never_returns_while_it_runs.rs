//! Scenario 5: a worker stuck in a loop must be reported before it returns.
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::{FindingKind, Severity};
use tracing::Instrument;

#[test]
fn a_stuck_poll_is_reported_while_it_is_still_running() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let release = Arc::new(AtomicBool::new(false));
    support::run(&rt, async {
        let running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let r = release.clone();
        // The span is created inside the task, on a worker thread whose
        // default subscriber is the doctor's.
        let stuck = tokio::spawn(async move {
            async move {
                // Spins until released (at most 20 s, so a failing test ends).
                let start = Instant::now();
                while !r.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(20) {
                    std::hint::spin_loop();
                }
            }
            .instrument(tracing::info_span!("stuck_loop"))
            .await
        });

        let seen = support::eventually(Duration::from_secs(10), || {
            support::of_kind(&doctor, FindingKind::BlockingPoll)
                .iter()
                .any(|f| {
                    f.span == "stuck_loop" && f.evidence("stalled_now_seconds").unwrap() > 0.05
                })
        })
        .await;
        assert!(
            seen,
            "the stall must be reported while it runs: {:#?} {}",
            doctor.findings(),
            doctor.render_prometheus()
        );
        let f = support::of_kind(&doctor, FindingKind::BlockingPoll).remove(0);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.count, 0, "the poll has not finished yet");
        assert!(f.message.contains("right now"), "{}", f.message);
        let text = doctor.render_prometheus();
        assert!(text.contains("tokio_doctor_stalled_polls 1"), "{text}");
        assert!(text.contains("tokio_doctor_stalled_poll_seconds{span=\"stuck_loop\""));
        // The watchdog thread counted it once.
        assert!(
            support::eventually(Duration::from_secs(2), || doctor
                .render_prometheus()
                .contains("tokio_doctor_stalls_total{span=\"stuck_loop\""))
            .await
        );
        // The endpoint answers while a worker is stuck.
        let addr = running.local_addr().unwrap();
        let body = tokio::task::spawn_blocking(move || http_get(addr, "/doctor"))
            .await
            .unwrap();
        assert!(body.contains("stuck_loop"), "{body}");

        release.store(true, Ordering::Relaxed);
        stuck.await.unwrap();
        let f = support::of_kind(&doctor, FindingKind::BlockingPoll).remove(0);
        assert_eq!(
            f.count, 1,
            "once it returns it is an ordinary blocking poll"
        );
        assert_eq!(f.evidence("stalled_now_seconds"), Some(0.0));
    });
}

use tokio_doctor::Doctor;

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
