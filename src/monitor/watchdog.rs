//! The watchdog: a plain thread (so a fully blocked runtime cannot stop it)
//! that looks for polls still running past the threshold, counts each stall
//! once, and logs it while it is happening.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Weak};

use crate::state::{lock, Shared};

pub(crate) fn spawn(shared: &Arc<Shared>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let interval = shared.config.watchdog_interval;
    std::thread::Builder::new()
        .name("tokio-doctor-watchdog".into())
        .spawn(move || {
            let mut seen: HashSet<(usize, u64)> = HashSet::new();
            while !stop.load(Relaxed) {
                std::thread::sleep(interval);
                let Some(shared) = weak.upgrade() else { return };
                shared.sample_threads();
                let stalls = shared.running_stalls();
                // Forget stalls whose poll has ended; a stall that dips under
                // the threshold for one look and comes back is still one stall.
                let current = shared.current_polls();
                seen.retain(|id| current.contains(id));
                for s in stalls.iter().filter(|s| seen.insert(s.identity)) {
                    *lock(&shared.stall_counts).entry(s.site).or_default() += 1;
                    if let Some(meta) = shared.sites.get(s.site).meta.get() {
                        tracing::warn!(
                            target: "tokio_doctor",
                            span = %meta.span,
                            location = %meta.location,
                            thread = %s.thread,
                            running_ms = s.running_ns / 1_000_000,
                            "a poll is blocking a runtime worker right now"
                        );
                    }
                }
            }
        })?;
    Ok(())
}
