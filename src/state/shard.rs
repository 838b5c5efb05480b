//! Per-thread shards: what one thread records of its polls, written by
//! that thread alone and read by the watchdog and the exporter.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, AtomicUsize};
use std::sync::Arc;

use super::histogram::OwnedHistogram;

/// Per-thread counters of one doctor. Only the owning thread writes the
/// poll fields; the watchdog and the exporter read them. Aligned so two
/// threads' shards never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct ThreadShard {
    pub(crate) polls: OwnedHistogram,
    /// Clock ticks at which the current poll began; 0 when not in a poll.
    pub(crate) poll_since: AtomicU64,
    /// Site of the outermost span of the current poll.
    pub(crate) poll_site: AtomicU32,
    /// Set when the thread exits; the sampler then folds the shard away.
    pub(crate) retired: AtomicBool,
    pub(crate) thread: String,
    /// What the kernel says of this thread, noted by the watchdog.
    pub(crate) sched: crate::state::sched::SchedSample,
    /// Polls past the threshold on the wall clock that mostly waited for a
    /// CPU. Written by the owning thread only.
    pub(crate) preempted: AtomicU64,
    /// Span nodes this thread created minus those it freed (a node may be
    /// freed on another thread, so one shard's count can be negative; the
    /// sum over all shards is the number alive). Owning thread writes.
    pub(crate) nodes: AtomicI64,
    /// The kernel's id of this thread (0 where unknown): where the
    /// watchdog sends a stack capture request.
    pub(crate) tid: i32,
    /// This thread's stack capture buffer, when stack capture is on
    /// (shared by every doctor's shard of this thread).
    pub(crate) capture: Option<Arc<CaptureSlot>>,
    /// The runtime worker this thread is (its index among the runtime's
    /// workers), `None` for other threads: where the watchdog reads the
    /// worker's progress in tokio's metrics to tell a stuck worker from
    /// a busy one when no poll of it is marked.
    pub(crate) worker: Option<usize>,
}

impl ThreadShard {
    pub(super) fn new(stack_capture: bool) -> ThreadShard {
        let t = std::thread::current();
        let worker = tokio::runtime::worker_index();
        let sched = crate::state::sched::SchedSample::for_current_thread();
        ThreadShard {
            polls: OwnedHistogram::default(),
            poll_since: AtomicU64::new(0),
            poll_site: AtomicU32::new(0),
            retired: AtomicBool::new(false),
            thread: t
                .name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{:?}", t.id())),
            tid: sched.tid().unwrap_or(0),
            sched,
            preempted: AtomicU64::new(0),
            nodes: AtomicI64::new(0),
            // Only a runtime worker is ever captured (a poll starts only
            // there): a blocking pool of hundreds of threads that open spans
            // allocates no 64 KiB buffer each.
            capture: (stack_capture && worker.is_some())
                .then(this_thread_slot)
                .flatten(),
            worker,
        }
    }
}

/// A poll the watchdog found running past the threshold.
#[derive(Debug, Clone)]
pub(crate) struct Stall {
    pub(crate) site: u32,
    pub(crate) thread: String,
    pub(crate) running_ns: u64,
    /// Identifies the stall: the shard's address and the poll's start.
    pub(crate) identity: (usize, u64),
    /// The stalled thread's shard, for a stack capture.
    pub(crate) shard: Arc<ThreadShard>,
}

impl Stall {
    /// Whether the same poll is still running, still blamed on the same
    /// site: read after a capture, it says the copy was taken inside the
    /// stall (the poll began before the look and has not ended since).
    pub(crate) fn still_running(&self) -> bool {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        self.shard.poll_since.load(Acquire) == self.identity.1
            && self.shard.poll_site.load(Relaxed) == self.site
    }
}

/// Bytes of stack the signal handler copies from the interrupted stack
/// pointer up: enough for the frames of a deep handler, bounded so a
/// capture is a few microseconds of `memcpy`.
pub(crate) const STACK_BYTES: usize = 64 * 1024;

/// States of a [`CaptureSlot`]: the watchdog arms it and signals the
/// thread; the handler claims it (`WRITING`) only from `ARMED`, so a capture
/// the watchdog abandoned is never written, and marks it `DONE`.
pub(crate) mod slot_state {
    /// Free: no capture requested.
    pub(crate) const IDLE: u8 = 0;
    /// Requested; the signal is on its way.
    pub(crate) const ARMED: u8 = 1;
    /// The handler is copying.
    pub(crate) const WRITING: u8 = 2;
    /// The copy is complete; the watchdog may read it.
    pub(crate) const DONE: u8 = 3;
}

/// One thread's preallocated stack capture buffer. Written only by that
/// thread's signal handler (async-signal-safe: atomics and a bounded copy),
/// read only by a watchdog after `DONE`.
pub(crate) struct CaptureSlot {
    pub(crate) state: AtomicU8,
    /// Interrupted program counter, stack pointer, frame pointer and link
    /// register (aarch64; 0 on x86_64).
    pub(crate) pc: AtomicU64,
    pub(crate) sp: AtomicU64,
    pub(crate) fp: AtomicU64,
    pub(crate) lr: AtomicU64,
    /// Bytes of `buf` the handler filled, from `sp` up.
    pub(crate) len: AtomicUsize,
    /// This thread's stack, `[lo, hi)`: the handler copies nothing outside it.
    pub(crate) stack_lo: usize,
    pub(crate) stack_hi: usize,
    buf: Box<[UnsafeCell<u8>]>,
}

// SAFETY: `buf` is written only by the owning thread's signal handler while
// the slot is `WRITING` and read only by the watchdog once it is `DONE`;
// the state's Acquire/Release orders the two.
unsafe impl Sync for CaptureSlot {}

impl std::fmt::Debug for CaptureSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureSlot")
            .field("state", &self.state)
            .field("stack", &(self.stack_lo..self.stack_hi))
            .finish_non_exhaustive()
    }
}

impl CaptureSlot {
    /// Start of the buffer, for the handler's copy.
    pub(crate) fn buf_ptr(&self) -> *mut u8 {
        UnsafeCell::raw_get(self.buf.as_ptr())
    }

    /// Watchdog side, once the state is `DONE`: the copied stack bytes.
    pub(crate) fn copied(&self) -> Vec<u8> {
        let len = self
            .len
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(STACK_BYTES);
        // SAFETY: the handler finished writing (state DONE, read with
        // Acquire by the caller) and writes again only after the caller
        // re-arms the slot.
        unsafe { std::slice::from_raw_parts(self.buf_ptr(), len) }.to_vec()
    }
}

/// The calling thread's stack bounds, `[lo, hi)`.
#[cfg(target_os = "linux")]
fn stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: attr is initialised by pthread_getattr_np before use and
    // destroyed after; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (rc == 0 && !addr.is_null()).then(|| (addr as usize, addr as usize + size))
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_bounds() -> Option<(usize, usize)> {
    None
}

/// Keeps this thread's slot alive as long as the thread, and clears the
/// pointer the handler reads before it goes.
struct SlotHolder(Arc<CaptureSlot>);

impl Drop for SlotHolder {
    fn drop(&mut self) {
        SLOT_PTR.with(|p| p.set(std::ptr::null()));
    }
}

thread_local! {
    /// What the signal handler reads: const-initialised with no destructor,
    /// so reading it never allocates, locks or runs lazy initialisation.
    static SLOT_PTR: Cell<*const CaptureSlot> = const { Cell::new(std::ptr::null()) };
    static SLOT: std::cell::OnceCell<Option<SlotHolder>> = const { std::cell::OnceCell::new() };
}

/// This thread's capture slot, created on first use (at registration, off
/// the hot path). `None` where the stack bounds are unknown.
fn this_thread_slot() -> Option<Arc<CaptureSlot>> {
    SLOT.try_with(|s| {
        s.get_or_init(|| {
            let (lo, hi) = stack_bounds()?;
            let slot = Arc::new(CaptureSlot {
                state: AtomicU8::new(slot_state::IDLE),
                pc: AtomicU64::new(0),
                sp: AtomicU64::new(0),
                fp: AtomicU64::new(0),
                lr: AtomicU64::new(0),
                len: AtomicUsize::new(0),
                stack_lo: lo,
                stack_hi: hi,
                buf: (0..STACK_BYTES).map(|_| UnsafeCell::new(0)).collect(),
            });
            SLOT_PTR.with(|p| p.set(Arc::as_ptr(&slot)));
            Some(SlotHolder(slot))
        })
        .as_ref()
        .map(|h| h.0.clone())
    })
    .ok()
    .flatten()
}

/// Signal-handler side: the calling thread's slot, or null. Reads one
/// const-initialised thread-local: async-signal-safe.
pub(crate) fn current_slot() -> *const CaptureSlot {
    SLOT_PTR.with(Cell::get)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_a_runtime_worker_gets_a_capture_buffer() {
        let plain = std::thread::spawn(|| ThreadShard::new(true))
            .join()
            .unwrap();
        assert!(plain.capture.is_none() && plain.worker.is_none());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let (worker, blocking) = rt.block_on(async {
            let worker = tokio::spawn(async { ThreadShard::new(true) })
                .await
                .unwrap();
            let blocking = tokio::task::spawn_blocking(|| ThreadShard::new(true))
                .await
                .unwrap();
            (worker, blocking)
        });
        assert!(worker.capture.is_some() && worker.worker == Some(0));
        assert!(blocking.capture.is_none() && blocking.worker.is_none());
        let off = rt.block_on(async {
            tokio::spawn(async { ThreadShard::new(false) })
                .await
                .unwrap()
        });
        assert!(off.capture.is_none());
    }

    #[test]
    fn a_capture_counts_for_a_stall_only_while_that_poll_runs_at_that_site() {
        use std::sync::atomic::Ordering::Relaxed;
        let shard = Arc::new(ThreadShard::new(false));
        shard.poll_since.store(100, Relaxed);
        shard.poll_site.store(7, Relaxed);
        let stall = Stall {
            site: 7,
            thread: "w".into(),
            running_ns: 0,
            identity: (Arc::as_ptr(&shard) as usize, 100),
            shard: shard.clone(),
        };
        assert!(stall.still_running());
        // The blamed span exited; the poll goes on at its route.
        shard.poll_site.store(3, Relaxed);
        assert!(!stall.still_running());
        shard.poll_site.store(7, Relaxed);
        // The poll ended, and the next one began at the same site.
        shard.poll_since.store(0, Relaxed);
        assert!(!stall.still_running());
        shard.poll_since.store(200, Relaxed);
        assert!(!stall.still_running());
    }
}
