//! The watchdog: a plain thread (so a fully blocked runtime cannot stop it)
//! that notes each worker's scheduler stats, looks for polls still running
//! past the threshold, counts each stall once, captures the stalled
//! worker's stack where it can (see `monitor::stack`), and logs the stall
//! while it is happening, naming the culprit frame (once a minute per call
//! site at most, so a site that blocks on every request does not flood the
//! log).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::lock::lock;
use crate::state::{Shared, Stall};

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
            let mut stacks = Stacks::default();
            while !stop.load(Relaxed) {
                std::thread::sleep(interval);
                let Some(shared) = weak.upgrade() else { return };
                shared.sample_threads();
                let stalls = shared.running_stalls();
                // Forget stalls whose poll has ended; a stall that dips under
                // the threshold for one look and comes back is still one stall.
                let current = shared.current_polls();
                seen.retain(|id| current.contains(id));
                stacks.forget_ended(&shared, &current);
                for s in &stalls {
                    let new = seen.insert(s.identity);
                    if new {
                        *lock(&shared.stall_counts).entry(s.site).or_default() += 1;
                    }
                    // Captured before the log line, so the line names it.
                    let culprit = stacks.sample(&shared, s);
                    if !new {
                        continue;
                    }
                    let due = logged.get(&s.site).is_none_or(|t| t.elapsed() >= LOG_EVERY);
                    if let (true, Some(meta)) = (due, shared.sites.get(s.site).meta.get()) {
                        logged.insert(s.site, Instant::now());
                        tracing::warn!(
                            target: "tokio_doctor",
                            span = %meta.span,
                            location = %meta.location,
                            thread = %s.thread,
                            running_ms = s.running_ns / 1_000_000,
                            culprit = %culprit.as_deref().unwrap_or("(no stack)"),
                            "a poll is blocking a runtime worker right now (see /doctor)"
                        );
                    }
                }
            }
        })?;
    Ok(())
}

/// The stack samplers of the stalls running now.
#[derive(Default)]
struct Stacks {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    samplers: HashMap<(usize, u64), crate::monitor::stack::StallSampler>,
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
impl Stacks {
    /// Takes a capture of `s` if one is due; returns the culprit so far.
    fn sample(&mut self, shared: &Shared, s: &Stall) -> Option<String> {
        use crate::monitor::stack;
        if !shared.config.stack_capture {
            return None;
        }
        let sampler = self
            .samplers
            .entry(s.identity)
            .or_insert_with(|| stack::StallSampler::new(s.site, shared.threshold_ns));
        sampler.site = s.site;
        if sampler.due(s.running_ns) {
            let frames = stack::capture(&s.shard);
            if let Some(v) = sampler.add(frames) {
                shared.frames.set_live(s.site, v);
            }
            if sampler.spent() {
                if let Some(v) = sampler.settle() {
                    shared.frames.settle(s.site, v);
                }
            }
        }
        let v = sampler.verdict()?;
        Some(match (&v.culprit, &v.innermost) {
            (Some(c), _) => c.to_string(),
            (None, Some(i)) => format!("(no frame of the service's own) innermost {i}"),
            (None, None) => return None,
        })
    }

    /// Counts each ended stall once, for the culprit its captures agreed on.
    fn forget_ended(&mut self, shared: &Shared, current: &HashSet<(usize, u64)>) {
        self.samplers.retain(|id, sampler| {
            if current.contains(id) {
                return true;
            }
            if let Some(v) = sampler.settle() {
                shared.frames.settle(sampler.site, v);
            }
            false
        });
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
impl Stacks {
    fn sample(&mut self, _shared: &Shared, _s: &Stall) -> Option<String> {
        None
    }

    fn forget_ended(&mut self, _shared: &Shared, _current: &HashSet<(usize, u64)>) {}
}
