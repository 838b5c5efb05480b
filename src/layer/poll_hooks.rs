//! tokio's task poll hooks (`--cfg tokio_unstable`): every task poll marked
//! on the worker's shard, whether or not it runs in a span, so the watchdog
//! sees a stall in any task while it lasts and a slow poll is blamed on the
//! task's spawn location (`runtime.spawn` at its `file:line`, the site
//! tokio's task spans use), or on the span with the most self time inside
//! it. Installed on the runtime builder by
//! [`Doctor::install_poll_hooks`](crate::Doctor::install_poll_hooks).
//!
//! Per poll: a thread-local lookup of the spawn location's site (a small
//! direct-mapped cache in front of the site table), two clock reads and the
//! thread state's enter and exit. No allocation, no lock.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;

use super::thread_state::{with_state, PollFrame};
use crate::state::location::stable_path;
use crate::state::sites::{SiteMeta, Sites};
use crate::state::Shared;

/// Entries of the per-thread spawn location → site cache.
const CACHE: usize = 64;

thread_local! {
    /// (doctor id, location address, site).
    static SITES: RefCell<[(u64, usize, u32); CACHE]> =
        const { RefCell::new([(0, 0, 0); CACHE]) };
}

/// Installs the hooks of `shared` on `builder`.
pub(crate) fn install(shared: &Arc<Shared>, builder: &mut tokio::runtime::Builder) {
    let before = shared.clone();
    let after = shared.clone();
    builder
        .on_before_task_poll(move |meta| before_poll(&before, meta.spawned_at()))
        .on_after_task_poll(move |_| after_poll(&after));
}

fn before_poll(shared: &Arc<Shared>, at: &'static Location<'static>) {
    let site = site_of(shared, at);
    let now = shared.clock.raw();
    with_state(shared.id, shared, |st| {
        st.enter_poll(PollFrame::Task, now, site)
    });
}

fn after_poll(shared: &Arc<Shared>) {
    let now = shared.clock.raw();
    let slow = with_state(shared.id, shared, |st| {
        st.exit_poll(
            PollFrame::Task,
            now,
            &shared.clock,
            shared.ns.blocking_poll_threshold,
        )
    });
    if let Some(Some(slow)) = slow {
        super::record_slow_poll(shared, slow);
    }
}

/// The site of a spawn location: cached per thread by the location's
/// address, interned under the key tokio's task spans use.
fn site_of(shared: &Shared, at: &'static Location<'static>) -> u32 {
    let addr = at as *const Location<'static> as usize;
    let slot = (addr >> 3).wrapping_mul(0x9E37_79B9) % CACHE;
    let cached = SITES
        .try_with(|c| {
            c.try_borrow()
                .ok()
                .and_then(|c| (c[slot].0 == shared.id && c[slot].1 == addr).then_some(c[slot].2))
        })
        .ok()
        .flatten();
    if let Some(site) = cached {
        return site;
    }
    let key = Sites::location_key(at.file(), at.line() as u64, at.column() as u64);
    let site = shared.sites.intern(key, || SiteMeta {
        span: "runtime.spawn".to_string(),
        target: "tokio::task".to_string(),
        location: format!("{}:{}", stable_path(at.file(), &[]), at.line()),
    });
    shared.sites.note_spawn_file(site, at.file());
    let _ = SITES.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c[slot] = (shared.id, addr, site);
        }
    });
    site
}
