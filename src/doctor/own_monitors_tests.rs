//! The doctor's own monitor tasks (sampler, lag probe, wake answer) are
//! marked by tokio's task spans and poll hooks under `tokio_unstable`, and
//! are never reported as blocking polls of the service; a task of the
//! service's, spawned elsewhere, still is.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tracing_subscriber::prelude::*;

use super::{Doctor, MONITORS_FILE};
use crate::layer::thread_state::SlowPoll;
use crate::state::location::stable_path;

/// Sites of tasks spawned in the monitors' file, and whether each is
/// marked as the doctor's own.
fn monitor_sites(doctor: &Doctor) -> Vec<(u32, bool)> {
    let prefix = format!("{}:", stable_path(MONITORS_FILE, &[]));
    doctor
        .shared
        .sites
        .iter()
        .filter(|(_, _, m)| m.span == "runtime.spawn" && m.location.starts_with(&prefix))
        .map(|(id, site, _)| (id, site.blocking.own.load(Relaxed)))
        .collect()
}

/// One of these tests at a time: a doctor's runtime with poll hooks and no
/// subscriber, running beside the other test, left its task spans unseen.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn slow(site: u32) -> SlowPoll {
    SlowPoll {
        elapsed_ns: 50_000_000,
        site,
        self_ns: 50_000_000,
    }
}

#[test]
fn the_doctors_own_tasks_are_marked_and_their_slow_polls_not_counted() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let for_threads = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);
    let service_site = rt.block_on(async {
        let _running = doctor.start().unwrap();
        // A task of the service's, spawned here and not in the monitors' file.
        tokio::spawn(async {}).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        doctor
            .shared
            .sites
            .iter()
            .find(|(_, _, m)| m.span == "runtime.spawn" && m.location.contains(file!()))
            .map(|(id, site, _)| (id, site.blocking.own.load(Relaxed)))
    });
    let monitors = monitor_sites(&doctor);
    // The lag probe, the wake answer and the sampler.
    assert!(monitors.len() >= 3, "{monitors:?}");
    assert!(monitors.iter().all(|&(_, own)| own), "{monitors:?}");
    for &(site, _) in &monitors {
        crate::layer::record_slow_poll(&doctor.shared, slow(site));
        assert_eq!(
            doctor.shared.sites.get(site).blocking.polls.load(Relaxed),
            0
        );
    }
    let (site, own) = service_site.expect("the service's task has its spawn site");
    assert!(!own, "the service's task is not the doctor's");
    crate::layer::record_slow_poll(&doctor.shared, slow(site));
    assert_eq!(
        doctor.shared.sites.get(site).blocking.polls.load(Relaxed),
        1
    );
}

#[test]
fn poll_hooks_mark_the_doctors_own_tasks_too() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    doctor.install_poll_hooks(&mut builder);
    let rt = builder.build().unwrap();
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    let monitors = monitor_sites(&doctor);
    assert!(monitors.len() >= 3, "{monitors:?}");
    assert!(monitors.iter().all(|&(_, own)| own), "{monitors:?}");
}
