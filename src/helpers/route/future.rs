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

use crate::state::routes::RoutePolls;

pin_project_lite::pin_project! {
    /// The future [`TaskMonitorService`](crate::TaskMonitorService) returns:
    /// the request's future, instrumented by its route's
    /// `tokio_metrics::TaskMonitor`, whose slow polls the route view judges
    /// on CPU time (time the worker waited for a CPU does not count).
    pub struct RouteFuture<F> {
        #[pin]
        inner: tokio_metrics::Instrumented<F>,
        judge: Judge,
    }
}

impl<F> std::fmt::Debug for RouteFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteFuture").finish_non_exhaustive()
    }
}

/// What a request future needs to judge its slow polls.
pub(crate) struct Judge {
    pub(crate) polls: Arc<RoutePolls>,
    pub(crate) clock: quanta::Clock,
    pub(crate) threshold_ns: u64,
    /// The doctor's id, to find this thread's shard of it.
    pub(crate) owner: u64,
}

impl<F> RouteFuture<F> {
    pub(crate) fn new(inner: tokio_metrics::Instrumented<F>, judge: Judge) -> Self {
        if !judge.polls.judged.load(Relaxed) {
            judge.polls.judged.store(true, Relaxed);
        }
        RouteFuture { inner, judge }
    }
}

impl<F: Future> Future for RouteFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let judge = &*this.judge;
        let start = judge.clock.raw();
        let out = this.inner.poll(cx);
        let wall_ns = judge.clock.delta_as_nanos(start, judge.clock.raw());
        if wall_ns >= judge.threshold_ns {
            judge.slow_poll(start.max(1), wall_ns);
        }
        out
    }
}

impl Judge {
    /// A poll past the threshold on the wall clock: slow if the worker was
    /// on a CPU (or blocked in a syscall) for the threshold, else preempted.
    #[cold]
    fn slow_poll(&self, since: u64, wall_ns: u64) {
        let on_cpu = crate::layer::thread_state::on_cpu_ns(self.owner, since, wall_ns);
        if on_cpu >= self.threshold_ns {
            self.polls.slow.fetch_add(1, Relaxed);
            self.polls.slow_ns.fetch_add(on_cpu, Relaxed);
        } else {
            self.polls.preempted.fetch_add(1, Relaxed);
        }
    }
}
