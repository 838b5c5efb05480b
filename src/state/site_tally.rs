//! Per-site tallies of one statistic that workers add to as spans close
//! (the slowest child of a join, slow work inside a hold), read by the
//! export on every scrape: fixed slots of atomics, no lock and no
//! allocation.
//!
//! A mutex here would be taken by workers on span close and by the
//! endpoint thread, which runs at the lowest CPU priority: preempted while
//! it held the lock, it would stall every worker closing such a span until
//! the kernel ran it again. A slot is claimed once for a site and never
//! given back, so memory and labels stay bounded: past `N` sites, the rest
//! share the `other` slot.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

use crate::state::sites::OTHER;

/// No site yet: site ids never reach it.
const EMPTY: u32 = u32::MAX;

/// One site's tally.
#[derive(Debug)]
struct Slot {
    site: AtomicU32,
    count: AtomicU64,
    total_ns: AtomicU64,
    worst_ns: AtomicU64,
}

impl Slot {
    const fn empty() -> Slot {
        Slot {
            site: AtomicU32::new(EMPTY),
            count: AtomicU64::new(0),
            total_ns: AtomicU64::new(0),
            worst_ns: AtomicU64::new(0),
        }
    }
}

/// What a site's slot holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) site: u32,
    pub(crate) count: u64,
    pub(crate) total_ns: u64,
    pub(crate) worst_ns: u64,
}

/// Tallies of up to `N` sites, and of `other` for the rest.
#[derive(Debug)]
pub(crate) struct SiteTally<const N: usize> {
    slots: [Slot; N],
    other: Slot,
}

impl<const N: usize> Default for SiteTally<N> {
    fn default() -> Self {
        SiteTally {
            slots: [const { Slot::empty() }; N],
            other: Slot::empty(),
        }
    }
}

impl<const N: usize> SiteTally<N> {
    /// Counts one event of `ns` at `site`.
    pub(crate) fn record(&self, site: u32, ns: u64) {
        let slot = self.slot_of(site);
        slot.count.fetch_add(1, Relaxed);
        slot.total_ns.fetch_add(ns, Relaxed);
        if slot.worst_ns.load(Relaxed) < ns {
            slot.worst_ns.fetch_max(ns, Relaxed);
        }
    }

    /// The site's slot, claimed if it has none. Every thread claims the
    /// first empty slot, so two threads recording a new site at once end in
    /// the same one: the loser of the claim finds the winner's site there.
    fn slot_of(&self, site: u32) -> &Slot {
        if site == OTHER || site == EMPTY {
            return &self.other;
        }
        for slot in &self.slots {
            match slot.site.load(Acquire) {
                s if s == site => return slot,
                EMPTY => match slot.site.compare_exchange(EMPTY, site, AcqRel, Acquire) {
                    Ok(_) => return slot,
                    Err(s) if s == site => return slot,
                    Err(_) => {}
                },
                _ => {}
            }
        }
        &self.other
    }

    /// The tallies of every site seen, `other` last where it has any.
    pub(crate) fn snapshot(&self) -> Vec<Tally> {
        let read = |site: u32, s: &Slot| Tally {
            site,
            count: s.count.load(Relaxed),
            total_ns: s.total_ns.load(Relaxed),
            worst_ns: s.worst_ns.load(Relaxed),
        };
        let mut out: Vec<Tally> = self
            .slots
            .iter()
            .filter_map(|s| match s.site.load(Acquire) {
                EMPTY => None,
                site => Some(read(site, s)),
            })
            .collect();
        let other = read(OTHER, &self.other);
        if other.count > 0 {
            out.push(other);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_site_keeps_its_own_tally_and_the_rest_share_other() {
        let t = SiteTally::<2>::default();
        t.record(5, 10);
        t.record(7, 30);
        t.record(5, 20);
        t.record(9, 1);
        t.record(11, 4);
        t.record(OTHER, 2);
        let tallies = t.snapshot();
        assert_eq!(
            tallies,
            [
                Tally {
                    site: 5,
                    count: 2,
                    total_ns: 30,
                    worst_ns: 20
                },
                Tally {
                    site: 7,
                    count: 1,
                    total_ns: 30,
                    worst_ns: 30
                },
                Tally {
                    site: OTHER,
                    count: 3,
                    total_ns: 7,
                    worst_ns: 4
                },
            ]
        );
        assert!(SiteTally::<2>::default().snapshot().is_empty());
    }

    /// Threads recording the same new sites at once: one slot per site, and
    /// every event counted.
    #[test]
    fn sites_recorded_from_many_threads_at_once_get_one_slot_each() {
        let t = SiteTally::<8>::default();
        let threads = 8u64;
        let rounds = 5_000u64;
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for i in 0..rounds {
                        t.record((i % 12) as u32, 1);
                    }
                });
            }
        });
        let tallies = t.snapshot();
        let sites: std::collections::HashSet<u32> = tallies.iter().map(|t| t.site).collect();
        assert_eq!(sites.len(), tallies.len(), "no site twice: {tallies:?}");
        assert_eq!(tallies.len(), 9, "8 sites and other: {tallies:?}");
        let counted: u64 = tallies.iter().map(|t| t.count).sum();
        assert_eq!(counted, threads * rounds);
        assert_eq!(
            tallies.iter().map(|t| t.total_ns).sum::<u64>(),
            threads * rounds
        );
    }
}
