//! Span nodes by span id, beside the registry rather than in its
//! extensions: storing a node in a span's extensions costs a `Box` per
//! span, a hash-map insert and remove, and a registry lookup of the span
//! (and of its parent) at close. Here a node goes into a bucket picked by
//! its id, allocated once with the layer and reused, and a span whose
//! bucket is taken keeps its node in the extensions as before: the table
//! is a fast path, never a limit.
//!
//! The table belongs to one layer instance, so to one subscriber: span ids
//! are unique among one registry's live spans only. A bucket is claimed on
//! open and freed on close, which the registry runs before it frees (and
//! may reuse) the id, so an id found in a bucket is that live span's.
//!
//! A bucket's state (its id and node) changes only under the bucket's own
//! lock, taken on span create and close only (never on enter, exit or
//! poll), uncontended unless two threads touch the same span's node at
//! once, as siblings closing under one parent do. The lock is one word:
//! taking it is one compare-and-swap, releasing it a plain store. A span
//! create and close take four (the parent's and its own bucket, twice),
//! against nine read-modify-writes with a `Mutex` per bucket and a claimed
//! id beside it: on these machines each costs about as much as the rest
//! of a lock's instructions together. A thread that finds the lock taken
//! spins briefly, then yields: the holder runs a few hundred instructions
//! that never block, but may have been preempted.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};

use super::span_node::SpanNode;

/// Buckets per layer. Live spans past a few hundred share buckets more and
/// more often; those that find theirs taken go to the extensions.
const BUCKETS: usize = 1024;
/// No span: registry ids are never 0.
const FREE: u64 = 0;
/// Spins on a taken lock before yielding the thread between tries.
const SPINS: u32 = 100;

struct Bucket {
    /// The id of the span whose node is here, or [`FREE`]. Written only
    /// under `locked`; read without it to skip buckets that are not the
    /// span's.
    id: AtomicU64,
    locked: AtomicBool,
    /// Initialised exactly while `id` is not [`FREE`]; read and written
    /// only under `locked`.
    node: UnsafeCell<MaybeUninit<SpanNode>>,
}

// SAFETY: the node is reached only under the bucket's lock (see
// `BucketGuard`), which orders every access to it; a `SpanNode` is `Send`.
unsafe impl Sync for Bucket {}

/// The bucket's lock, held: released when dropped (a panic in the code
/// that holds it releases it too).
struct BucketGuard<'a>(&'a Bucket);

impl Bucket {
    #[inline]
    fn lock(&self) -> BucketGuard<'_> {
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        BucketGuard(self)
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            while self.locked.load(Relaxed) {
                if spins < SPINS {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl BucketGuard<'_> {
    /// The node, when the bucket is span `id`'s.
    #[inline]
    fn node_of(&mut self, id: u64) -> Option<&mut SpanNode> {
        if self.0.id.load(Relaxed) != id {
            return None;
        }
        // SAFETY: the lock is held (exclusive access), and the node is
        // initialised while the bucket's id is a span's.
        Some(unsafe { (*self.0.node.get()).assume_init_mut() })
    }
}

impl Drop for BucketGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.locked.store(false, Release);
    }
}

pub(crate) struct NodeTable {
    buckets: Box<[Bucket]>,
}

impl std::fmt::Debug for NodeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTable")
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

impl Default for NodeTable {
    fn default() -> Self {
        NodeTable {
            buckets: (0..BUCKETS)
                .map(|_| Bucket {
                    id: AtomicU64::new(FREE),
                    locked: AtomicBool::new(false),
                    node: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
        }
    }
}

impl Drop for NodeTable {
    fn drop(&mut self) {
        // Spans still open when the layer goes: their nodes are dropped
        // with it.
        for b in self.buckets.iter_mut() {
            if *b.id.get_mut() != FREE {
                // SAFETY: exclusive access; initialised while the id is set.
                unsafe { b.node.get_mut().assume_init_drop() };
            }
        }
    }
}

impl NodeTable {
    #[inline]
    fn bucket(&self, id: u64) -> &Bucket {
        // Fibonacci hashing: registry ids are packed slab keys whose low
        // bits repeat across threads' shards.
        let i = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize & (BUCKETS - 1);
        &self.buckets[i]
    }

    /// Stores the node `make` builds for span `id` (built in place, under
    /// the bucket's lock); hands `make` back when the bucket is another
    /// live span's.
    #[inline]
    pub(crate) fn insert_with<F: FnOnce() -> SpanNode>(&self, id: u64, make: F) -> Result<(), F> {
        let b = self.bucket(id);
        if b.id.load(Relaxed) != FREE {
            return Err(make);
        }
        let _guard = b.lock();
        if b.id.load(Relaxed) != FREE {
            return Err(make);
        }
        // SAFETY: the lock is held, and the bucket is free, so its node is
        // uninitialised: nothing is overwritten.
        unsafe { (*b.node.get()).write(make()) };
        b.id.store(id, Release);
        Ok(())
    }

    /// Whether the node of span `id` is here. Only a close takes a node out,
    /// so for a span that cannot close meanwhile (the parent of a span
    /// being created, which the child keeps open) the answer holds.
    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.bucket(id).id.load(Acquire) == id
    }

    /// Runs `f` on the node of span `id` under its bucket's lock; `None`
    /// when the node is not here (in the extensions, or none).
    #[inline]
    pub(crate) fn with<R>(&self, id: u64, f: impl FnOnce(&SpanNode) -> R) -> Option<R> {
        self.with_mut(id, |n| f(n))
    }

    /// As [`with`](Self::with), with the node exclusively: the bucket's
    /// lock covers the node's own fields.
    #[inline]
    pub(crate) fn with_mut<R>(&self, id: u64, f: impl FnOnce(&mut SpanNode) -> R) -> Option<R> {
        let b = self.bucket(id);
        if b.id.load(Relaxed) != id {
            return None;
        }
        let mut guard = b.lock();
        // Checked again under the lock: the bucket may have changed hands.
        guard.node_of(id).map(f)
    }

    /// Runs `f` on the node of span `id` in its bucket, under the bucket's
    /// lock, then drops the node there and frees the bucket (a panic in `f`
    /// frees it too): a close reads the node where it lies instead of
    /// copying it out. `None` when the node is not here.
    #[inline]
    pub(crate) fn close_with<R>(&self, id: u64, f: impl FnOnce(&mut SpanNode) -> R) -> Option<R> {
        let b = self.bucket(id);
        if b.id.load(Relaxed) != id {
            return None;
        }
        let mut guard = b.lock();
        let node: *mut SpanNode = guard.node_of(id)?;
        /// Drops the node and frees the bucket, before the lock (declared
        /// after the guard, so dropped first) goes.
        struct Free<'a>(&'a Bucket, *mut SpanNode);
        impl Drop for Free<'_> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the node is initialised (the id is still set) and
                // dropped exactly once: the bucket is marked free at once,
                // under the lock, so no one reads it until a new node is
                // written.
                unsafe { std::ptr::drop_in_place(self.1) };
                self.0.id.store(FREE, Relaxed);
            }
        }
        let _free = Free(b, node);
        // SAFETY: the lock is held and the node initialised; `_free` does
        // not touch it before `f` returns.
        Some(f(unsafe { &mut *node }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(site: u32) -> SpanNode {
        SpanNode {
            site,
            task: false,
            opened: 0,
            call: None,
            resource: false,
            sequential_intended: false,
            deadline_ns: u64::MAX,
            hold: None,
            inside_hold: None,
            children: Default::default(),
            parent: None,
        }
    }

    /// Ids whose buckets differ, and one that shares the first's.
    fn ids() -> (u64, u64, u64) {
        let t = NodeTable::default();
        let same = |a: u64, b: u64| std::ptr::eq(t.bucket(a), t.bucket(b));
        let a = 1;
        let b = (2..).find(|&b| !same(a, b)).unwrap();
        let c = (b + 1..).find(|&c| same(a, c)).unwrap();
        (a, b, c)
    }

    #[test]
    fn a_node_is_found_by_its_id_until_taken() {
        let (a, b, _) = ids();
        let t = NodeTable::default();
        assert!(t.insert_with(a, || node(7)).is_ok());
        assert!(t.contains(a));
        assert!(!t.contains(b));
        assert_eq!(t.with(a, |n| n.site), Some(7));
        assert_eq!(t.with(b, |n| n.site), None);
        t.with_mut(a, |n| n.site = 8);
        assert_eq!(t.close_with(b, |n| n.site), None);
        assert_eq!(t.close_with(a, |n| n.site), Some(8));
        assert!(!t.contains(a));
        assert_eq!(t.close_with(a, |n| n.site), None);
        // The bucket is free again.
        assert!(t.insert_with(a, || node(9)).is_ok());
        assert_eq!(t.with(a, |n| n.site), Some(9));
    }

    #[test]
    fn a_span_whose_bucket_is_taken_gets_its_maker_back() {
        let (a, _, c) = ids();
        let t = NodeTable::default();
        assert!(t.insert_with(a, || node(1)).is_ok());
        let back = t.insert_with(c, || node(2)).expect_err("bucket taken");
        assert_eq!(back().site, 2);
        assert_eq!(t.with(c, |n| n.site), None);
        assert_eq!(t.with(a, |n| n.site), Some(1));
    }

    /// A panic while the lock is held releases it.
    #[test]
    fn a_panic_under_the_lock_releases_it() {
        let t = NodeTable::default();
        t.insert_with(5, || node(1)).ok().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            t.with_mut(5, |_| panic!("in the closure"));
        }));
        assert!(r.is_err());
        assert_eq!(t.with(5, |n| n.site), Some(1));
    }

    /// Children on many threads open and close under one parent, each
    /// through its own bucket: every update of the parent is kept, and no
    /// node is lost or read twice.
    #[test]
    fn updates_from_many_threads_under_one_parent_are_all_kept() {
        let t = NodeTable::default();
        const PARENT: u64 = 1;
        t.insert_with(PARENT, || node(0)).ok().unwrap();
        let threads = 8u64;
        let rounds = 2_000u64;
        std::thread::scope(|s| {
            for th in 0..threads {
                let t = &t;
                s.spawn(move || {
                    for i in 0..rounds {
                        let id = 2 + th * rounds + i;
                        let mine = t.insert_with(id, || node(th as u32)).is_ok();
                        t.with_mut(PARENT, |p| p.opened += 1).unwrap();
                        if mine {
                            assert_eq!(t.close_with(id, |n| n.site), Some(th as u32));
                        }
                    }
                });
            }
        });
        assert_eq!(t.with(PARENT, |p| p.opened), Some(threads * rounds));
        // Only the parent is left.
        let live = (0..BUCKETS)
            .filter(|&i| t.buckets[i].id.load(Relaxed) != FREE)
            .count();
        assert_eq!(live, 1);
    }
}
