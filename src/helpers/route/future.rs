//! The request future of [`TaskMonitorLayer`](crate::TaskMonitorLayer):
//! a task monitor per route in tokio-metrics' model (requests, polls fast
//! and slow, scheduling delay, idle time, first-poll delay; see
//! [`RouteStats`](crate::state::route_stats::RouteStats)), plus a
//! judgement of each slow poll on CPU time, the way the span view judges
//! polls.
//!
//! A poll is slow on the wall clock in tokio-metrics' sense. On a host
//! with more runnable threads than cores (a busy `spawn_blocking` pool, a
//! neighbour's build), a worker can wait tens of milliseconds for a CPU
//! in the middle of a poll that does almost nothing, and a route whose
//! work is correctly off the runtime would be blamed. So every poll is
//! timed (two reads of the doctor's clock, which every figure of the
//! request comes from), and only a poll already past the threshold on the
//! wall clock asks the worker's scheduler notes how long it waited for a
//! CPU.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::wake::WakeSlot;
use crate::layer::thread_state::{with_existing_state, PollFrame};
use crate::state::routes::{Judging, Route, RouteMarks};
use crate::state::sites::{SiteMeta, Sites};
use crate::state::Shared;

pin_project_lite::pin_project! {
    /// The future `TaskMonitorService` (feature `middleware`) and
    /// [`Doctor::monitor_job`](crate::Doctor::monitor_job) return: the
    /// request's (or job's) future, counted by its route's task monitor,
    /// whose slow polls the route view judges on CPU time (time the worker
    /// waited for a CPU does not count), and whose polls are marked on
    /// their worker so the watchdog sees a stall while it lasts.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tokio_doctor::Error> {
    /// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
    /// let job: tokio_doctor::RouteFuture<_> = doctor.monitor_job("nightly-report", async { 42 });
    /// assert_eq!(tokio::spawn(job).await.unwrap(), 42);
    /// # Ok(()) }
    /// ```
    pub struct RouteFuture<F> {
        #[pin]
        inner: F,
        judge: Judge,
        // Raw clock time of the future's creation, then of the end of its
        // last poll; `polled` tells which.
        since: u64,
        polled: bool,
        wake: WakeSlot,
    }

    impl<F> PinnedDrop for RouteFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            this.judge.route.monitor.dropped();
        }
    }
}

impl<F> std::fmt::Debug for RouteFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteFuture").finish_non_exhaustive()
    }
}

/// What a request future needs to judge its slow polls: its route (the
/// doctor's clock, threshold and id are the route's [`Judging`]).
pub(crate) struct Judge {
    pub(crate) route: Route,
    /// The route's call site, where its polls are marked ([`NO_SITE`]:
    /// not marked).
    pub(crate) site: u32,
}

/// A route with no call site: its polls are not marked.
pub(crate) const NO_SITE: u32 = u32::MAX;

impl<F> RouteFuture<F> {
    /// `fut` under route `name` of `shared` (created at `location`, capped
    /// like every label), its polls marked at the route's site.
    pub(crate) fn for_route(
        shared: &Arc<Shared>,
        name: &str,
        location: &'static std::panic::Location<'static>,
        fut: F,
    ) -> Self {
        RouteFuture::new(fut, Judge::of_route(shared, name, location))
    }

    /// `fut`, instrumented by its route's monitor and judged by `judge`
    /// ([`Judge::of_route`]).
    pub(crate) fn new(fut: F, judge: Judge) -> Self {
        judge.route.monitor.instrumented();
        RouteFuture {
            inner: fut,
            since: judge.route.judging.clock.raw(),
            polled: false,
            wake: WakeSlot::default(),
            judge,
        }
    }
}

impl Judge {
    /// The judge of the polls of route `name` of `shared`.
    pub(crate) fn of_route(
        shared: &Arc<Shared>,
        name: &str,
        location: &'static std::panic::Location<'static>,
    ) -> Judge {
        let resolve = || {
            let marks = |name: &str, location: &str| RouteMarks {
                site: route_site(shared, name, location),
                shared: Arc::downgrade(shared),
            };
            let judging = || Judging {
                clock: shared.clock.clone(),
                threshold_ns: shared.ns.blocking_poll_threshold,
                owner: shared.id,
            };
            let route = shared.routes.route(
                name,
                shared.config.label_cap,
                judging,
                location,
                Some(&marks),
            );
            // A future that judges its polls runs for the route: from now
            // on the route view is the CPU-judged one.
            let polls = &route.polls;
            if !polls.judged.load(Relaxed) {
                polls.judged.store(true, Relaxed);
            }
            let site = polls.marks.get().map_or(NO_SITE, |m| m.site);
            (route, site)
        };
        // Every name this thread resolved is here, so a request's route
        // is found without the map's lock.
        let (route, site) = crate::state::routes::recent_route(shared.id, name, resolve);
        Judge { route, site }
    }
}

/// The call site a route's polls are marked at: the route's name at the
/// layer's (or job's) location, in the `route` target, as its findings
/// name it.
fn route_site(shared: &Shared, name: &str, location: &str) -> u32 {
    let key = Sites::location_key(location, 0, crate::util::fnv1a(name.bytes()));
    shared.sites.intern(key, || SiteMeta {
        span: name.to_string(),
        target: "route".to_string(),
        location: location.to_string(),
    })
}

impl<F: Future> Future for RouteFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let judge = &*this.judge;
        let j = &judge.route.judging;
        let start = j.clock.raw();
        // Marked on the worker's shard, as a span's poll is: the watchdog
        // sees the request stall while it lasts and captures its stack.
        let marked = judge.site != NO_SITE
            && with_existing_state(j.owner, |st| {
                st.enter_poll(PollFrame::Route, start, judge.site)
            })
            .is_some();
        let woke = this.wake.take_wake();
        let inner = this.inner;
        let out = this.wake.poll(cx.waker(), &j.clock, |cx| inner.poll(cx));
        let end = j.clock.raw();
        if marked {
            let slow = with_existing_state(j.owner, |st| {
                st.exit_poll(PollFrame::Route, end, &j.clock, j.threshold_ns)
            });
            if let Some(Some(slow)) = slow {
                judge.slow_inside(slow);
            }
        }
        let stats = &judge.route.monitor;
        let since = std::mem::replace(this.since, end);
        if !std::mem::replace(this.polled, true) {
            stats.first_poll(j.clock.delta_as_nanos(since, start));
        }
        if woke != 0 {
            // Idle from the end of the last poll to the wake, unless the
            // wake came during that poll.
            let idle = (woke > since).then(|| j.clock.delta_as_nanos(since, woke));
            stats.woken(j.clock.delta_as_nanos(woke, start), idle);
        }
        let wall_ns = j.clock.delta_as_nanos(start, end);
        stats.polled(wall_ns, j.threshold_ns);
        if wall_ns >= j.threshold_ns {
            judge.slow_poll(start.max(1), wall_ns);
        }
        out
    }
}

impl Judge {
    /// A marked poll that crossed the threshold, blamed by the thread state
    /// on the span with the most self time in it: counted there, as the
    /// layer counts a span's slow poll (the marked route frame, not the
    /// span, began the poll, so the layer does not). Blamed on the route
    /// itself, it is the route view's, counted below.
    #[cold]
    fn slow_inside(&self, slow: crate::layer::thread_state::SlowPoll) {
        if slow.site == self.site {
            return;
        }
        if let Some(shared) = self
            .route
            .polls
            .marks
            .get()
            .and_then(|m| m.shared.upgrade())
        {
            crate::layer::record_slow_poll(&shared, slow);
        }
    }

    /// A poll past the threshold on the wall clock: slow if the worker was
    /// on a CPU (or blocked in a syscall) for the threshold, else preempted.
    #[cold]
    fn slow_poll(&self, since: u64, wall_ns: u64) {
        let j = &self.route.judging;
        let polls = &self.route.polls;
        let on_cpu = crate::layer::thread_state::on_cpu_ns(j.owner, &j.clock, since, wall_ns);
        if on_cpu >= j.threshold_ns {
            polls.slow.fetch_add(1, Relaxed);
            polls.slow_ns.fetch_add(on_cpu, Relaxed);
        } else {
            polls.preempted.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use crate::state::route_stats::RouteMetrics;
    use crate::Doctor;

    fn metrics(doctor: &Doctor, name: &str) -> RouteMetrics {
        let routes = doctor.shared.routes.all();
        let (_, r) = routes.iter().find(|(n, _)| n == name).expect("the route");
        r.monitor.cumulative()
    }

    /// Wakes itself during its first poll (so it never idles) and is
    /// ready at the second.
    struct WakesItselfOnce(bool);
    impl Future for WakesItselfOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if std::mem::replace(&mut self.0, true) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// tokio-metrics' model, counted off the doctor's clock: a request
    /// made 30 ms before its first poll, idle 20 ms in a sleep, then woken
    /// during a poll (scheduled, never idle).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_route_counts_first_poll_delay_idle_time_and_scheduling_as_tokio_metrics_does() {
        let doctor = Doctor::builder().no_endpoint().build().unwrap();
        let job = doctor.monitor_job("job", async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            WakesItselfOnce(false).await;
        });
        let m = metrics(&doctor, "job");
        assert_eq!((m.instrumented_count, m.dropped_count), (1, 0));
        assert_eq!(m.first_poll_count, 0);
        std::thread::sleep(Duration::from_millis(30));
        tokio::spawn(job).await.unwrap();
        let m = metrics(&doctor, "job");
        assert_eq!((m.instrumented_count, m.dropped_count), (1, 1));
        assert_eq!(m.first_poll_count, 1);
        assert!(
            m.total_first_poll_delay >= Duration::from_millis(30),
            "{m:?}"
        );
        assert_eq!(m.total_poll_count, 3, "{m:?}");
        assert_eq!(m.total_scheduled_count, 2, "{m:?}");
        assert_eq!(
            m.total_idled_count, 1,
            "the wake during a poll is no idle: {m:?}"
        );
        assert!(m.total_idle_duration >= Duration::from_millis(19), "{m:?}");
        assert!(m.total_idle_duration < Duration::from_secs(5), "{m:?}");
        assert_eq!(m.total_slow_poll_count, 0, "{m:?}");
        assert!(m.total_poll_duration < Duration::from_millis(20), "{m:?}");
    }

    /// A request cancelled while it waits is dropped too: nothing stays
    /// in flight.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_request_is_no_longer_in_flight() {
        let doctor = Doctor::builder().no_endpoint().build().unwrap();
        let job = doctor.monitor_job("waits", std::future::pending::<()>());
        let handle = tokio::spawn(job);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let m = metrics(&doctor, "waits");
        assert_eq!((m.instrumented_count, m.dropped_count), (1, 0));
        assert_eq!(m.total_poll_count, 1);
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
        let m = metrics(&doctor, "waits");
        assert_eq!((m.instrumented_count, m.dropped_count), (1, 1));
    }

    /// A poll past the threshold on the wall clock is slow in the
    /// monitor's count, as in tokio-metrics'.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_poll_past_the_threshold_is_a_slow_poll() {
        let doctor = Doctor::builder()
            .no_endpoint()
            .blocking_poll_threshold(Duration::from_millis(5))
            .build()
            .unwrap();
        let job = doctor.monitor_job("blocks", async {
            std::thread::sleep(Duration::from_millis(15));
        });
        tokio::spawn(job).await.unwrap();
        let m = metrics(&doctor, "blocks");
        assert_eq!((m.total_poll_count, m.total_slow_poll_count), (1, 1));
        assert!(
            m.total_slow_poll_duration >= Duration::from_millis(15),
            "{m:?}"
        );
    }
}
