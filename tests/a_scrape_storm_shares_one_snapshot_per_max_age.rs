//! A scrape storm costs one snapshot per max age: forty scrapers as fast as
//! they can, plus a client that trickles its request one byte per 100 ms,
//! all get whole `200` answers, while the endpoint's snapshot counter (the
//! detectors' runs) grows at most once per age. Renders are counted, not
//! timed.
mod scrape;
mod support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::Doctor;

/// The counter's value in an exposition.
fn snapshots(body: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix("tokio_doctor_endpoint_snapshots_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("the snapshot counter is exported") as u64
}

#[test]
fn forty_unthrottled_scrapers_and_a_slow_client_cost_one_snapshot_per_age() {
    let age = Duration::from_millis(500);
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .snapshot_max_age(age)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let (running, _load) =
        rt.block_on(async { (doctor.start().unwrap(), support::unrelated_load()) });
    let addr = running.local_addr().unwrap();
    let before = snapshots(&scrape::get(addr, "/metrics").unwrap().body);

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let slow = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // One byte per 100 ms: the endpoint gives up on it, the others
            // are not held up.
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            for b in b"GET /metrics HTTP/1.1\r\n\r\n" {
                if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let started = Instant::now();
    let scrapers: Vec<_> = (0..40)
        .map(|i| {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let path = ["/metrics", "/doctor", "/doctor.json"][i % 3];
                let mut slowest = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let r = scrape::get(addr, path).expect("a whole response");
                    slowest = slowest.max(t.elapsed());
                    assert_eq!(r.status, 200, "{path}: {}", r.head);
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                slowest
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let slowest = scrapers
        .into_iter()
        .map(|s| s.join().expect("every scrape answered 200"))
        .max()
        .unwrap();
    let elapsed = started.elapsed();
    slow.join().unwrap();

    let after = snapshots(&scrape::get(addr, "/metrics").unwrap().body);
    let answered = answered.load(Ordering::Relaxed);
    // One snapshot per age the storm lasted, one for the last scrape, and
    // one of slack for an age that straddles the start.
    let bound = (elapsed.as_secs_f64() / age.as_secs_f64()).ceil() as u64 + 2;
    let taken = after - before;
    assert!(
        taken <= bound,
        "{taken} snapshots for {answered} scrapes in {elapsed:?} (at most {bound})"
    );
    assert!(
        answered > 10 * taken,
        "{answered} scrapes shared only {taken} snapshots"
    );
    // The slow client held one slot for at most its head deadline.
    assert!(
        slowest < Duration::from_secs(5),
        "a scrape took {slowest:?}"
    );
}

#[test]
fn a_zero_age_takes_a_snapshot_per_scrape() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .snapshot_max_age(Duration::ZERO)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let running = rt.block_on(async { doctor.start().unwrap() });
    let addr = running.local_addr().unwrap();
    let first = snapshots(&scrape::get(addr, "/metrics").unwrap().body);
    for _ in 0..5 {
        scrape::get(addr, "/metrics").unwrap();
    }
    let last = snapshots(&scrape::get(addr, "/metrics").unwrap().body);
    assert_eq!(last - first, 6, "one snapshot per scrape");
}
