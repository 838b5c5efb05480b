//! What the detectors keep between two samples: the windows they judge
//! over. Each window's type lives in its detector's file; this value holds
//! them for one doctor, owned by its [`Detectors`](super::Detectors), so
//! the recorded state (`state/`) knows nothing of how it is judged.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use super::connection_churn::PeerTrack;
use super::held_across_await::IdleWindow;
use super::queue_growth::QueueTrack;
use super::shape_sampler::ShapeState;

#[derive(Debug, Default)]
pub(crate) struct Windows {
    /// Depth samples per watched queue (`queue_growth`).
    pub(crate) queues: Mutex<BTreeMap<&'static str, QueueTrack>>,
    /// Connection and request counts per peer (`connection_churn`), and
    /// whether the first sample was taken (peers met later start at zero).
    pub(crate) peers: Mutex<BTreeMap<String, PeerTrack>>,
    pub(crate) peers_sampled: AtomicBool,
    /// Idle holding per resource (`held_across_await`'s slots-lost gauge).
    pub(crate) held: Mutex<BTreeMap<u32, IdleWindow>>,
    /// Tasks and concurrency levels (the concurrency-shape detectors).
    pub(crate) shape: ShapeState,
}
