//! The watchdog: a plain thread (so a fully blocked runtime cannot stop it)
//! that notes each worker's scheduler stats, looks for polls still running
//! past the threshold, counts each stall once, and logs it while it is
//! happening (once a minute per call site at most, so a site that blocks on
//! every request does not flood the log).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::state::Shared;
use crate::util::lock;

/// Least time between two log lines about stalls at the same call site.
const LOG_EVERY: Duration = Duration::from_secs(60);

pub(crate) fn spawn(shared: &Arc<Shared>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let interval = shared.config.watchdog_interval;
    std::thread::Builder::new()
        .name("tokio-doctor-watchdog".into())
        .spawn(move || {
            let mut seen: HashSet<(usize, u64)> = HashSet::new();
            let mut logged: HashMap<u32, Instant> = HashMap::new();
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
                    let due = logged.get(&s.site).is_none_or(|t| t.elapsed() >= LOG_EVERY);
                    if let (true, Some(meta)) = (due, shared.sites.get(s.site).meta.get()) {
                        logged.insert(s.site, Instant::now());
                        tracing::warn!(
                            target: "tokio_doctor",
                            span = %meta.span,
                            location = %meta.location,
                            thread = %s.thread,
                            running_ms = s.running_ns / 1_000_000,
                            "a poll is blocking a runtime worker right now (see /doctor)"
                        );
                    }
                }
            }
        })?;
    Ok(())
}
