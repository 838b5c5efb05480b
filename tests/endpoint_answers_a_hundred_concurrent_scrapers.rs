//! A hundred scrapers at once, while the service is under load: every one
//! gets a whole, valid response (past 64 at once they wait to be accepted;
//! none is dropped).
mod scrape;
mod support;

use std::sync::{Arc, Barrier};

use tokio_doctor::Doctor;

#[test]
fn a_hundred_concurrent_scrapes_all_succeed() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let (running, _load) =
        rt.block_on(async { (doctor.start().unwrap(), support::unrelated_load()) });
    let addr = running.local_addr().unwrap();
    let start = Arc::new(Barrier::new(100));
    let scrapers: Vec<_> = (0..100)
        .map(|i| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let path = ["/metrics", "/doctor", "/doctor.json"][i % 3];
                scrape::get(addr, path).map(|r| (path, r))
            })
        })
        .collect();
    for s in scrapers {
        let (path, r) = s.join().unwrap().expect("a whole response");
        assert_eq!(r.status, 200, "{path}: {}", r.head);
        if path == "/metrics" {
            assert!(r.body.contains("tokio_doctor_build_info"), "{path}");
        }
    }
}
