//! Deadlines: every external await needs a deadline that
//! cancels. A request that waits for three backends is as slow as the
//! slowest; without a deadline one hung backend holds the request, its
//! connection and its task for as long as it hangs.
//!
//! [`deadline`] (or [`DeadlineExt::deadline`]) bounds a future with
//! `tokio::time::timeout` (which cancels: the future is dropped on expiry)
//! and tells the doctor, so every span created inside it has a deadline in
//! scope. A `timeout`, `timeout_ms`, `deadline` or `deadline_ms` field on a
//! span (or an enclosing span) counts too: a number is milliseconds, a
//! string may carry a unit (`"250ms"`, `"2s"`).
//!
//! The doctor then reports, per call site:
//! - `missing_deadline`: outbound spans (OpenTelemetry `otel.kind =
//!   "client"`, `http.request.method`, `url.full`, `server.address`,
//!   `db.system`, `rpc.system`, `peer.service`, or configured names) with
//!   no deadline in scope, and their p99;
//! - `deadline_overrun`: spans that outlived their deadline (a timeout that
//!   does not cancel, or a detached task);
//! - hung calls: outbound spans open past the hang limit, while they hang.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

thread_local! {
    /// The deadline of the [`Deadline`] future being polled on this thread.
    static SCOPE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Nanoseconds left in the deadline scope being polled on this thread.
pub(crate) fn scope_remaining_ns() -> Option<u64> {
    let at = SCOPE.try_with(Cell::get).ok().flatten()?;
    Some(
        at.saturating_duration_since(Instant::now())
            .as_nanos()
            .min(u64::MAX as u128) as u64,
    )
}

pin_project! {
    /// A future bounded by a deadline; see [`deadline`]. Resolves to the
    /// inner output, or `Err(Elapsed)` once the deadline passes (the inner
    /// future is then dropped).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let bounded: tokio_doctor::Deadline<_> =
    ///     tokio_doctor::deadline(Duration::from_millis(50), async { "done" });
    /// assert_eq!(bounded.await.unwrap(), "done");
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct Deadline<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        expires: Instant,
    }
}

impl<F: std::fmt::Debug> std::fmt::Debug for Deadline<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("inner", &self.inner)
            .field("expires", &self.expires)
            .finish()
    }
}

/// Restores the enclosing scope even if the inner poll panics.
struct Restore(Option<Instant>);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = SCOPE.try_with(|s| s.set(self.0));
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, tokio::time::error::Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let expires = *this.expires;
        // A deadline inside another keeps the earlier of the two.
        let outer = SCOPE.try_with(Cell::get).ok().flatten();
        let scope = outer.map_or(expires, |o| o.min(expires));
        let _restore = Restore(outer);
        let _ = SCOPE.try_with(|s| s.set(Some(scope)));
        this.inner.poll(cx)
    }
}

/// Runs `fut` with a deadline `dur` from now: on expiry it is dropped
/// (cancelled) and `Err(Elapsed)` returned. Spans created while it runs,
/// and their children, have the deadline in scope, so outbound calls inside
/// are not `missing_deadline`; a span that outlives it is a
/// `deadline_overrun`.
///
/// Must be called inside a tokio runtime with the time driver enabled, as
/// `tokio::time::timeout`. Costs a thread-local read and write per poll
/// beside the timer.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fast = tokio_doctor::deadline(Duration::from_millis(200), async { 7 }).await;
/// assert_eq!(fast.unwrap(), 7);
/// let slow = tokio_doctor::deadline(
///     Duration::from_millis(10),
///     tokio::time::sleep(Duration::from_secs(30)),
/// )
/// .await;
/// assert!(slow.is_err()); // cancelled after 10 ms
/// # }
/// ```
pub fn deadline<F: Future>(dur: Duration, fut: F) -> Deadline<F> {
    Deadline {
        inner: tokio::time::timeout(dur, fut),
        expires: Instant::now() + dur,
    }
}

/// [`deadline`] as a method on any future.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use tokio_doctor::DeadlineExt;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let r = async { "pong" }.deadline(Duration::from_millis(200)).await;
/// assert_eq!(r.unwrap(), "pong");
/// # }
/// ```
pub trait DeadlineExt: Future + Sized {
    /// Bounds `self` by a deadline `dur` from now; see [`deadline`].
    fn deadline(self, dur: Duration) -> Deadline<Self> {
        deadline(dur, self)
    }
}

impl<F: Future> DeadlineExt for F {}
