//! The helpers a service calls in its own code: they mark what the doctor
//! cannot see from spans alone (a guard held across an `.await`, a deadline,
//! a spawn site, a queue, a connection, a route) and feed it to the layer
//! and the recorded state. They never talk to export.
//!
//! How each reaches its doctor:
//! - **Through the current subscriber.** [`held`](crate::held()), the drop-in
//!   locks of [`sync`](crate::sync) and [`deadline`](crate::deadline()) open a
//!   span or set a thread-local scope that the [`DoctorLayer`](crate::DoctorLayer)
//!   of the current subscriber records; [`spawn`](crate::spawn()) finds that layer
//!   with `downcast_ref` and counts the task under the caller's `file:line`.
//!   Without a doctor in the subscriber they cost next to nothing.
//! - **Process-wide registries.** [`queue`](crate::queue) channels and watches
//!   and the [`connection`](crate::connection) counters register by name when
//!   created, so a doctor started later still samples them.
//! - **From the doctor itself.** [`TaskMonitorLayer::new`](crate::route) and
//!   [`Doctor::monitor_job`](crate::Doctor::monitor_job) take the doctor.

pub mod connection;
pub(crate) mod deadline;
pub(crate) mod held;
pub mod queue;
pub mod route;
pub(crate) mod spawn;
pub mod sync;
