//! The demo's customers: kept-alive loopback connections per route, on a
//! thread and runtime of their own so they never share a worker with the
//! shop they measure. Bounded: a fixed set of connections, each paced, all
//! stopped by `stop`.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

/// Requests answered, per route (the order of [`paths`]).
pub type Counts = Arc<Vec<AtomicU64>>;

/// How one route is driven: `connections` customers, each waiting `pause`
/// between requests, the k-th starting after `start_after(k)`.
struct Plan {
    path: &'static str,
    connections: usize,
    pause: Duration,
    /// Seconds before the k-th connection starts.
    start_after: fn(usize) -> f64,
}

fn at_once(_: usize) -> f64 {
    0.0
}

/// /stock ramps 1, 2, 4, 8, 16 customers (1.5 s each), then 64: the
/// doctor sees the inventory's throughput rise, then stop rising.
fn stock_ramp(k: usize) -> f64 {
    match k {
        0 => 0.0,
        1 => 1.5,
        2..=3 => 3.0,
        4..=7 => 4.5,
        8..=15 => 6.0,
        _ => 7.5,
    }
}

fn plans(login_connections: usize) -> Vec<Plan> {
    let ms = Duration::from_millis;
    let plan = |path, connections, pause| Plan {
        path,
        connections,
        pause,
        start_after: at_once,
    };
    #[allow(unused_mut)]
    let mut plans = vec![
        plan("/login", login_connections, ms(100)),
        plan("/cart", 2, ms(50)),
        plan("/checkout", 3, ms(20)),
        plan("/feed", 1, ms(500)),
        Plan {
            path: "/stock",
            connections: 64,
            pause: ms(0),
            start_after: stock_ramp,
        },
        plan("/events", 2, ms(50)),
        plan("/quote", 2, ms(100)),
        plan("/import", 1, ms(1_000)),
        plan("/shipping", 2, ms(100)),
    ];
    #[cfg(feature = "connections")]
    plans.push(plan("/rates", 1, ms(50)));
    plans
}

/// The routes driven, in the order of [`Counts`].
pub fn paths() -> Vec<&'static str> {
    plans(1).iter().map(|p| p.path).collect()
}

/// Starts the customers; join the handle after setting `stop`.
pub fn start(
    addr: SocketAddr,
    login_connections: usize,
    stop: Arc<AtomicBool>,
    counts: Counts,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("load runtime");
        rt.block_on(async move {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for (route, p) in plans(login_connections).into_iter().enumerate() {
                for k in 0..p.connections {
                    let (stop, counts) = (stop.clone(), counts.clone());
                    let begin = started + Duration::from_secs_f64((p.start_after)(k));
                    let (path, pause) = (p.path, p.pause);
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < begin && !stop.load(Relaxed) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        customer(addr, path, pause, &stop, &counts[route]).await;
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    })
}

async fn customer(
    addr: SocketAddr,
    path: &str,
    pause: Duration,
    stop: &AtomicBool,
    count: &AtomicU64,
) {
    let mut buf = Vec::new();
    while !stop.load(Relaxed) {
        let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        while !stop.load(Relaxed) {
            // A request the shop never answers (a hung feed) must not keep
            // the demo from ending: give up on it after 10 s.
            match tokio::time::timeout(
                Duration::from_secs(10),
                common::get(&mut conn, path, &mut buf),
            )
            .await
            {
                Ok(true) => {
                    count.fetch_add(1, Relaxed);
                }
                _ => break,
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }
}
