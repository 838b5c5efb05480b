//! A scrape storm against a busy service: 4 tasks hashing in spans (each
//! poll about 18 µs) on the default multi-thread runtime, counted in polls
//! per second, first quiet, then while a second process runs 100 threads
//! that scrape `/metrics` as fast as they can (one connection per scrape)
//! and one client that sends its request one byte per 100 ms.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin scrape-storm
//! ```
//!
//! Each round starts a fresh service process and measures it quiet, then
//! stormed, over the same number of seconds; medians of the per-round
//! ratios are printed with the scrapes answered and the endpoint's
//! snapshots (the detectors' runs). Options: `--rounds N` (default 5),
//! `--seconds N` per phase (default 4).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

static POLLS: AtomicU64 = AtomicU64::new(0);

/// About 18 µs of hashing on this machine's cores, then a yield.
async fn worker() {
    let mut x = 0u64;
    loop {
        async {
            for k in 0..20_000u64 {
                x = x.rotate_left(5) ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            }
            std::hint::black_box(x);
        }
        .instrument(tracing::info_span!("hash_chunk"))
        .await;
        POLLS.fetch_add(1, Ordering::Relaxed);
        tokio::task::yield_now().await;
    }
}

/// The service: prints its address, then its poll count every 100 ms.
fn serve(seconds: u64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let doctor = tokio_doctor::Doctor::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .build()
            .unwrap();
        tracing_subscriber::registry().with(doctor.layer()).init();
        let running = doctor.start().unwrap();
        for _ in 0..4 {
            tokio::spawn(worker());
        }
        println!("addr {}", running.local_addr().unwrap());
        let end = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(100)).await;
            println!("polls {}", POLLS.load(Ordering::Relaxed));
        }
    });
}

/// The storm: 100 unthrottled scrapers and a trickling client, for
/// `seconds`. Prints the whole answers it got.
fn storm(addr: SocketAddr, seconds: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..100 {
        let (stop, done) = (stop.clone(), done.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(addr) else {
                    continue;
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: storm\r\n\r\n");
                let mut body = Vec::new();
                if s.read_to_end(&mut body).is_ok() && body.starts_with(b"HTTP/1.1 200") {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(addr) else {
                    return;
                };
                for b in b"GET /metrics HTTP/1.1\r\n\r\n" {
                    if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    println!("scrapes {}", done.load(Ordering::Relaxed));
}

/// The endpoint's snapshot counter, read by one more scrape.
fn snapshots(addr: SocketAddr) -> f64 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.lines()
        .find_map(|l| l.strip_prefix("tokio_doctor_endpoint_snapshots_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Polls per second between two instants, from the service's counts.
fn rate(counts: &[(Instant, u64)], from: Instant, to: Instant) -> f64 {
    let at = |t: Instant| counts.iter().find(|(i, _)| *i >= t).copied();
    match (at(from), at(to)) {
        (Some((t0, a)), Some((t1, b))) if t1 > t0 => (b - a) as f64 / (t1 - t0).as_secs_f64(),
        _ => f64::NAN,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--serve") => return serve(args[2].parse().unwrap()),
        Some("--storm") => return storm(args[2].parse().unwrap(), args[3].parse().unwrap()),
        _ => {}
    }
    let (mut rounds, mut seconds) = (5u64, 4u64);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().map(String::as_str).unwrap_or("");
        match a.as_str() {
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            "--seconds" => seconds = v.parse().expect("--seconds N"),
            _ => panic!("unknown argument {a}; options: --rounds N --seconds N"),
        }
    }
    let exe = std::env::current_exe().unwrap();
    let (mut quiet, mut stormed, mut ratios, mut scrapes, mut snaps) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 1..=rounds {
        let mut service = Command::new(&exe)
            .args(["--serve", &(2 * seconds + 15).to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(service.stdout.take().unwrap()).lines();
        let addr: SocketAddr = lines
            .next()
            .and_then(|l| l.ok()?.strip_prefix("addr ")?.parse().ok())
            .expect("the service's address");
        let counts = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let counts = counts.clone();
            std::thread::spawn(move || {
                for l in lines.map_while(Result::ok) {
                    if let Some(n) = l.strip_prefix("polls ").and_then(|n| n.parse().ok()) {
                        counts.lock().unwrap().push((Instant::now(), n));
                    }
                }
            })
        };
        // Warm up, then quiet, then the storm from a second process.
        std::thread::sleep(Duration::from_secs(1));
        let q0 = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        let q1 = Instant::now();
        let before = snapshots(addr);
        let out = Command::new(&exe)
            .args(["--storm", &addr.to_string(), &seconds.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // The storm's own seconds: its threads take a moment more to stop.
        let s0 = Instant::now();
        let s1 = s0 + Duration::from_secs(seconds);
        let out = out.wait_with_output().unwrap();
        let after = snapshots(addr);
        let _ = service.kill();
        let _ = service.wait();
        let _ = reader.join();
        let counts = counts.lock().unwrap().clone();
        let (q, s) = (rate(&counts, q0, q1), rate(&counts, s0, s1));
        let n: f64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("scrapes ")?.parse().ok())
            .unwrap_or(0.0);
        eprintln!(
            "round {round}/{rounds}: quiet {q:.0} polls/s, storm {s:.0} polls/s ({:.3}x), {:.0} scrapes/s answered from {} snapshots",
            s / q,
            n / seconds as f64,
            after - before
        );
        quiet.push(q);
        stormed.push(s);
        ratios.push(s / q);
        scrapes.push(n / seconds as f64);
        snaps.push((after - before) / seconds as f64);
    }
    println!(
        "\n4 hashing tasks in spans (default runtime) vs 100 unthrottled /metrics scrapers + 1 client \
         trickling 1 byte/100 ms, {seconds} s per phase, {rounds} rounds, medians"
    );
    println!("| phase | polls/s | paired ratio | scrapes/s answered | snapshots/s |");
    println!("|---|---:|---:|---:|---:|");
    println!("| quiet | {:.0} | 1.000 | - | - |", median(&mut quiet));
    println!(
        "| storm | {:.0} | {:.3} | {:.0} | {:.1} |",
        median(&mut stormed),
        median(&mut ratios),
        median(&mut scrapes),
        median(&mut snaps)
    );
}
