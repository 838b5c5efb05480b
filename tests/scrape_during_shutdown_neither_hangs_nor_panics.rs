//! Stopping the doctor, and then the runtime, while scrapers hammer the
//! endpoint: no panic, no hang; a scraper gets a whole answer or a closed
//! connection, never a half-written response that claims to be whole.
mod scrape;
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::Doctor;

#[test]
fn stopping_mid_scrape_is_clean() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let running = rt.block_on(async { doctor.start().unwrap() });
    let addr = running.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let scrapers: Vec<_> = (0..8)
        .map(|_| {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match scrape::get(addr, "/metrics") {
                        Ok(r) => {
                            assert_eq!(r.status, 200);
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        // Refused or reset: the doctor is gone, as asked.
                        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::InvalidData, "{e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    drop(running);
    std::thread::sleep(Duration::from_millis(100));
    rt.rt.shutdown_timeout(Duration::from_secs(5));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    stop.store(true, Ordering::Relaxed);
    for s in scrapers {
        s.join().expect("no scraper saw a malformed response");
    }
    assert!(answered.load(Ordering::Relaxed) > 0);
    // The doctor itself is still readable after its runtime is gone.
    assert!(doctor
        .render_prometheus()
        .contains("tokio_doctor_build_info"));
}
