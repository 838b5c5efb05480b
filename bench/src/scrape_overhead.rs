//! What scrapers cost the service: an axum server on one worker with the
//! doctor, under `wrk` load on loopback, with and without 100 concurrent
//! scrapers of `/metrics` (each scraping once a second) plus a scraper that
//! sends its request one byte a second and one that reads its answer one
//! byte a second.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin scrape-overhead   # needs wrk
//! ```
//!
//! Rounds alternate the two configurations, each in a fresh server process;
//! medians and the paired ratio are printed. Options: `--rounds N`
//! (default 5), `--seconds N` per run (default 5).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;
use tracing_subscriber::prelude::*;

async fn handler() -> &'static str {
    async {
        let mut x = 0u64;
        for k in 0..200u64 {
            x = x.wrapping_mul(31).wrapping_add(k);
        }
        std::hint::black_box(x);
        "ok\n"
    }
    .instrument(tracing::info_span!("handle_request"))
    .await
}

fn serve(port_file: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let doctor = tokio_doctor::Doctor::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .build()
            .unwrap();
        tracing_subscriber::registry().with(doctor.layer()).init();
        let running = doctor.start().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ports = format!(
            "{} {}",
            listener.local_addr().unwrap().port(),
            running.local_addr().unwrap().port()
        );
        std::fs::write(port_file, ports).unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// Starts the scrapers; they stop when `stop` is set. Returns the count of
/// whole answers.
fn scrapers(doctor: SocketAddr, stop: &Arc<AtomicBool>) -> Arc<AtomicU64> {
    let done = Arc::new(AtomicU64::new(0));
    for i in 0..100u64 {
        let (stop, done) = (stop.clone(), done.clone());
        std::thread::spawn(move || {
            // Spread the hundred over the second.
            std::thread::sleep(Duration::from_millis(i * 10));
            while !stop.load(Ordering::Relaxed) {
                if let Ok(mut s) = TcpStream::connect(doctor) {
                    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: b\r\n\r\n");
                    let mut body = Vec::new();
                    if s.read_to_end(&mut body).is_ok() && body.starts_with(b"HTTP/1.1 200") {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
    for reader in [false, true] {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(doctor) else {
                    return;
                };
                let req = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n";
                if reader {
                    let _ = s.write_all(req);
                }
                let mut sent = 0;
                let mut byte = [0u8; 1];
                while !stop.load(Ordering::Relaxed) {
                    let ok = if reader {
                        s.read(&mut byte).map(|n| n > 0).unwrap_or(false)
                    } else if sent < req.len() {
                        sent += 1;
                        s.write_all(&req[sent - 1..sent]).is_ok()
                    } else {
                        false
                    };
                    if !ok {
                        break; // the server's deadline closed it: reconnect
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        });
    }
    done
}

fn parse_rps(out: &str) -> f64 {
    out.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(&args[2]);
        return;
    }
    let (mut rounds, mut seconds) = (5, 5);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().map(String::as_str).unwrap_or("");
        match a.as_str() {
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            "--seconds" => seconds = v.parse().expect("--seconds N"),
            _ => panic!("unknown argument {a}; options: --rounds N --seconds N"),
        }
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("scrape-overhead needs wrk on PATH (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let exe = std::env::current_exe().unwrap();
    let mut rps: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut scrapes = Vec::new();
    for round in 0..rounds {
        for (i, scraped) in [false, true].into_iter().enumerate() {
            let port_file =
                std::env::temp_dir().join(format!("tokio-doctor-scrape-{}", std::process::id()));
            let _ = std::fs::remove_file(&port_file);
            let mut child = Command::new(&exe)
                .args(["--serve", port_file.to_str().unwrap()])
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let mut ports = String::new();
            for _ in 0..100 {
                if let Ok(p) = std::fs::read_to_string(&port_file) {
                    ports = p;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let (app, doctor) = ports.split_once(' ').expect("ports");
            let doctor: SocketAddr = format!("127.0.0.1:{doctor}").parse().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let done = scraped.then(|| scrapers(doctor, &stop));
            let out = Command::new("wrk")
                .args([
                    "-t1",
                    "-c64",
                    &format!("-d{seconds}s"),
                    &format!("http://127.0.0.1:{app}/"),
                ])
                .output()
                .unwrap();
            stop.store(true, Ordering::Relaxed);
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&port_file);
            let r = parse_rps(&String::from_utf8_lossy(&out.stdout));
            let n = done.map(|d| d.load(Ordering::Relaxed)).unwrap_or(0);
            if scraped {
                scrapes.push(n as f64 / seconds as f64);
            }
            eprintln!(
                "round {}/{rounds} {}: {r:.0} req/s{}",
                round + 1,
                if scraped { "scraped" } else { "quiet" },
                if scraped {
                    format!(", {n} whole scrapes")
                } else {
                    String::new()
                }
            );
            rps[i].push(r);
        }
        // Let the scraper threads of this round see `stop` and go.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let mut paired: Vec<f64> = rps[1].iter().zip(&rps[0]).map(|(s, q)| s / q).collect();
    let (quiet, scraped) = (median(&mut rps[0].clone()), median(&mut rps[1].clone()));
    println!(
        "\naxum + tokio-doctor on 1 worker, wrk -t1 -c64 -d{seconds}s, {rounds} interleaved rounds, medians"
    );
    println!("| scrapers | req/s | ratio | paired ratio | scrapes/s answered |");
    println!("|---|---:|---:|---:|---:|");
    println!("| none | {quiet:.0} | 1.000 | 1.000 | - |");
    println!(
        "| 100 every second + one sending and one reading a byte a second | {scraped:.0} | {:.3} | {:.3} | {:.0} |",
        scraped / quiet,
        median(&mut paired),
        median(&mut scrapes)
    );
}
