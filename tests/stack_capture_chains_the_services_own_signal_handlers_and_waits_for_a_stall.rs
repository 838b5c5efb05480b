//! Issue 16, safety: a service's own handlers of the real-time signals keep
//! working (the capture handler is chained in front, never replaces them),
//! and nothing of stack capture runs (not even its handler's installation)
//! while no poll is stalled. Linux only.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::Instrument;

/// What the service's own handler saw, per real-time signal.
static SEEN: [AtomicU64; 65] = [const { AtomicU64::new(0) }; 65];

extern "C" fn service_handler(sig: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    SEEN[sig as usize].fetch_add(1, Ordering::Relaxed);
}

fn handler_of(sig: i32) -> usize {
    // SAFETY: reading a disposition into a local.
    unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut cur), 0);
        cur.sa_sigaction
    }
}

#[inline(never)]
fn crunch() -> u64 {
    support::spin_for(Duration::from_millis(60))
}

#[test]
fn the_services_handlers_keep_working_and_nothing_is_installed_before_a_stall() {
    let (lo, hi) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let ours = service_handler as *const () as usize;
    // The service has a handler on every real-time signal, so the doctor
    // has to chain one.
    for sig in lo..=hi {
        // SAFETY: installing a valid SA_SIGINFO handler.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ours;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
        }
    }
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        // Healthy traffic only: no stall, so nothing is installed.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for sig in lo..=hi {
            assert_eq!(
                handler_of(sig),
                ours,
                "signal {sig} untouched while no poll stalls"
            );
        }
        // A stall: the doctor captures it through its chained handler.
        tokio::spawn(async { crunch() }.instrument(tracing::info_span!("report_job")))
            .await
            .unwrap();
        let ok = support::eventually(Duration::from_secs(5), || {
            // The innermost frame of the service's own code: the helper
            // that spins (or the clock read inside it), which `crunch` calls.
            doctor
                .render_prometheus()
                .contains(&format!("function=\"{}::support::spin_for", module_path!()))
        })
        .await;
        assert!(ok, "{}", doctor.render_prometheus());
    });
    let replaced: Vec<i32> = (lo..=hi).filter(|&s| handler_of(s) != ours).collect();
    assert_eq!(
        replaced.len(),
        1,
        "exactly one signal carries the capture handler"
    );
    // Every signal still reaches the service's handler, the chained one
    // included; capture requests never did.
    for sig in lo..=hi {
        SEEN[sig as usize].store(0, Ordering::Relaxed);
        // SAFETY: raising a signal that has a handler.
        assert_eq!(unsafe { libc::raise(sig) }, 0);
        assert_eq!(
            SEEN[sig as usize].load(Ordering::Relaxed),
            1,
            "signal {sig} reached the service's handler"
        );
    }
}
