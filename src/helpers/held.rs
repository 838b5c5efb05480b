//! Held resources: a connection, lock, transaction or permit
//! is a concurrency budget; holding it while the task awaits unrelated work
//! shrinks the pool by Little's Law.
//!
//! Wrap any guard with [`held`] (or [`HoldExt::held`]) and the doctor sees
//! the scope from acquisition to drop:
//! - `held_across_await`: the scope stayed open while its task was
//!   suspended, idle for longer than the threshold;
//! - `slow_work_while_held`: a span opened inside the scope (an outbound
//!   call, say) took longer than the threshold;
//! - `tokio_doctor_held_slots_lost`: idle holding time per second, the pool
//!   slots it costs by Little's Law.
//!
//! Drop-in locks whose guards are held scopes by construction are in
//! [`sync`](crate::sync). Spans can also be resources without any code
//! change: a span with a `doctor.resource` field, or one whose name is
//! configured with [`DoctorBuilder::resource_span`](crate::DoctorBuilder::resource_span)
//! (for example `db.transaction`).
//!
//! Suspension is seen through spans: the holding task must run inside a
//! span (`#[instrument]`, `.instrument(..)`, a server's request span, or
//! any task with `--cfg tokio_unstable`). Without one, holds are still
//! counted and timed, and slow inner spans still named.

use std::ops::{Deref, DerefMut};
use std::panic::Location;

use crate::layer::holds::OpenHold;
use crate::layer::DoctorCore;

/// A guard marked as a held resource scope: derefs to the guard, and ends
/// the scope when dropped (the guard is released first).
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pool = tokio::sync::Semaphore::new(20);
/// let permit = tokio_doctor::held("db.pool", pool.acquire().await.unwrap());
/// assert_eq!(pool.available_permits(), 19);
/// drop(permit);
/// assert_eq!(pool.available_permits(), 20);
/// # }
/// ```
#[must_use = "the scope ends when this is dropped"]
pub struct Held<G> {
    // Declared first: dropped (released) before the scope ends.
    guard: G,
    _scope: Scope,
}

impl<G> Held<G> {
    /// Ends the scope and returns the guard, still held (the doctor stops
    /// watching it).
    ///
    /// # Examples
    /// ```
    /// let lock = std::sync::Mutex::new(1);
    /// let held = tokio_doctor::held("counter", lock.lock().unwrap());
    /// let guard = held.into_inner(); // still locked, no longer watched
    /// assert_eq!(*guard, 1);
    /// ```
    pub fn into_inner(self) -> G {
        self.guard
    }
}

impl<G> Deref for Held<G> {
    type Target = G;
    fn deref(&self) -> &G {
        &self.guard
    }
}

impl<G> DerefMut for Held<G> {
    fn deref_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G: std::fmt::Debug> std::fmt::Debug for Held<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.guard.fmt(f)
    }
}

/// Marks `guard` as holding `resource` (a name given in code, such as
/// `"orders.tx"` or `"db.pool"`) from now until the returned value is
/// dropped. The call site's `file:line` is recorded as where it was
/// acquired; metrics and findings name both.
///
/// Makes no span: the doctor's layer, found in the current subscriber,
/// records the hold itself (a few hundred instructions for acquire and
/// drop, less than one `tracing` span costs the registry). Without the
/// doctor's layer it records nothing and costs a dispatcher lookup.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cache = tokio::sync::Mutex::new(Vec::<u32>::new());
/// let mut guard = tokio_doctor::held("cache", cache.lock().await);
/// guard.push(1); // derefs to the guard
/// # }
/// ```
#[track_caller]
pub fn held<G>(resource: &'static str, guard: G) -> Held<G> {
    held_at(resource, guard, Location::caller())
}

pub(crate) fn held_at<G>(
    resource: &'static str,
    guard: G,
    at: &'static Location<'static>,
) -> Held<G> {
    Held {
        guard,
        _scope: scope(resource, at),
    }
}

/// The doctor's record of one hold, if the current subscriber has the
/// doctor's layer: released when dropped, with the subscriber it was
/// opened under (the guard may be dropped on another thread, or where
/// another subscriber is the default), and that subscriber's doctor
/// layer, found once when the hold opened rather than again at release
/// (walking the subscriber's layers costs about 50 instructions).
struct Scope(Option<Opened>);

struct Opened {
    /// Keeps the subscriber, and so the layer `core` points into, alive.
    dispatch: tracing::Dispatch,
    core: std::ptr::NonNull<DoctorCore>,
    hold: OpenHold,
}

// SAFETY: `core` points into the subscriber that `dispatch` owns, which is
// `Send + Sync` (every `Dispatch` is), and is only read through `&`; the
// rest of `Opened` is `Send + Sync` in its own right.
unsafe impl Send for Opened {}
// SAFETY: as above.
unsafe impl Sync for Opened {}

impl Drop for Scope {
    fn drop(&mut self) {
        if let Some(o) = self.0.take() {
            // SAFETY: `o.dispatch`, alive until the end of this block, owns
            // the subscriber that `o.core` was borrowed from.
            let core = unsafe { o.core.as_ref() };
            core.close_hold(&o.dispatch, &o.hold);
        }
    }
}

/// Opens the hold with the current subscriber's doctor. Not generic, so
/// it is compiled once.
#[inline(never)]
fn scope(resource: &'static str, at: &'static Location<'static>) -> Scope {
    Scope(tracing::dispatcher::get_default(|dispatch| {
        let core = dispatch.downcast_ref::<DoctorCore>()?;
        Some(Opened {
            hold: core.open_hold(dispatch, resource, at),
            core: std::ptr::NonNull::from(core),
            dispatch: dispatch.clone(),
        })
    }))
}

/// A lock guard that is a held scope and, like the guard, derefs to the
/// value it guards: what the locks of [`sync`](crate::sync) return.
///
/// # Examples
/// ```
/// let hits = tokio_doctor::sync::blocking::Mutex::named("hits", 0u64);
/// let mut guard = hits.lock(); // a HeldGuard
/// *guard += 1;
/// assert_eq!(*guard, 1);
/// ```
#[must_use = "the scope ends (and the lock is released) when this is dropped"]
pub struct HeldGuard<G>(Held<G>);

impl<G> HeldGuard<G> {
    pub(crate) fn new(held: Held<G>) -> Self {
        HeldGuard(held)
    }

    /// The underlying lock guard, ending the scope (the lock stays held).
    ///
    /// # Examples
    /// ```
    /// let hits = tokio_doctor::sync::blocking::Mutex::named("hits", 3u64);
    /// let guard = hits.lock().into_inner(); // a parking_lot guard, still locked
    /// assert_eq!(*guard, 3);
    /// ```
    pub fn into_inner(self) -> G {
        self.0.into_inner()
    }
}

impl<G: Deref> Deref for HeldGuard<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.0
    }
}

impl<G: DerefMut> DerefMut for HeldGuard<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.0
    }
}

impl<G: std::fmt::Debug> std::fmt::Debug for HeldGuard<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// [`held`] as a method, for any guard.
///
/// # Examples
/// ```
/// use tokio_doctor::HoldExt;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let lock = tokio::sync::RwLock::new(0u64);
/// let n = lock.read().await.held("config");
/// assert_eq!(**n, 0);
/// # }
/// ```
pub trait HoldExt: Sized {
    /// Marks `self` as holding `resource` until the result is dropped.
    #[track_caller]
    fn held(self, resource: &'static str) -> Held<Self> {
        held_at(resource, self, Location::caller())
    }
}

impl<G> HoldExt for G {}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_sync<T: Send + Sync>(_: &T) {}

    /// A held guard crosses threads as its guard does, and is released on
    /// the thread that drops it, with the subscriber it was opened under.
    #[test]
    fn a_hold_opened_on_one_thread_is_released_on_another() {
        use tracing_subscriber::prelude::*;
        let doctor = crate::Doctor::builder().build().unwrap();
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
        let at = Location::caller();
        let held =
            tracing::dispatcher::with_default(&dispatch, || held_at("cross.thread", 7u32, at));
        send_and_sync(&held);
        let shared = &doctor.shared;
        let site = crate::layer::nodes::held_site(shared, "cross.thread", at);
        let stats = shared.sites.get(site).held();
        let open = || stats.open.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(open(), 1);
        std::thread::spawn(move || assert_eq!(*held, 7))
            .join()
            .unwrap();
        assert_eq!(open(), 0);
        assert_eq!(stats.holds.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
