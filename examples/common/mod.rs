//! Helpers shared by the examples: CPU work, a findings table, a tiny
//! HTTP/1.1 keep-alive client for loopback load.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Burns CPU for `d`, standing in for password hashing or image resizing.
pub fn expensive_hash(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    while start.elapsed() < d {
        for k in 0..1_000u64 {
            x = x.rotate_left(5).wrapping_mul(0x0100_0000_01b3) ^ k;
        }
    }
    std::hint::black_box(x)
}

/// Prints the doctor's findings as a table.
pub fn print_findings(doctor: &tokio_doctor::Doctor) {
    let report = doctor.report();
    let lag = &report.event_loop_lag;
    println!(
        "event-loop lag p99 <= {} ms, max {:.1} ms | stalled polls now: {} | polls timed: {}",
        lag.p99_seconds
            .map(|s| format!("{:.0}", s * 1e3))
            .unwrap_or_else(|| "-".into()),
        lag.max_seconds * 1e3,
        report.stalled_polls,
        report.polls
    );
    if report.findings.is_empty() {
        println!("  no findings");
        return;
    }
    println!(
        "  {:<24} {:<22} {:<36} {:>7} {:>10} {:>9}",
        "kind", "span", "location", "count", "cost s", "worst ms"
    );
    for f in &report.findings {
        println!(
            "  {:<24} {:<22} {:<36} {:>7} {:>10.3} {:>9.1}",
            f.kind.as_str(),
            f.span,
            f.location,
            f.count,
            f.cost_seconds,
            f.evidence("worst_poll_seconds").unwrap_or(0.0) * 1e3
        );
    }
}

/// Sends `GET path` over a kept-alive connection and reads the response.
/// Returns false when the connection must be reopened.
pub async fn get(conn: &mut tokio::net::TcpStream, path: &str, buf: &mut Vec<u8>) -> bool {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    if conn.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= head_end + 4 + len {
            return true;
        }
    }
}

/// The options every scenario example takes: `--fixed` runs the fixed
/// shape, `--seconds N` (1..=3600) how long. Exits with a clear message on
/// anything else.
pub struct Args {
    pub fixed: bool,
    pub seconds: u64,
}

pub fn args(default_seconds: u64) -> Args {
    let mut out = Args {
        fixed: false,
        seconds: default_seconds,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fixed" => out.fixed = true,
            "--seconds" => match args.next().and_then(|v| v.parse().ok()) {
                Some(s) if (1..=3600).contains(&s) => out.seconds = s,
                _ => fail("--seconds needs a number from 1 to 3600"),
            },
            other => fail(&format!(
                "unknown argument {other:?}; use --fixed and/or --seconds N"
            )),
        }
    }
    out
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

/// The findings table, then each finding's sentence and fix.
pub fn print_report(doctor: &tokio_doctor::Doctor) {
    print_findings(doctor);
    for f in doctor.findings() {
        println!("  - {}\n    fix: {}", f.message, f.fix);
    }
}

/// A doctor without endpoint, its layer installed as the global
/// subscriber, and a sample interval of `sample`.
pub fn doctor_with(
    sample: Duration,
    configure: impl FnOnce(tokio_doctor::DoctorBuilder) -> tokio_doctor::DoctorBuilder,
) -> tokio_doctor::Doctor {
    use tracing_subscriber::prelude::*;
    let doctor = configure(
        tokio_doctor::Doctor::builder()
            .no_endpoint()
            .sample_interval(sample),
    )
    .build()
    .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    doctor
}
