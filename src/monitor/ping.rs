//! The task that answers the watchdog's wakes of a busy runtime (see
//! `state::ping`): how long a wake waits tells the watchdog, between two
//! deadlines of the lag probe, that every worker is stuck.

use std::sync::Arc;

use crate::state::Shared;

pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        // Like the lag probe, it gives each worker it runs on this doctor's
        // thread state, so the watchdog can sample that worker's stack.
        crate::layer::thread_state::register_this_thread(&shared);
        shared.ping.answer().await;
    }
}
