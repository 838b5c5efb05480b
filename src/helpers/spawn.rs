//! `tokio_doctor::spawn`: `tokio::spawn` that counts tasks per spawn site.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::layer::thread_state::{with_state, PollFrame};
use crate::state::shape_stats::TaskStats;
use crate::state::sites::{SiteMeta, Sites};
use crate::state::Shared;

/// Spawns `future` on the current runtime, like [`tokio::spawn`], and
/// counts it under its spawn site (the caller's `file:line`) for the
/// doctor of the current subscriber: live tasks per site
/// (`tokio_doctor_spawn_site_live_tasks`), spawns and completions, and
/// tasks that complete in their first poll with tiny busy time. These feed
/// `excess_tasks`, `unbounded_fanout` and `trivial_async`.
///
/// The site is the same one tokio's own task spans name with `--cfg
/// tokio_unstable`, so a task seen both ways counts once. Without a doctor
/// in the current subscriber it is plain `tokio::spawn`. The cost per task
/// is an `Arc` clone and a few relaxed atomic adds; per poll, two clock
/// reads and the thread state's enter and exit.
///
/// Each poll of the task is marked on its worker at the spawn site, as a
/// span's poll is, so a task that blocks its worker is a `blocking_poll`
/// at `runtime.spawn` and the spawn's `file:line` (or at the span inside
/// it with the most self time), and the watchdog captures its stack while
/// it stalls, without a span and on stable tokio.
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn` does.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = tokio_doctor::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # }
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let track = track(Location::caller());
    // The run of spawns is timed from the end of one spawn to the start of
    // the next: a pause inside `tokio::spawn` (the subscriber growing its
    // span storage for the task span, with tokio_unstable) is not a gap in
    // the caller's loop.
    let burst = track
        .as_ref()
        .map(|t| (t.shared.clone(), t.site, t.spawned_at));
    let counted = Counted {
        inner: future,
        track,
        polled: false,
    };
    // `tokio::spawn` is `#[track_caller]` too: its task span (with
    // tokio_unstable) names the same location.
    let handle = tokio::spawn(counted);
    if let Some((shared, site, start)) = burst {
        let end = shared.clock.raw();
        // The task poll this spawn came from: a loop spawning per item in
        // one poll is one run, however the host preempted it.
        let poll = crate::layer::thread_state::with_existing_state(shared.id, |st| {
            st.poll_mark().task_poll()
        })
        .unwrap_or(0);
        let t = shared.sites.get(site).shape.tasks();
        t.burst.arrived_during(&shared, start, end, poll);
    }
    handle
}

/// The doctor of the current subscriber, if its layer is in it.
fn current_doctor() -> Option<Arc<Shared>> {
    tracing::dispatcher::get_default(crate::layer::doctor_of)
}

fn track(loc: &'static Location<'static>) -> Option<Track> {
    let shared = current_doctor()?;
    // The key and description tokio's task spans get (see
    // `DoctorLayer::site_of_task_span`), so both name one site.
    let key = Sites::location_key(loc.file(), loc.line() as u64, loc.column() as u64);
    let site = shared.sites.intern(key, || SiteMeta {
        span: "runtime.spawn".to_string(),
        target: "tokio::task".to_string(),
        location: format!(
            "{}:{}",
            crate::state::location::stable_path(loc.file(), &[]),
            loc.line()
        ),
    });
    let t = shared.sites.get(site).shape.tasks();
    let live = (t.spawned.fetch_add(1, Relaxed) + 1).saturating_sub(t.finished.load(Relaxed));
    if t.peak.load(Relaxed) < live {
        t.peak.fetch_max(live, Relaxed);
    }
    let spawned_at = shared.clock.raw();
    Some(Track {
        shared,
        site,
        spawned_at,
    })
}

struct Track {
    shared: Arc<Shared>,
    site: u32,
    spawned_at: u64,
}

impl Track {
    fn stats(&self) -> &TaskStats {
        self.shared.sites.get(self.site).shape.tasks()
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        // Completed or dropped unfinished (aborted, runtime shut down):
        // either way no longer alive.
        self.stats().finished.fetch_add(1, Relaxed);
    }
}

pin_project_lite::pin_project! {
    struct Counted<F> {
        #[pin]
        inner: F,
        track: Option<Track>,
        polled: bool,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(track) = this.track.as_ref() else {
            return this.inner.poll(cx);
        };
        let first = !std::mem::replace(this.polled, true);
        let shared = &track.shared;
        let clock = &shared.clock;
        let start = clock.raw();
        // Every poll is marked on the worker's shard at the spawn site, as
        // a span's poll is: the watchdog sees the task stall while it
        // lasts (and captures its stack) though it runs in no span.
        let marked = with_state(shared.id, shared, |st| {
            st.enter_poll(PollFrame::Spawned, start, track.site)
        })
        .is_some();
        let out = this.inner.poll(cx);
        let end = clock.raw();
        if marked {
            let slow = with_state(shared.id, shared, |st| {
                st.exit_poll(
                    PollFrame::Spawned,
                    end,
                    clock,
                    shared.ns.blocking_poll_threshold,
                )
            });
            if let Some(Some(slow)) = slow {
                crate::layer::record_slow_poll(shared, slow);
            }
        }
        if first && out.is_ready() {
            let busy = clock.delta_as_nanos(start, end);
            if busy <= shared.ns.trivial_busy {
                let t = track.stats();
                t.trivial.fetch_add(1, Relaxed);
                t.trivial_busy_ns.fetch_add(busy, Relaxed);
                t.trivial_wait_ns
                    .fetch_add(clock.delta_as_nanos(track.spawned_at, start), Relaxed);
            }
        }
        out
    }
}
