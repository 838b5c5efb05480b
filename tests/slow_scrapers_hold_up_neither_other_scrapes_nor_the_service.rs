//! Scrapers that send their request one byte a second, or read the answer
//! one byte a second, cost the endpoint a connection slot each and nothing
//! else: other scrapes are answered at once and the service's tasks keep
//! running on time.
mod scrape;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::Doctor;

#[test]
fn slow_loris_and_slow_readers_do_not_block_scrapes_or_tasks() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let running = rt.block_on(async { doctor.start().unwrap() });
    let addr = running.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut slow = Vec::new();
    for reader in [false, false, false, true, true] {
        let stop = stop.clone();
        slow.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let request = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n";
            if reader {
                s.write_all(request).unwrap();
            }
            let mut sent = if reader { request.len() } else { 0 };
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::Relaxed) {
                if reader {
                    // One byte a second; the rest waits in the socket.
                    if s.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                } else if sent < request.len() {
                    let _ = s.write_all(&request[sent..sent + 1]);
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(1000));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));

    // Meanwhile, ordinary scrapes are answered quickly...
    for _ in 0..10 {
        let t = Instant::now();
        let r = scrape::get(addr, "/metrics").expect("answered");
        assert_eq!(r.status, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    // ...and a task of the service that sleeps 10 ms, 100 times, is woken on time.
    let late = rt.block_on(async {
        let t = Instant::now();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        t.elapsed()
    });
    assert!(late < Duration::from_millis(2_500), "{late:?}");
    stop.store(true, Ordering::Relaxed);
    drop(running);
    for s in slow {
        s.join().unwrap();
    }
}
