//! Call sites: the unit every metric label and finding is keyed by.
//!
//! A site is a span callsite (span name, target, `file:line` from its static
//! metadata) or, for tokio's own task spans, a spawn location. Sites live in
//! fixed slots allocated once, so per-site statistics are plain atomics with
//! stable addresses, and the number of label sets any metric can carry is
//! bounded by the cap: sites past the cap share slot 0, `other`.
//!
//! Lookups happen when a span is created, never on enter/exit: a lock-free
//! open-addressing table maps a 64-bit key (the metadata's address, or a hash
//! of a spawn location) to a slot. Inserting takes a mutex, once per site.
//! The table is never filled past half, so a lookup is a few probes however
//! many call sites the code has; keys past that (more than eight times the
//! cap, at least 8,192 of them) are folded, remembered in a set behind the
//! mutex so each is counted once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Mutex, OnceLock};

use tracing_core::Metadata;

use crate::fields::{DEADLINE_FIELDS, OUTBOUND_FIELDS, RESOURCE_FIELD, SEQUENTIAL_FIELD};

/// Index of the `other` slot that sites past the label cap share.
pub(crate) const OTHER: u32 = 0;

/// Static description of a site, as it appears in labels.
#[derive(Debug, Clone)]
pub(crate) struct SiteMeta {
    pub(crate) span: String,
    pub(crate) target: String,
    pub(crate) location: String,
}

/// Per-site evidence for the blocking-poll detector. Written only on the
/// slow path (a poll over the threshold), read by the sampler.
#[derive(Debug, Default)]
pub(crate) struct BlockingStats {
    pub(crate) polls: AtomicU64,
    pub(crate) total_ns: AtomicU64,
    pub(crate) worst_ns: AtomicU64,
    pub(crate) self_ns: AtomicU64,
    /// The site is one of the doctor's own monitor tasks (see
    /// [`Sites::note_spawn_file`]): its polls are never reported.
    pub(crate) own: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct Site {
    pub(crate) meta: OnceLock<SiteMeta>,
    pub(crate) blocking: BlockingStats,
    /// What the callsite's metadata says of its spans, worked out once.
    pub(crate) class: OnceLock<CallsiteClass>,
    /// Made the first time the site makes an outbound call (or overruns a
    /// deadline), so sites that never do cost nothing.
    pub(crate) outbound: OnceLock<Box<crate::state::outbound::OutboundStats>>,
    /// Made the first time the site is held as a resource.
    pub(crate) held: OnceLock<Box<crate::state::held::HeldStats>>,
    /// Made the first time the site joins several outbound children.
    pub(crate) joins: OnceLock<Box<crate::state::joins::JoinStats>>,
    /// Serial chains, fan-out and task counts of spans of this site.
    pub(crate) shape: crate::state::shape_stats::ShapeStats,
    #[cfg(feature = "alloc")]
    pub(crate) alloc: crate::alloc::SiteAlloc,
}

impl Site {
    pub(crate) fn outbound(&self) -> &crate::state::outbound::OutboundStats {
        self.outbound.get_or_init(Default::default)
    }

    pub(crate) fn held(&self) -> &crate::state::held::HeldStats {
        self.held.get_or_init(Default::default)
    }

    pub(crate) fn joins(&self) -> &crate::state::joins::JoinStats {
        self.joins.get_or_init(Default::default)
    }
}

/// Keys the table had no room for, all folded into `other`; behind the
/// insert mutex.
#[derive(Debug, Default)]
struct Spill {
    /// Keys stored in the table.
    stored: usize,
    /// Folded keys not stored, so each is counted once.
    unstored: HashSet<u64>,
}

/// Most folded keys remembered beyond the table: past this, new ones are
/// still folded but no longer counted (a service with that many distinct
/// call sites has a bigger problem, and memory stays bounded).
const MAX_UNSTORED: usize = 1 << 16;

/// The table of sites of one doctor.
#[derive(Debug)]
pub(crate) struct Sites {
    slots: Box<[Site]>,
    used: AtomicU32,
    keys: Box<[AtomicU64]>,
    values: Box<[AtomicU32]>,
    insert: Mutex<Spill>,
    /// Distinct sites folded into `other` because the cap was reached.
    pub(crate) folded: AtomicU64,
}

impl Sites {
    /// Notes that `site` is a task spawned at `file`: where that is the
    /// file the doctor spawns its own monitors in (the sampler, the lag
    /// probe, the wake answer), their polls are never reported. Only tokio's
    /// task spans and poll hooks (`tokio_unstable`) mark those polls at all;
    /// on stable tokio nothing does, and a finding that tells the service to
    /// move the doctor's own work into `spawn_blocking` helps no one.
    pub(crate) fn note_spawn_file(&self, site: u32, file: &str) {
        if file == crate::doctor::MONITORS_FILE {
            self.get(site).blocking.own.store(true, Relaxed);
        }
    }

    pub(crate) fn new(cap: usize) -> Sites {
        let slots: Box<[Site]> = (0..=cap).map(|_| Site::default()).collect();
        let _ = slots[0].meta.set(SiteMeta {
            span: "other".into(),
            target: "other".into(),
            location: "other".into(),
        });
        // Sixteen key slots per site, and at least 16,384 (192 KiB): filled
        // at most half, so probes stay short and the keys of many folded
        // sites still fit, their lookups lock-free.
        let table = (cap * 16).next_power_of_two().max(1 << 14);
        Sites {
            slots,
            used: AtomicU32::new(1),
            keys: (0..table).map(|_| AtomicU64::new(0)).collect(),
            values: (0..table).map(|_| AtomicU32::new(OTHER)).collect(),
            insert: Mutex::new(Spill::default()),
            folded: AtomicU64::new(0),
        }
    }

    pub(crate) fn get(&self, idx: u32) -> &Site {
        &self.slots[idx as usize]
    }

    /// Sites in use, `other` first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Site, &SiteMeta)> {
        let used = self.used.load(Acquire) as usize;
        self.slots[..used.min(self.slots.len())]
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.meta.get().map(|m| (i as u32, s, m)))
    }

    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize & (self.keys.len() - 1)
    }

    /// Lock-free lookup of a key registered before.
    #[inline]
    pub(crate) fn lookup(&self, key: u64) -> Option<u32> {
        let key = key.max(1);
        let mask = self.keys.len() - 1;
        let mut i = self.home(key);
        for _ in 0..self.keys.len() {
            match self.keys[i].load(Acquire) {
                0 => return None,
                k if k == key => return Some(self.values[i].load(Relaxed)),
                _ => i = (i + 1) & mask,
            }
        }
        None
    }

    /// Returns the slot of `key`, registering it with `meta()` if new.
    #[inline]
    pub(crate) fn intern(&self, key: u64, meta: impl FnOnce() -> SiteMeta) -> u32 {
        if let Some(idx) = self.lookup(key) {
            return idx;
        }
        self.register(key, meta)
    }

    /// The slow half of [`intern`](Self::intern): a key not seen before,
    /// registered under the insert lock.
    #[cold]
    #[inline(never)]
    fn register(&self, key: u64, meta: impl FnOnce() -> SiteMeta) -> u32 {
        let key = key.max(1);
        // A poisoned lock only means another thread panicked while holding
        // it; the table itself is always consistent, so carry on.
        let mut spill = self.insert.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(idx) = self.lookup(key) {
            return idx;
        }
        if spill.stored >= self.keys.len() / 2 {
            // No room to remember it lock-free; sites past the cap use far
            // fewer keys than the table holds, so this one is folded.
            if spill.unstored.len() < MAX_UNSTORED && spill.unstored.insert(key) {
                self.folded.fetch_add(1, Relaxed);
            }
            return OTHER;
        }
        let used = self.used.load(Relaxed);
        let idx = if (used as usize) < self.slots.len() {
            let _ = self.slots[used as usize].meta.set(meta());
            self.used.store(used + 1, Release);
            used
        } else {
            self.folded.fetch_add(1, Relaxed);
            OTHER
        };
        let mask = self.keys.len() - 1;
        let mut i = self.home(key);
        loop {
            if self.keys[i].load(Relaxed) == 0 {
                self.values[i].store(idx, Relaxed);
                self.keys[i].store(key, Release);
                spill.stored += 1;
                break;
            }
            i = (i + 1) & mask;
        }
        idx
    }

    /// Key for a span callsite: the address of its `'static` metadata.
    pub(crate) fn callsite_key(meta: &'static tracing_core::Metadata<'static>) -> u64 {
        meta as *const _ as usize as u64
    }

    /// [`location_key`](Self::location_key) from the FNV-1a state after
    /// the file's bytes (hashed as they were visited).
    pub(crate) fn location_key_from(file_state: u64, line: u64, col: u64) -> u64 {
        let h = line
            .to_le_bytes()
            .into_iter()
            .chain(col.to_le_bytes())
            .fold(file_state, |h, b| {
                (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
            });
        h | (1 << 63)
    }

    /// Key for a spawn location reported in a task span's fields.
    pub(crate) fn location_key(file: &str, line: u64, col: u64) -> u64 {
        // FNV-1a: stable, no allocation, good enough to spread a few
        // thousand code locations; the high bit keeps it apart from
        // metadata addresses.
        let h = crate::util::fnv1a(
            file.bytes()
                .chain(line.to_le_bytes())
                .chain(col.to_le_bytes()),
        );
        h | (1 << 63)
    }
}

/// Whether `meta` is one of tokio's task spans (`runtime.spawn`, made with
/// `--cfg tokio_unstable` and tokio's `tracing` feature): the one test of
/// it, for the layer and the shape trackers alike.
pub(crate) fn is_task_span(meta: &Metadata<'_>) -> bool {
    meta.name() == "runtime.spawn" && meta.target().starts_with("tokio::task")
}

/// What a callsite's static metadata says about its spans, worked out once
/// per callsite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CallsiteClass {
    /// Has one of [`OUTBOUND_FIELDS`](crate::fields::OUTBOUND_FIELDS), or a configured outbound name.
    pub(crate) outbound: bool,
    /// Has an `otel.kind` field: its value decides (client means outbound).
    pub(crate) otel_kind: bool,
    /// Has one of [`DEADLINE_FIELDS`](crate::fields::DEADLINE_FIELDS).
    pub(crate) deadline_field: bool,
    /// Has [`SEQUENTIAL_FIELD`](crate::fields::SEQUENTIAL_FIELD).
    pub(crate) sequential_field: bool,
    /// Has [`RESOURCE_FIELD`](crate::fields::RESOURCE_FIELD), or a configured resource span name.
    pub(crate) resource: bool,
    /// One of tokio's task spans ([`is_task_span`]): its site is its spawn
    /// location, read from its fields.
    pub(crate) task_span: bool,
    /// A scope of [`held`](crate::held): its site is in its fields.
    pub(crate) held_scope: bool,
}

impl CallsiteClass {
    pub(crate) fn of(
        meta: &Metadata<'_>,
        outbound_names: &[String],
        resource_names: &[String],
    ) -> CallsiteClass {
        let fields = meta.fields();
        let has = |n: &str| fields.field(n).is_some();
        CallsiteClass {
            outbound: OUTBOUND_FIELDS.iter().any(|f| has(f))
                || outbound_names.iter().any(|n| n == meta.name()),
            otel_kind: has("otel.kind"),
            deadline_field: DEADLINE_FIELDS.iter().any(|f| has(f)),
            sequential_field: has(SEQUENTIAL_FIELD),
            resource: has(RESOURCE_FIELD) || resource_names.iter().any(|n| n == meta.name()),
            task_span: is_task_span(meta),
            held_scope: meta.target() == crate::layer::nodes::HELD_TARGET,
        }
    }

    /// Whether field values must be read to classify a span instance.
    pub(crate) fn needs_values(self) -> bool {
        self.otel_kind || self.deadline_field || self.sequential_field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(n: u64) -> SiteMeta {
        SiteMeta {
            span: format!("s{n}"),
            target: "t".into(),
            location: format!("f.rs:{n}"),
        }
    }

    #[test]
    fn sites_past_the_cap_fold_into_other() {
        let sites = Sites::new(3);
        let a = sites.intern(10, || meta(10));
        let b = sites.intern(20, || meta(20));
        let c = sites.intern(30, || meta(30));
        let d = sites.intern(40, || meta(40));
        assert_eq!((a, b, c, d), (1, 2, 3, OTHER));
        assert_eq!(sites.intern(20, || meta(99)), 2);
        assert_eq!(sites.lookup(40), Some(OTHER));
        assert_eq!(sites.folded.load(Relaxed), 1);
        assert_eq!(sites.iter().count(), 4);
    }

    #[test]
    fn many_more_sites_than_the_table_holds_are_each_folded_once() {
        let sites = Sites::new(3);
        let keys = 3 * sites.keys.len() as u64;
        for round in 0..2 {
            for k in 1..=keys {
                let idx = sites.intern(k, || meta(k));
                assert_eq!(idx == OTHER, k > 3, "round {round}, key {k}");
            }
        }
        assert_eq!(sites.folded.load(Relaxed), keys - 3);
        // The table stays half empty, so a miss is a few probes.
        let stored = sites.keys.iter().filter(|k| k.load(Relaxed) != 0).count();
        assert_eq!(stored, sites.keys.len() / 2);
    }
}
