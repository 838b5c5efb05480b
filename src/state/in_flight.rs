//! The outbound calls of one site that are open now: what the hung-call
//! gauge, the overrun count and the in-flight figures read at a scrape.
//!
//! Every outbound span opens and closes here, so this is on the path of
//! every call a service makes. A call takes one of [`SLOTS`] slots, claimed
//! with one compare-and-swap and freed with one store, starting from the
//! thread's own stripe of them so that threads calling the same site seldom
//! write the same line; no lock is taken. Only when every slot is taken (a
//! fan-out of more calls at once) does a call go to a map under a mutex,
//! as every call once did. The scrape reads the slots without stopping
//! the writers: a slot is written before its id is published and read
//! between two reads of its id, so a slot that changed hands meanwhile is
//! left out of that one reading.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::num::NonZeroU16;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU64};
use std::sync::Mutex;

use super::outbound::IdHasher;
use crate::util::lock;

/// Slots per site: calls open at once before the map is used.
pub(crate) const SLOTS: usize = 64;
/// A free slot (registry ids are never 0).
const FREE: u64 = 0;
/// A slot being written: claimed, not yet published.
const WRITING: u64 = u64::MAX;

#[derive(Debug, Default)]
struct Slot {
    id: AtomicU64,
    /// Clock ticks at open.
    at: AtomicU64,
    /// Deadline budget in ns, `u64::MAX` for none.
    deadline_ns: AtomicU64,
}

/// Where an open call was recorded: what its close hands back. Its slot's
/// index plus one, or [`IN_MAP`]; never zero, so a node's `Option` of it
/// takes two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(NonZeroU16);

/// The ticket of a call recorded in the map.
const IN_MAP: u16 = u16::MAX;

impl Ticket {
    fn new(v: u16) -> Ticket {
        Ticket(NonZeroU16::new(v).unwrap_or(NonZeroU16::MAX))
    }
}

/// One open call: clock ticks at open and its deadline budget in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenCall {
    pub(crate) at: u64,
    pub(crate) deadline_ns: u64,
}

/// The calls of one site open now.
#[derive(Debug)]
pub(crate) struct InFlight {
    slots: Box<[Slot]>,
    /// Calls past the slots: span id → the call.
    overflow: Mutex<HashMap<u64, OpenCall, BuildHasherDefault<IdHasher>>>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            overflow: Mutex::default(),
        }
    }
}

impl InFlight {
    /// Call (span) `id` opened at clock ticks `at` with `deadline_ns` of
    /// budget: recorded, and the ticket its close hands back.
    #[inline]
    pub(crate) fn opened(&self, id: u64, at: u64, deadline_ns: u64) -> Ticket {
        let start = super::route_stats::stripe_index() * (SLOTS / super::route_stats::STRIPES);
        for k in 0..SLOTS {
            let i = (start + k) % SLOTS;
            let s = &self.slots[i];
            if s.id.load(Relaxed) == FREE
                && s.id
                    .compare_exchange(FREE, WRITING, Acquire, Relaxed)
                    .is_ok()
            {
                // Orders the claim before the fields: a reader that saw a
                // field written here sees the claim on its second read of
                // the id (a seqlock's writer; free on x86).
                fence(Release);
                s.at.store(at, Relaxed);
                s.deadline_ns.store(deadline_ns, Relaxed);
                s.id.store(id, Release);
                return Ticket::new(i as u16 + 1);
            }
        }
        self.opened_in_map(id, at, deadline_ns)
    }

    #[cold]
    #[inline(never)]
    fn opened_in_map(&self, id: u64, at: u64, deadline_ns: u64) -> Ticket {
        lock(&self.overflow).insert(id, OpenCall { at, deadline_ns });
        Ticket::new(IN_MAP)
    }

    /// Call `id`, recorded under `ticket`, closed.
    #[inline]
    pub(crate) fn closed(&self, ticket: Ticket, id: u64) {
        match self.slots.get(ticket.0.get() as usize - 1) {
            Some(s) => s.id.store(FREE, Release),
            None => {
                lock(&self.overflow).remove(&id);
            }
        }
    }

    /// Every call open now, as one reading sees them (a call that opened
    /// or closed meanwhile may be in it or not).
    pub(crate) fn for_each(&self, mut f: impl FnMut(OpenCall)) {
        for s in self.slots.iter() {
            let id = s.id.load(Acquire);
            if id == FREE || id == WRITING {
                continue;
            }
            let call = OpenCall {
                at: s.at.load(Relaxed),
                deadline_ns: s.deadline_ns.load(Relaxed),
            };
            // Read again after the fields: unchanged, they were this call's.
            fence(Acquire);
            if s.id.load(Relaxed) == id {
                f(call);
            }
        }
        for call in lock(&self.overflow).values() {
            f(*call);
        }
    }

    /// Calls open now.
    pub(crate) fn count(&self) -> usize {
        let mut n = 0;
        self.for_each(|_| n += 1);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(f: &InFlight) -> Vec<OpenCall> {
        let mut v = Vec::new();
        f.for_each(|c| v.push(c));
        v.sort_by_key(|c| c.at);
        v
    }

    #[test]
    fn open_calls_are_read_until_they_close() {
        let f = InFlight::default();
        let a = f.opened(1, 10, u64::MAX);
        let b = f.opened(2, 20, 5_000);
        assert_eq!(
            calls(&f),
            [
                OpenCall {
                    at: 10,
                    deadline_ns: u64::MAX
                },
                OpenCall {
                    at: 20,
                    deadline_ns: 5_000
                }
            ]
        );
        f.closed(a, 1);
        assert_eq!(f.count(), 1);
        f.closed(b, 2);
        assert_eq!(f.count(), 0);
    }

    /// Past the slots, calls go to the map, and close from it.
    #[test]
    fn a_fan_out_wider_than_the_slots_is_kept_whole() {
        let f = InFlight::default();
        let n = SLOTS as u64 + 36;
        let tickets: Vec<_> = (1..=n).map(|id| (id, f.opened(id, id, u64::MAX))).collect();
        assert_eq!(f.count(), n as usize);
        assert_eq!(
            tickets.iter().filter(|(_, t)| t.0.get() == IN_MAP).count(),
            36
        );
        assert_eq!(calls(&f).iter().map(|c| c.at).sum::<u64>(), n * (n + 1) / 2);
        for (id, t) in tickets {
            f.closed(t, id);
        }
        assert_eq!(f.count(), 0);
    }

    /// Threads opening and closing calls at one site while another reads:
    /// every reading is of calls open at that moment, and all are closed
    /// at the end.
    #[test]
    fn calls_from_many_threads_are_counted_while_read() {
        let f = InFlight::default();
        let threads = 8u64;
        let rounds = 2_000u64;
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|th| {
                    let f = &f;
                    s.spawn(move || {
                        for i in 0..rounds {
                            // At most 12 open per thread: some go to the map.
                            let ids: Vec<_> =
                                (0..12).map(|k| 1 + (th * rounds + i) * 12 + k).collect();
                            let t: Vec<_> = ids.iter().map(|&id| f.opened(id, id, th)).collect();
                            for (&id, t) in ids.iter().zip(t) {
                                f.closed(t, id);
                            }
                        }
                    })
                })
                .collect();
            s.spawn(|| {
                while !done.load(Relaxed) {
                    let mut n = 0;
                    f.for_each(|c| {
                        // A call's fields are always one call's: its
                        // opening time is its id, its deadline the
                        // thread that opened it.
                        assert_eq!((c.at - 1) / 12 / rounds, c.deadline_ns, "{c:?}");
                        n += 1;
                    });
                    assert!(n <= threads as usize * 12, "{n}");
                    std::thread::yield_now();
                }
            });
            for w in workers {
                w.join().unwrap();
            }
            done.store(true, Relaxed);
        });
        assert_eq!(f.count(), 0);
    }
}
