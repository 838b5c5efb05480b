//! Issue 16, polls without spans: `tokio_doctor::spawn` marks each poll of
//! its task on the worker, so on stable tokio a task that blocks its worker
//! in no span is a `blocking_poll` at `runtime.spawn` and its spawn
//! `file:line`, and the watchdog names the service's function it is stuck
//! in while it stalls. Tasks spawned the same way that yield within the
//! threshold stay silent.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;

/// This crate's path prefix, as demangled function names start.
const CRATE: &str = module_path!();

const CRUNCH_FIRST: u32 = line!();
/// The service's own function: ~80 ms of CPU without yielding.
#[inline(never)]
fn crunch() -> u64 {
    let mut input: Vec<u64> = (0..20_000).rev().collect();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(80) {
        input.sort_unstable();
        input.reverse();
    }
    std::hint::black_box(input[0])
}
const CRUNCH_LAST: u32 = line!();

#[test]
fn a_blocking_task_spawned_with_the_doctors_spawn_is_named_at_its_line_and_frame() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        // Unrelated load through the same spawn: short polls that yield.
        let load: Vec<_> = (0..8)
            .map(|_| {
                tokio_doctor::spawn(async {
                    for _ in 0..200 {
                        support::spin_for(Duration::from_micros(100));
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        support::expect_none(FindingKind::BlockingPoll)
            .during(Duration::from_millis(100))
            .on_async(&doctor)
            .await;
        let line = line!() + 1;
        let stuck = tokio_doctor::spawn(async { crunch() });
        stuck.await.unwrap();
        let location = format!("{}:{line}", file!());
        let finished = || {
            support::of_kind(&doctor, FindingKind::BlockingPoll)
                .into_iter()
                .find(|f| f.span == "runtime.spawn" && f.location == location && f.count > 0)
        };
        assert!(
            support::eventually(Duration::from_secs(5), || finished().is_some()).await,
            "{:?}",
            doctor.findings()
        );
        let found = finished().unwrap();
        assert_eq!(found.count, 1, "{found:?}");
        // Time on a CPU (or blocked in a syscall) of the 80 ms poll: at
        // least the threshold, less than 80 ms where a busy host took the
        // CPU away meanwhile.
        let blocked = found.evidence("blocked_seconds").unwrap();
        assert!((0.01..0.2).contains(&blocked), "{blocked}");
        // The stack the watchdog caught names the function, in this file.
        let site = format!("span=\"runtime.spawn\",location=\"{location}\"");
        let function = format!("function=\"{CRATE}::crunch\",frame_location=\"{}:", file!());
        let frame_line = || {
            let text = doctor.render_prometheus();
            let line = text
                .lines()
                .filter(|l| l.starts_with("tokio_doctor_blocking_frames_total{"))
                .find(|l| l.contains(&site) && l.contains(&function))?
                .to_string();
            let at = line.find(&function)? + function.len();
            line[at..].split('"').next()?.parse::<u32>().ok()
        };
        assert!(
            support::eventually(Duration::from_secs(5), || frame_line().is_some()).await,
            "{}",
            doctor.render_prometheus()
        );
        let frame = frame_line().unwrap();
        assert!(
            (CRUNCH_FIRST..=CRUNCH_LAST).contains(&frame),
            "line {frame} is not in crunch ({CRUNCH_FIRST}..={CRUNCH_LAST})"
        );
        for h in load {
            h.await.unwrap();
        }
        assert_eq!(
            support::of_kind(&doctor, FindingKind::BlockingPoll).len(),
            1,
            "the load stayed silent: {:?}",
            doctor.findings()
        );
    });
}
