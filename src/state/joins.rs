//! Fan-out joins: when a span waits for several outbound children, the
//! slowest of them set its latency. Each parent keeps its slowest outbound
//! child; when the parent closes, that child's site is credited, so "p99 is
//! 30 s because of svcC" is one query away.

use crate::state::site_tally::SiteTally;

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

/// Per parent site: which child was the slowest, how often, for how long
/// (added to on span close, without a lock: see [`SiteTally`]).
#[derive(Debug, Default)]
pub(crate) struct JoinStats {
    slowest: SiteTally<CHILD_SITES>,
}

impl JoinStats {
    pub(crate) fn record(&self, child: u32, ns: u64) {
        self.slowest.record(child, ns);
    }

    /// (child site, joins it was the slowest of, seconds it set in total).
    pub(crate) fn snapshot(&self) -> Vec<(u32, u64, u64)> {
        self.slowest
            .snapshot()
            .into_iter()
            .map(|t| (t.site, t.count, t.total_ns))
            .collect()
    }
}
