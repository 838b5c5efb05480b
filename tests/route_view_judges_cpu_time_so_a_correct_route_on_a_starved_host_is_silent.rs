//! The route view judges polls on the same corrected time as the span
//! view: on a host with more runnable threads than cores, a route whose
//! work is correctly in `spawn_blocking` sees polls that look slow on the
//! wall clock (its worker waited for a CPU), and must not be blamed; a
//! route that blocks its worker still is.
//!
//! The starved host is made on purpose: the runtime's threads and six
//! spinning threads share one CPU, so a poll with 2 ms of CPU work (well
//! under the 10 ms threshold) takes about 14 ms on the wall clock.
#![cfg(all(feature = "axum", target_os = "linux"))]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::{Doctor, FindingKind, TaskMonitorLayer};
use tracing_subscriber::prelude::*;

/// The first CPU this process may run on.
fn first_cpu() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .unwrap_or(0)
    }
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: as above; `cpu` is one the process may use.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// `support::runtime`, with every thread of the runtime on one CPU.
fn pinned_runtime(doctor: &Doctor, cpu: usize) -> support::Rt {
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let for_threads = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            pin_to(cpu);
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .expect("runtime");
    support::Rt { rt, dispatch }
}

fn get(addr: SocketAddr, path: &str) -> u16 {
    support::http_get_status(addr, path)
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Threads that spin on `cpu` (bounded in time), so the runtime's threads
/// share it with many more runnable threads: a starved host.
struct Starve(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

fn starve_cpu(cpu: usize, threads: usize, limit: Duration) -> Starve {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..threads)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                pin_to(cpu);
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
    let cpu = first_cpu();
    let rt = pinned_runtime(&doctor, cpu);
    rt.block_on(async {
        // Started, as a service is: its watchdog notes what the kernel
        // says of each worker, which the correction reads.
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let app = axum::Router::new()
            .route(
                "/login",
                axum::routing::get(|| async {
                    // 2 ms of CPU on the worker (parsing, checks: under
                    // the threshold), and the hash correctly off the
                    // runtime.
                    support::spin_for(Duration::from_millis(2));
                    let h =
                        tokio::task::spawn_blocking(|| support::spin_for(Duration::from_millis(3)));
                    format!("{}", h.await.unwrap())
                }),
            )
            .layer(TaskMonitorLayer::new(&doctor));
        let addr = serve(app).await;
        let _starve = starve_cpu(cpu, 6, Duration::from_secs(60));
        tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let mut sent = 0;
            while sent < 100 && start.elapsed() < Duration::from_secs(15) {
                assert_eq!(get(addr, "/login"), 200);
                sent += 1;
            }
        })
        .await
        .unwrap();
    });
    // The wall clock alone would have blamed the route: the test did
    // starve it.
    let wall = wall_slow_polls(&doctor, "/login");
    eprintln!("wall-clock slow polls of /login: {wall}");
    assert!(wall >= 10.0, "the host was not starved: {wall}");
    support::expect_none(FindingKind::BlockingPoll)
        .span("/login")
        .on(&doctor);
}

#[test]
fn a_route_that_blocks_its_worker_on_a_starved_host_still_fires() {
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let cpu = first_cpu();
    let rt = pinned_runtime(&doctor, cpu);
    let layer_line = rt.block_on(async {
        // Started, as a service is: its watchdog notes what the kernel
        // says of each worker, which the correction reads.
        let _running = doctor.start().unwrap();
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
        let _starve = starve_cpu(cpu, 6, Duration::from_secs(60));
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
