//! Issue 16: the watchdog captures a stalled worker's stack and names the
//! frame of the service's own code it is stuck in, at its `file:line`,
//! though the handler has no span of its own. Linux only (a no-op elsewhere).
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tokio_doctor::{Doctor, FindingKind};
use tracing::Instrument;

/// This crate's path prefix, as demangled function names start.
const CRATE: &str = module_path!();

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

const HASH_FIRST: u32 = line!();
/// The service's own function: it calls a CPU-bound library function (the
/// standard library's sort) for ~60 ms of CPU time, without yielding.
#[inline(never)]
fn hash_password(input: &mut [u64]) -> u64 {
    let start = thread_cpu();
    while thread_cpu() - start < Duration::from_millis(60) {
        input.sort_unstable();
        input.reverse();
    }
    std::hint::black_box(input[0])
}
const HASH_LAST: u32 = line!();

/// An async handler with no span of its own.
async fn login(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let mut input: Vec<u64> = (0..20_000).map(|i| i * 7919 % 10_007 + n).collect();
    hash_password(&mut input)
}

const SLEEP_FIRST: u32 = line!();
#[inline(never)]
fn wait_for_disk() {
    std::thread::sleep(Duration::from_millis(80));
}
const SLEEP_LAST: u32 = line!();

#[inline(never)]
fn load_profile() -> Duration {
    let start = Instant::now();
    wait_for_disk();
    start.elapsed()
}

const READ_FIRST: u32 = line!();
#[inline(never)]
fn read_reply(s: &mut std::net::TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 11];
    s.read_exact(&mut buf).unwrap();
    buf
}
const READ_LAST: u32 = line!();

#[inline(never)]
fn call_peer(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    read_reply(&mut s)
}

/// The `tokio_doctor_blocking_frames_total` series of `span` whose function
/// is `function`: its frame_location's line.
fn culprit_line(doctor: &Doctor, span: &str, function: &str, file: &str) -> Option<u32> {
    let text = doctor.render_prometheus();
    let prefix = format!("tokio_doctor_blocking_frames_total{{span=\"{span}\"");
    let needle = format!("function=\"{CRATE}::{function}\",frame_location=\"{file}:");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix) && l.contains(&needle))?;
    let at = line.find(&needle)? + needle.len();
    line[at..].split('"').next()?.parse().ok()
}

#[test]
fn a_cpu_bound_call_in_a_handler_without_a_span_is_named_at_its_file_and_line() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        // The same work in spawn_blocking: no stall, so no capture.
        tokio::spawn(
            async {
                tokio::task::spawn_blocking(|| {
                    let mut input: Vec<u64> = (0..20_000).rev().collect();
                    hash_password(&mut input)
                })
                .await
                .unwrap()
            }
            .instrument(tracing::info_span!("offloaded_login")),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let text = doctor.render_prometheus();
        assert!(
            !text.contains("tokio_doctor_blocking_frames_total{"),
            "spawn_blocking is silent: {text}"
        );

        let mut handles = Vec::new();
        for n in 0..3 {
            handles.push(tokio::spawn(
                login(n).instrument(tracing::info_span!("handle_login")),
            ));
        }
        for h in handles {
            h.await.unwrap();
        }
        let file = file!();
        let ok = support::eventually(Duration::from_secs(5), || {
            culprit_line(&doctor, "handle_login", "hash_password", file).is_some()
        })
        .await;
        assert!(ok, "{}", doctor.render_prometheus());
        let line = culprit_line(&doctor, "handle_login", "hash_password", file).unwrap();
        assert!(
            (HASH_FIRST..=HASH_LAST).contains(&line),
            "line {line} is not in hash_password ({HASH_FIRST}..={HASH_LAST})"
        );
        let f = support::of_kind(&doctor, FindingKind::BlockingPoll)
            .into_iter()
            .find(|f| f.span == "handle_login")
            .expect("a blocking_poll finding for the request span");
        assert!(
            f.message
                .contains(&format!("`{CRATE}::hash_password` at {file}:")),
            "{}",
            f.message
        );
        // The library frames are evidence: the top of the stack holds the
        // standard library's code the culprit calls (its sort, the reverse
        // between two sorts, or the clock read), at a toolchain-relative
        // path.
        let top = f.message.split("Top of the stack: ").nth(1).unwrap_or("");
        assert!(
            top.contains(" at core/src/") || top.contains(" at std/src/"),
            "{}",
            f.message
        );
        assert!(f.evidence("stack_samples").unwrap() >= 1.0);
        assert!(!f.message.contains("/rustc/"), "{}", f.message);
    });
}

#[test]
fn a_sleep_and_a_blocking_socket_read_three_calls_deep_are_named_and_still_complete() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    // A peer that answers after 80 ms.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(80));
            s.write_all(b"hello world").unwrap();
        }
    });
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        for _ in 0..2 {
            let slept = tokio::spawn(
                async { load_profile() }.instrument(tracing::info_span!("profile_page")),
            )
            .await
            .unwrap();
            // Interrupted by captures (SA_RESTART; std's sleep resumes the
            // rest of the time after EINTR): it still slept the whole time.
            assert!(slept >= Duration::from_millis(80), "{slept:?}");
            let reply = tokio::spawn(
                async move { call_peer(addr) }.instrument(tracing::info_span!("proxy")),
            )
            .await
            .unwrap();
            assert_eq!(reply, b"hello world", "the read completes intact");
        }
        let file = file!();
        let ok = support::eventually(Duration::from_secs(5), || {
            culprit_line(&doctor, "profile_page", "wait_for_disk", file).is_some()
                && culprit_line(&doctor, "proxy", "read_reply", file).is_some()
        })
        .await;
        assert!(ok, "{}", doctor.render_prometheus());
        let sleep = culprit_line(&doctor, "profile_page", "wait_for_disk", file).unwrap();
        assert!((SLEEP_FIRST..=SLEEP_LAST).contains(&sleep), "{sleep}");
        let read = culprit_line(&doctor, "proxy", "read_reply", file).unwrap();
        assert!((READ_FIRST..=READ_LAST).contains(&read), "{read}");
    });
    peer.join().unwrap();
}
