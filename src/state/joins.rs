//! Fan-out joins: when a span waits for several outbound children, the
//! slowest of them set its latency. Each parent keeps its slowest outbound
//! child; when the parent closes, that child's site is credited, so "p99 is
//! 30 s because of svcC" is one query away.

use std::sync::Mutex;

use crate::util::lock;

/// Under the parent's lock: its outbound children so far.
#[derive(Debug, Default)]
pub(crate) struct JoinTrack {
    pub(crate) outbound_children: u32,
    pub(crate) slowest_site: u32,
    pub(crate) slowest_ns: u64,
}

impl JoinTrack {
    pub(crate) fn child_closed(&mut self, site: u32, ns: u64) {
        self.outbound_children += 1;
        if ns >= self.slowest_ns {
            self.slowest_ns = ns;
            self.slowest_site = site;
        }
    }

    /// A join worth reporting: at least two outbound children.
    pub(crate) fn slowest(&self) -> Option<(u32, u64)> {
        (self.outbound_children >= 2).then_some((self.slowest_site, self.slowest_ns))
    }
}

/// Most child sites kept per parent site; more fold into `other`.
const CHILD_SITES: usize = 8;

/// Per parent site: which child was the slowest, how often, for how long.
#[derive(Debug, Default)]
pub(crate) struct JoinStats {
    slowest: Mutex<Vec<(u32, u64, u64)>>,
}

impl JoinStats {
    pub(crate) fn record(&self, child: u32, ns: u64) {
        let mut v = lock(&self.slowest);
        let child = if v.len() >= CHILD_SITES && !v.iter().any(|e| e.0 == child) {
            crate::state::sites::OTHER
        } else {
            child
        };
        match v.iter_mut().find(|e| e.0 == child) {
            Some(e) => {
                e.1 += 1;
                e.2 += ns;
            }
            None => v.push((child, 1, ns)),
        }
    }

    /// (child site, joins it was the slowest of, seconds it set in total).
    pub(crate) fn snapshot(&self) -> Vec<(u32, u64, u64)> {
        lock(&self.slowest).clone()
    }
}
