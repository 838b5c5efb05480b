//! The route view judges polls on the same corrected time as the span
//! view: on a host with more runnable threads than cores, a route whose
//! work is correctly in `spawn_blocking` sees polls that look slow on the
//! wall clock (its worker waited for a CPU), and must not be blamed; a
//! route that blocks its worker still is.
#![cfg(feature = "axum")]
mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::{Doctor, FindingKind, TaskMonitorLayer};

fn get(addr: SocketAddr, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Threads that spin (bounded in time) so the runtime's two workers share
/// the cores with many more runnable threads: a starved host.
struct Starve(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

fn starve_host(threads: usize, limit: Duration) -> Starve {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..threads)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) && start.elapsed() < limit {
                    for k in 0..10_000u64 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(k);
                    }
                }
                std::hint::black_box(x);
            })
        })
        .collect();
    Starve(stop, handles)
}

impl Drop for Starve {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for h in self.1.drain(..) {
            let _ = h.join();
        }
    }
}

fn wall_slow_polls(doctor: &Doctor, route: &str) -> f64 {
    let prefix = format!("tokio_doctor_route_slow_polls_total{{route=\"{route}\"}} ");
    doctor
        .render_prometheus()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.parse().unwrap()))
        .unwrap_or(0.0)
}

#[test]
fn a_route_hashing_in_spawn_blocking_on_a_starved_host_is_silent() {
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _load = support::unrelated_load();
        let app = axum::Router::new()
            .route(
                "/login",
                axum::routing::get(|| async {
                    // The hash is correctly off the runtime; the handler
                    // itself only awaits it.
                    let h =
                        tokio::task::spawn_blocking(|| support::spin_for(Duration::from_millis(3)));
                    format!("{}", h.await.unwrap())
                }),
            )
            .layer(TaskMonitorLayer::new(&doctor));
        let addr = serve(app).await;
        let _starve = starve_host(8, Duration::from_secs(60));
        tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let mut sent = 0;
            while sent < 300 && start.elapsed() < Duration::from_secs(12) {
                assert_eq!(get(addr, "/login"), 200);
                sent += 1;
            }
        })
        .await
        .unwrap();
    });
    // How many polls the wall clock alone would have blamed (host dependent,
    // so shown, not asserted).
    eprintln!(
        "wall-clock slow polls of /login: {}",
        wall_slow_polls(&doctor, "/login")
    );
    support::expect_none(FindingKind::BlockingPoll)
        .span("/login")
        .on(&doctor);
}

#[test]
fn a_route_that_blocks_its_worker_on_a_starved_host_still_fires() {
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let rt = support::runtime(&doctor);
    let layer_line = rt.block_on(async {
        let _load = support::unrelated_load();
        let (layer, line) = (TaskMonitorLayer::new(&doctor), line!());
        let app = axum::Router::new()
            .route(
                "/login",
                axum::routing::get(|| async {
                    // The hash on the worker: 25 ms of CPU per request.
                    format!("{}", support::spin_for(Duration::from_millis(25)))
                }),
            )
            .layer(layer);
        let addr = serve(app).await;
        let _starve = starve_host(8, Duration::from_secs(60));
        tokio::task::spawn_blocking(move || {
            for _ in 0..20 {
                assert_eq!(get(addr, "/login"), 200);
            }
        })
        .await
        .unwrap();
        line
    });
    let f = support::expect(FindingKind::BlockingPoll)
        .span("/login")
        .location(format!("{}:{layer_line}", file!()))
        .on(&doctor);
    assert!(f.evidence("slow_poll_ratio").unwrap() > 0.5, "{f:#?}");
    assert!(f.count >= 10, "{f:#?}");
}
