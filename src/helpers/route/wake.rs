//! The waker a route future hands the request's future: it notes when the
//! request was woken (its scheduling delay and idle time come from that)
//! and wakes the task.
//!
//! tokio-metrics allocated that waker's shared state for every request.
//! Most requests of a fast service finish in their first poll without
//! keeping a waker, so here the shared state is made only when the
//! request's future clones the waker it was given (which it must do to be
//! woken later). Until then the waker it is given is borrowed: it points
//! at the route future's [`WakeSlot`] and at the poll's own waker, both
//! alive for the poll, which is as long as a borrowed waker can be used.

use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::task::{Context, RawWaker, RawWakerVTable, Wake, Waker};

use atomic_waker::AtomicWaker;

/// What every clone of a request's waker shares: when it was first woken
/// since its last poll, and the task to wake.
#[derive(Debug)]
struct Shared {
    woke_at: AtomicU64,
    task: AtomicWaker,
    clock: quanta::Clock,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        note_wake(&self.woke_at, &self.clock);
        self.task.wake();
    }
}

/// The first wake since the last poll is the one that scheduled the
/// future; later ones find it already noted.
#[inline]
fn note_wake(woke_at: &AtomicU64, clock: &quanta::Clock) {
    let _ = woke_at.compare_exchange(0, clock.raw().max(1), Relaxed, Relaxed);
}

/// What a borrowed waker reaches during a poll: the poll's own waker and
/// the route's clock. Lives on the poll's stack.
struct InPoll<'a> {
    task: &'a Waker,
    clock: &'a quanta::Clock,
}

/// The wake state of one route future.
#[derive(Debug, Default)]
pub(crate) struct WakeSlot {
    /// The shared state and the waker made of it, once the request's
    /// future cloned the waker it was given.
    owned: OnceLock<(Arc<Shared>, Waker)>,
    /// The [`InPoll`] of the poll in progress; null outside a poll.
    in_poll: AtomicPtr<()>,
    /// A wake through the borrowed waker (`wake_by_ref` during a poll).
    woke_at: AtomicU64,
}

/// Resets [`WakeSlot::in_poll`] when the poll ends, also by a panic.
struct EndPoll<'a>(&'a AtomicPtr<()>);

impl Drop for EndPoll<'_> {
    fn drop(&mut self) {
        self.0.store(ptr::null_mut(), Release);
    }
}

impl WakeSlot {
    /// Runs `poll` with the context to poll the request's future in: its
    /// waker notes the wake in this slot and wakes `task`.
    #[inline]
    pub(crate) fn poll<R>(
        &self,
        task: &Waker,
        clock: &quanta::Clock,
        poll: impl FnOnce(&mut Context<'_>) -> R,
    ) -> R {
        if let Some((shared, waker)) = self.owned.get() {
            shared.task.register(task);
            return poll(&mut Context::from_waker(waker));
        }
        let in_poll = InPoll { task, clock };
        self.in_poll
            .store(&in_poll as *const InPoll<'_> as *mut (), Release);
        let _end = EndPoll(&self.in_poll);
        // SAFETY: the data pointer is this slot, which outlives the waker:
        // the waker is borrowed by `poll` for this call only (a `&Waker`
        // cannot be kept past it, and an owned one is made only by
        // `clone`, which returns a waker of the shared state). The
        // functions of `BORROWED` uphold `RawWakerVTable`'s contract: they
        // are thread-safe (the slot is `Sync`) and free nothing.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(
                self as *const WakeSlot as *const (),
                &BORROWED,
            ))
        });
        poll(&mut Context::from_waker(&waker))
    }

    /// The raw clock time of the first wake since the last call, or 0.
    #[inline]
    pub(crate) fn take_wake(&self) -> u64 {
        let take = |w: &AtomicU64| {
            if w.load(Relaxed) == 0 {
                0
            } else {
                w.swap(0, Relaxed)
            }
        };
        let borrowed = take(&self.woke_at);
        let owned = self.owned.get().map_or(0, |(s, _)| take(&s.woke_at));
        match (borrowed, owned) {
            (0, t) | (t, 0) => t,
            (a, b) => a.min(b),
        }
    }
}

static BORROWED: RawWakerVTable = RawWakerVTable::new(
    clone_borrowed,
    wake_by_ref_borrowed,
    wake_by_ref_borrowed,
    drop_borrowed,
);

/// A clone of the borrowed waker: the waker of the slot's shared state,
/// made by the first clone.
unsafe fn clone_borrowed(data: *const ()) -> RawWaker {
    // SAFETY: `data` is the slot, alive while its borrowed waker is.
    let slot = unsafe { &*(data as *const WakeSlot) };
    let in_poll = slot.in_poll.load(Acquire) as *const InPoll<'_>;
    if in_poll.is_null() {
        // Unreachable: a borrowed waker exists only during the poll. A
        // waker that wakes nothing is the safe answer anyway.
        let w = Waker::noop();
        return RawWaker::new(w.data(), w.vtable());
    }
    let (_, waker) = slot.owned.get_or_init(|| {
        // SAFETY: set by the poll in progress, which this clone is part of.
        let p = unsafe { &*in_poll };
        let shared = Arc::new(Shared {
            woke_at: AtomicU64::new(0),
            task: AtomicWaker::new(),
            clock: p.clock.clone(),
        });
        shared.task.register(p.task);
        (shared.clone(), Waker::from(shared))
    });
    let w = ManuallyDrop::new(waker.clone());
    RawWaker::new(w.data(), w.vtable())
}

/// A wake through the borrowed waker: noted, and passed to the poll's own
/// waker (`wake` too: a borrowed waker is never owned, so never consumed).
unsafe fn wake_by_ref_borrowed(data: *const ()) {
    // SAFETY: as in `clone_borrowed`.
    let slot = unsafe { &*(data as *const WakeSlot) };
    let in_poll = slot.in_poll.load(Acquire) as *const InPoll<'_>;
    if in_poll.is_null() {
        return;
    }
    // SAFETY: as in `clone_borrowed`.
    let p = unsafe { &*in_poll };
    note_wake(&slot.woke_at, p.clock);
    p.task.wake_by_ref();
}

unsafe fn drop_borrowed(_: *const ()) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A task waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    fn new_task() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count::default());
        (c.clone(), Waker::from(c))
    }

    /// An empty slot, a counting task waker and a clock.
    fn fixture() -> (WakeSlot, Arc<Count>, Waker, quanta::Clock) {
        let (count, task) = new_task();
        (WakeSlot::default(), count, task, quanta::Clock::new())
    }

    #[test]
    fn a_poll_that_keeps_no_waker_makes_no_shared_state() {
        let (slot, count, task, clock) = fixture();
        slot.poll(&task, &clock, |cx| cx.waker().wake_by_ref());
        assert!(slot.owned.get().is_none());
        assert_eq!(count.0.load(Relaxed), 1, "the wake reached the task");
        assert_ne!(slot.take_wake(), 0, "and was noted");
        assert_eq!(slot.take_wake(), 0, "once");
        slot.poll(&task, &clock, |_| {});
        assert!(slot.owned.get().is_none());
    }

    #[test]
    fn a_kept_waker_wakes_the_task_after_the_poll_from_any_thread() {
        let (slot, count, task, clock) = fixture();
        let kept = slot.poll(&task, &clock, |cx| cx.waker().clone());
        assert_eq!(slot.take_wake(), 0, "no wake yet");
        std::thread::spawn(move || kept.wake()).join().unwrap();
        assert_eq!(count.0.load(Relaxed), 1);
        let woke = slot.take_wake();
        assert_ne!(woke, 0);
        assert!(woke <= clock.raw());
        // The next poll hands out the shared waker itself: a future that
        // kept the last one sees it will wake the same.
        let kept = slot.poll(&task, &clock, |cx| cx.waker().clone());
        let same = slot.poll(&task, &clock, |cx| cx.waker().will_wake(&kept));
        assert!(same);
        // A new task waker registered by a later poll is the one woken.
        let (other, other_task) = new_task();
        slot.poll(&other_task, &clock, |_| {});
        kept.wake_by_ref();
        assert_eq!(other.0.load(Relaxed), 1);
        assert_eq!(count.0.load(Relaxed), 1);
    }

    #[test]
    fn a_clone_made_on_another_thread_during_the_poll_works() {
        let (slot, count, task, clock) = fixture();
        let kept = slot.poll(&task, &clock, |cx| {
            let w = cx.waker();
            std::thread::scope(|s| s.spawn(|| w.clone()).join().unwrap())
        });
        drop(slot);
        // The shared state outlives the slot while a waker holds it.
        kept.wake();
        assert_eq!(count.0.load(Relaxed), 1);
    }

    #[test]
    fn a_panicking_poll_leaves_no_pointer_behind() {
        let (slot, _count, task, clock) = fixture();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            slot.poll(&task, &clock, |_| panic!("inner"))
        }));
        assert!(r.is_err());
        assert!(slot.in_poll.load(Relaxed).is_null());
    }
}
