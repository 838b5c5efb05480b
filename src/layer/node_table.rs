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
//! Bucket state is behind a mutex, taken on span create and close only
//! (never on enter, exit or poll), uncontended unless two threads touch
//! the same span's node at once, as siblings closing under one parent do.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Mutex, MutexGuard};

use super::span_node::SpanNode;
use crate::util::lock;

/// Buckets per layer. Live spans past a few hundred share buckets more and
/// more often; those that find theirs taken go to the extensions.
const BUCKETS: usize = 1024;
/// No span: registry ids are never 0.
const FREE: u64 = 0;

struct Bucket {
    /// The id of the span whose node is here, or [`FREE`]. Written under
    /// `node`'s lock when freed, claimed by compare-and-swap.
    id: AtomicU64,
    node: Mutex<Option<SpanNode>>,
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
                    node: Mutex::new(None),
                })
                .collect(),
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
        if b.id.compare_exchange(FREE, id, Acquire, Relaxed).is_err() {
            return Err(make);
        }
        *lock(&b.node) = Some(make());
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
        let (_, node) = self.locked(id)?;
        node.as_ref().map(f)
    }

    /// As [`with`](Self::with), with the node exclusively: the bucket's
    /// lock covers the node's own fields.
    #[inline]
    pub(crate) fn with_mut<R>(&self, id: u64, f: impl FnOnce(&mut SpanNode) -> R) -> Option<R> {
        let (_, mut node) = self.locked(id)?;
        node.as_mut().map(f)
    }

    /// The bucket of span `id` and its node under the bucket's lock, if
    /// the bucket is that span's.
    #[inline(always)]
    fn locked(&self, id: u64) -> Option<(&Bucket, MutexGuard<'_, Option<SpanNode>>)> {
        let b = self.bucket(id);
        if b.id.load(Acquire) != id {
            return None;
        }
        let node = lock(&b.node);
        // Checked again under the lock: the bucket may have changed hands.
        if b.id.load(Relaxed) != id {
            return None;
        }
        Some((b, node))
    }

    /// Takes the node of span `id` out and frees its bucket.
    #[inline]
    pub(crate) fn take(&self, id: u64) -> Option<SpanNode> {
        let (b, mut node) = self.locked(id)?;
        let taken = node.take();
        b.id.store(FREE, Release);
        taken
    }
}
