//! The process-wide registry of watched queues.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::util::lock;

/// Most distinct queue names tracked; later names share `other`. Queue
/// names are given in code, so this only guards against names built at
/// runtime by mistake.
pub(crate) const MAX_QUEUES: usize = 1_000;

type LenFn = Box<dyn Fn() -> usize + Send + Sync>;

/// Counters of one named queue, shared by every channel of that name.
pub(crate) struct QueueStats {
    pub(crate) name: &'static str,
    /// Where the first channel or watch of this name was created.
    pub(crate) location: String,
    /// Capacity of a bounded channel; `None` for unbounded queues.
    pub(crate) capacity: Option<usize>,
    pub(crate) enqueued: AtomicU64,
    pub(crate) dequeued: AtomicU64,
    /// For watched queues: how to read the length, while the watch lives.
    len_fn: Mutex<Option<LenFn>>,
    watched: AtomicBool,
}

impl QueueStats {
    /// Current depth: the watch's reading, or enqueued − dequeued.
    pub(crate) fn depth(&self) -> u64 {
        if self.watched.load(Relaxed) {
            if let Some(f) = lock(&self.len_fn).as_ref() {
                // A length function is user code: never let it take the
                // sampler down.
                return std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                    .map(|n| n as u64)
                    .unwrap_or(0);
            }
        }
        let deq = self.dequeued.load(Relaxed);
        self.enqueued.load(Relaxed).saturating_sub(deq)
    }

    pub(crate) fn is_watched(&self) -> bool {
        self.watched.load(Relaxed)
    }
}

static QUEUES: Mutex<Vec<Arc<QueueStats>>> = Mutex::new(Vec::new());
static OTHER: Mutex<Option<Arc<QueueStats>>> = Mutex::new(None);

/// Every registered queue, in registration order.
pub(crate) fn all() -> Vec<Arc<QueueStats>> {
    let mut v = lock(&QUEUES).clone();
    if let Some(o) = lock(&OTHER).clone() {
        v.push(o);
    }
    v
}

/// The stats of queue `name`, registering it on first use.
pub(crate) fn register(
    name: &'static str,
    capacity: Option<usize>,
    location: &'static Location<'static>,
) -> Arc<QueueStats> {
    let mut queues = lock(&QUEUES);
    if let Some(q) = queues.iter().find(|q| q.name == name) {
        return q.clone();
    }
    let make = |name, capacity| {
        Arc::new(QueueStats {
            name,
            location: format!(
                "{}:{}",
                crate::state::location::stable_path(location.file(), &[]),
                location.line()
            ),
            capacity,
            enqueued: AtomicU64::new(0),
            dequeued: AtomicU64::new(0),
            len_fn: Mutex::new(None),
            watched: AtomicBool::new(false),
        })
    };
    if queues.len() >= MAX_QUEUES {
        drop(queues);
        return lock(&OTHER)
            .get_or_insert_with(|| make("other", None))
            .clone();
    }
    let q = make(name, capacity);
    queues.push(q.clone());
    q
}

/// Keeps a [`watch`] alive; dropping it stops sampling that queue (its
/// depth then reads 0).
#[must_use = "the queue is watched only while this guard lives"]
pub struct QueueWatch {
    stats: Arc<QueueStats>,
}

impl std::fmt::Debug for QueueWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueWatch")
            .field("queue", &self.stats.name)
            .finish()
    }
}

impl Drop for QueueWatch {
    fn drop(&mut self) {
        self.stats.watched.store(false, Relaxed);
        *lock(&self.stats.len_fn) = None;
    }
}

/// Watches any queue by sampling `len` from the doctor's sampler (once per
/// sample interval, off the hot path). `name` labels the queue in metrics
/// and findings; the caller's `file:line` is its location.
///
/// `len` must be cheap and must not block: it runs on a runtime worker.
///
/// # Examples
/// ```
/// use std::collections::VecDeque;
/// use std::sync::{Arc, Mutex};
/// let jobs = Arc::new(Mutex::new(VecDeque::<String>::new()));
/// let j = jobs.clone();
/// let watch = tokio_doctor::queue::watch("jobs.pending", move || j.lock().unwrap().len());
/// jobs.lock().unwrap().push_back("resize".into());
/// drop(watch); // stops sampling
/// ```
#[track_caller]
pub fn watch(name: &'static str, len: impl Fn() -> usize + Send + Sync + 'static) -> QueueWatch {
    let stats = register(name, None, Location::caller());
    *lock(&stats.len_fn) = Some(Box::new(len));
    stats.watched.store(true, Relaxed);
    QueueWatch { stats }
}
