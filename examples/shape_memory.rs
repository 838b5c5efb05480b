//! Memory of the serial-chain and fan-out trackers: runs N short spans
//! (default 1,000,000) through them and prints the resident set size as it
//! goes. It must stay flat: state is per live span and per call site.
//!
//! ```text
//! cargo run --release --example shape_memory -- --spans 1000000
//! ```
//!
//! Each round opens a parent span, then under it a serial chain of short
//! children (each counts: the minimum await is set to 1 ns) and a burst of
//! 1,000 children open at once (a fan-out at the threshold), then closes
//! the parent, which never closes chains of 500. A long-lived root span gets
//! a child per round too.

use std::time::Duration;

use tracing::info_span;
use tracing_subscriber::prelude::*;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let mut spans: u64 = 1_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--spans", Some(n)) if n >= 10_000 => spans = n,
            _ => {
                eprintln!("usage: shape_memory [--spans N] (N >= 10000)");
                std::process::exit(2);
            }
        }
    }
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .serial_min_await(Duration::from_nanos(1))
        .build()
        .expect("valid settings");
    let subscriber = tracing_subscriber::registry().with(doctor.layer());
    tracing::subscriber::with_default(subscriber, || {
        let root = info_span!("long_lived_root");
        let _root = root.enter();
        let mut done = 0u64;
        let mut baseline = 0;
        let mut round = 0u64;
        while done < spans {
            let parent = info_span!("round");
            {
                let _p = parent.enter();
                // A serial chain: each child is open (never entered, so
                // idle) for 2 µs, longer than the gap to the next.
                for _ in 0..500 {
                    let child = info_span!("serial_child");
                    let t = std::time::Instant::now();
                    while t.elapsed() < Duration::from_micros(2) {}
                    drop(child);
                }
                // A fan-out: 1,000 open at once.
                let burst: Vec<_> = (0..1_000).map(|_| info_span!("fanout_child")).collect();
                drop(burst);
            }
            drop(parent);
            drop(info_span!("root_child"));
            done += 1_502;
            round += 1;
            if round == 10 {
                baseline = rss_bytes();
                println!(
                    "after {done:>9} spans: rss {:>6.1} MiB (baseline)",
                    baseline as f64 / 1048576.0
                );
            } else if round % 100 == 0 || done >= spans {
                let rss = rss_bytes();
                println!(
                    "after {done:>9} spans: rss {:>6.1} MiB ({:+.1} MiB since baseline)",
                    rss as f64 / 1048576.0,
                    (rss as f64 - baseline as f64) / 1048576.0
                );
            }
        }
    });
    for f in doctor.findings() {
        println!("{}: {}", f.kind, f.message);
    }
    let text = doctor.render_prometheus();
    for l in text
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_live_spans"))
    {
        println!("{l}");
    }
}
