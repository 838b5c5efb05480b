//! Memory attribution per span, behind the `alloc`
//! feature.
//!
//! [`TrackingAllocator`] wraps any [`GlobalAlloc`] (default [`System`]) and
//! attributes every allocated and freed byte to the span entered on the
//! current thread. The allocator path only reads one thread-local pointer
//! (a `const` thread-local with no destructor, so touching it never
//! allocates) and updates that span's atomic counters: no lock, no
//! allocation, no call into tracing, so it can never recurse.
//!
//! Bytes are attributed where they are allocated or freed: memory freed on
//! another thread (or outside any span) simply does not count against the
//! span that allocated it, so nothing is corrupted, and a span's live bytes
//! can read lower than it truly holds, never higher.
//!
//! At span close the doctor folds each instance into its call site: bytes
//! allocated, allocations, and the instance's peak live bytes (a histogram).
//! `materialization` fires on an instance whose peak passes the threshold
//! (default 64 MiB); `allocation_amplification` on one that allocated many
//! times what it still holds when it closes.
//!
//! # Examples
//! ```
//! #[global_allocator]
//! static ALLOC: tokio_doctor::alloc::TrackingAllocator = tokio_doctor::alloc::TrackingAllocator::system();
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A global allocator that attributes bytes to the span entered on the
/// current thread. Use it as
/// `#[global_allocator] static A: TrackingAllocator = TrackingAllocator::system();`.
///
/// Its cost is one thread-local read per allocation outside spans, plus
/// three relaxed atomic updates inside one; see docs/overhead.md.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackingAllocator<A = System> {
    inner: A,
}

impl TrackingAllocator<System> {
    /// Wraps the system allocator.
    pub const fn system() -> Self {
        TrackingAllocator { inner: System }
    }
}

impl<A> TrackingAllocator<A> {
    /// Wraps any allocator, e.g. jemalloc's or mimalloc's.
    pub const fn new(inner: A) -> Self {
        TrackingAllocator { inner }
    }
}

/// Set on the first allocation through a [`TrackingAllocator`]: until then
/// the layer keeps no allocation state at all.
static INSTALLED: AtomicBool = AtomicBool::new(false);

pub(crate) fn installed() -> bool {
    INSTALLED.load(Relaxed)
}

thread_local! {
    /// The allocation counters of the span entered on this thread. `const`
    /// and without destructor: reading it never allocates or registers.
    static CURRENT: Cell<*const AllocBlock> = const { Cell::new(std::ptr::null()) };
}

#[inline]
fn account(delta: i64) {
    if !INSTALLED.load(Relaxed) {
        INSTALLED.store(true, Relaxed);
    }
    let _ = CURRENT.try_with(|c| {
        let block = c.get();
        if !block.is_null() {
            // SAFETY: CURRENT only ever points into an Arc held by this
            // thread's ENTERED stack, which clears CURRENT before releasing it.
            unsafe { (*block).record(delta) }
        }
    });
}

// SAFETY: every method forwards to the inner allocator unchanged; the
// accounting neither allocates nor touches the returned memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for TrackingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.inner.dealloc(ptr, layout) };
        account(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// The allocation counters of one span instance.
#[derive(Debug, Default)]
pub(crate) struct AllocBlock {
    pub(crate) allocated: AtomicU64,
    pub(crate) allocations: AtomicU64,
    pub(crate) live: AtomicI64,
    pub(crate) peak: AtomicI64,
    /// The span's `items` field, if it has one.
    pub(crate) items: AtomicU64,
}

impl AllocBlock {
    #[inline]
    fn record(&self, delta: i64) {
        if delta > 0 {
            self.allocated.fetch_add(delta as u64, Relaxed);
            self.allocations.fetch_add(1, Relaxed);
        }
        let live = self.live.fetch_add(delta, Relaxed).wrapping_add(delta);
        if delta > 0 {
            self.peak.fetch_max(live, Relaxed);
        }
    }
}

/// The spans entered on this thread that have allocation counters. Its
/// destructor clears CURRENT before the counters can be released.
struct Entered(Vec<(u64, Arc<AllocBlock>)>);

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(std::ptr::null()));
    }
}

thread_local! {
    static ENTERED: RefCell<Entered> = RefCell::new(Entered(Vec::with_capacity(32)));
}

/// Layer side: span `id` with counters `block` was entered on this thread.
pub(crate) fn enter(id: u64, block: Arc<AllocBlock>) {
    let _ = ENTERED.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            let ptr = Arc::as_ptr(&block);
            e.0.push((id, block));
            let _ = CURRENT.try_with(|c| c.set(ptr));
        }
    });
}

/// Layer side: span `id` was exited on this thread.
pub(crate) fn exit(id: u64) {
    let _ = ENTERED.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            let Some(pos) = e.0.iter().rposition(|(i, _)| *i == id) else {
                return;
            };
            // Point CURRENT at what stays entered before releasing anything.
            let next = if pos > 0 {
                Arc::as_ptr(&e.0[pos - 1].1)
            } else {
                std::ptr::null()
            };
            let top =
                e.0.last()
                    .map(|(_, b)| Arc::as_ptr(b))
                    .unwrap_or(std::ptr::null());
            let keep = if pos + 1 == e.0.len() { next } else { top };
            let _ = CURRENT.try_with(|c| c.set(keep));
            let removed = e.0.remove(pos);
            drop(removed);
        }
    });
}

/// The peak-bytes histogram's upper bounds: 64 KiB to 16 GiB by powers of 4.
pub(crate) const PEAK_BUCKETS: [f64; 10] = [
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
    4_294_967_296.0,
    17_179_869_184.0,
];

/// What a call site's closed span instances allocated.
#[derive(Debug, Default)]
pub(crate) struct SiteAlloc {
    pub(crate) allocated: AtomicU64,
    pub(crate) allocations: AtomicU64,
    pub(crate) instances: AtomicU64,
    pub(crate) peak_buckets: [AtomicU64; 11],
    pub(crate) peak_sum: AtomicU64,
    pub(crate) max_peak: AtomicU64,
    pub(crate) materialized: AtomicU64,
    pub(crate) amplified: AtomicU64,
    /// Worst allocated ÷ retained of an amplified instance, × 1000.
    pub(crate) worst_amplification_milli: AtomicU64,
    pub(crate) amplified_allocated: AtomicU64,
    pub(crate) amplified_retained: AtomicU64,
    pub(crate) amplified_items: AtomicU64,
}

/// Least bytes an instance must allocate, and hold at its peak, before its
/// amplification counts: copying a few kilobytes is noise, and an instance
/// that never held a megabyte at once built no intermediate collection
/// (streaming one record at a time allocates a lot and holds little; that
/// is the fix of a materialized result, not a copying pipeline).
pub(crate) const MIN_AMPLIFIED_BYTES: u64 = 1 << 20;
/// Allocated ÷ retained at or above which an instance copied its data
/// many times over: a pipeline that builds one output should allocate
/// about what it returns, plus growth slack (Vec doubling stays under 2×).
pub(crate) const AMPLIFICATION_RATIO: f64 = 3.0;

impl SiteAlloc {
    /// Folds one closed instance in.
    pub(crate) fn fold(&self, block: &AllocBlock, materialization_bytes: u64) {
        let allocated = block.allocated.load(Relaxed);
        let peak = block.peak.load(Relaxed).max(0) as u64;
        let retained = block.live.load(Relaxed).max(0) as u64;
        self.allocated.fetch_add(allocated, Relaxed);
        self.allocations
            .fetch_add(block.allocations.load(Relaxed), Relaxed);
        self.instances.fetch_add(1, Relaxed);
        let idx = PEAK_BUCKETS
            .iter()
            .position(|b| peak as f64 <= *b)
            .unwrap_or(PEAK_BUCKETS.len());
        self.peak_buckets[idx].fetch_add(1, Relaxed);
        self.peak_sum.fetch_add(peak, Relaxed);
        self.max_peak.fetch_max(peak, Relaxed);
        if peak >= materialization_bytes {
            self.materialized.fetch_add(1, Relaxed);
        }
        let ratio = allocated as f64 / retained.max(1) as f64;
        if allocated >= MIN_AMPLIFIED_BYTES
            && peak >= MIN_AMPLIFIED_BYTES
            && ratio >= AMPLIFICATION_RATIO
        {
            self.amplified.fetch_add(1, Relaxed);
            self.worst_amplification_milli
                .fetch_max((ratio * 1000.0).min(u64::MAX as f64) as u64, Relaxed);
            self.amplified_allocated.fetch_add(allocated, Relaxed);
            self.amplified_retained.fetch_add(retained, Relaxed);
            self.amplified_items
                .fetch_add(block.items.load(Relaxed), Relaxed);
        }
    }
}
