//! Watched queues: an unbounded queue without back-pressure defers a crash.
//!
//! [`channel`] and [`unbounded_channel`] are tokio's `mpsc` channels with
//! counters: every send and receive is one relaxed atomic add on the
//! queue's counters, no lock per message. [`watch`] samples the length of
//! any other queue (a `VecDeque` behind a mutex, a crossbeam channel, a
//! broker's consumer lag) from the doctor's sampler.
//!
//! Queues are registered process-wide by name when created (names are
//! static strings given in code; channels created with the same name share
//! one set of counters), so a doctor started later still sees them. Each
//! started doctor samples every queue's depth once per sample interval and
//! fits a least-squares line over its queue window: an unbounded queue
//! whose depth keeps rising above the floor is a `queue_growth` finding; a
//! bounded channel that is full is back-pressure working and shows as
//! `tokio_doctor_queue_saturation`, never as growth.
//!
//! # Examples
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (tx, mut rx) = tokio_doctor::queue::unbounded_channel::<u64>("orders.outbox");
//! tx.send(1).unwrap();
//! assert_eq!(rx.recv().await, Some(1));
//!
//! let backlog = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::<u64>::new()));
//! let b = backlog.clone();
//! let _watch = tokio_doctor::queue::watch("retry.backlog", move || b.lock().unwrap().len());
//! # }
//! ```

mod channel;
pub(crate) mod registry;

pub use channel::{
    channel, unbounded_channel, Receiver, Sender, UnboundedReceiver, UnboundedSender,
};
pub use registry::{watch, QueueWatch};
