//! The request future of [`TaskMonitorLayer`](crate::TaskMonitorLayer):
//! tokio-metrics' instrumented future, plus a judgement of each slow poll
//! on CPU time, the way the span view judges polls.
//!
//! tokio-metrics counts a poll as slow on the wall clock. On a host with
//! more runnable threads than cores (a busy `spawn_blocking` pool, a
//! neighbour's build), a worker can wait tens of milliseconds for a CPU in
//! the middle of a poll that does almost nothing, and a route whose work
//! is correctly off the runtime would be blamed. So every poll is timed
//! (two reads of the doctor's clock, as cheap as the two `Instant::now` of
//! tokio-metrics), and only a poll already past the threshold on the wall
//! clock asks the worker's scheduler notes how long it waited for a CPU.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::layer::thread_state::{with_existing_state, PollFrame};
use crate::state::routes::{Judging, Route, RouteMarks};
use crate::state::sites::{SiteMeta, Sites};
use crate::state::Shared;

pin_project_lite::pin_project! {
    /// The future `TaskMonitorService` (feature `middleware`) and
    /// [`Doctor::monitor_job`](crate::Doctor::monitor_job) return: the
    /// request's (or job's) future, instrumented by its route's
    /// `tokio_metrics::TaskMonitor`, whose slow polls the route view judges
    /// on CPU time (time the worker waited for a CPU does not count), and
    /// whose polls are marked on their worker so the watchdog sees a stall
    /// while it lasts.
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
        inner: tokio_metrics::Instrumented<F, Route>,
        judge: Judge,
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
        let inner = tokio_metrics::TaskMonitorCore::instrument_with(fut, judge.route.clone());
        RouteFuture { inner, judge }
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
                shared.config.blocking_poll_threshold,
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
        let out = this.inner.poll(cx);
        let end = j.clock.raw();
        if marked {
            let slow = with_existing_state(j.owner, |st| {
                st.exit_poll(PollFrame::Route, end, &j.clock, j.threshold_ns)
            });
            if let Some(Some(slow)) = slow {
                judge.slow_inside(slow);
            }
        }
        let wall_ns = j.clock.delta_as_nanos(start, end);
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
        let on_cpu = crate::layer::thread_state::on_cpu_ns(j.owner, since, wall_ns);
        if on_cpu >= j.threshold_ns {
            polls.slow.fetch_add(1, Relaxed);
            polls.slow_ns.fetch_add(on_cpu, Relaxed);
        } else {
            polls.preempted.fetch_add(1, Relaxed);
        }
    }
}
