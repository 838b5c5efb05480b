//! Culprit frames of stalls: what the watchdog's stack captures of stalled
//! workers found, per blamed call site. Written by the watchdog only, read
//! by the exporter and the `blocking_poll` detector. Bounded by the label
//! cap: further frames are counted under `function="other"`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::util::lock;

/// One symbolized frame, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameName {
    /// Demangled path without hash and generic arguments.
    pub(crate) function: String,
    /// Stable `file:line`, or `unknown` without line tables.
    pub(crate) location: String,
}

impl std::fmt::Display for FrameName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` at {}", self.function, self.location)
    }
}

/// What the captures of one stall say.
#[derive(Debug, Clone)]
pub(crate) struct StallStack {
    /// The innermost frame in the service's own code (the culprit), if any.
    pub(crate) culprit: Option<FrameName>,
    /// The innermost frame overall (for example the library function that spins).
    pub(crate) innermost: Option<FrameName>,
    /// The top frames, innermost first.
    pub(crate) top: Vec<FrameName>,
    /// Captures that agree on the culprit, of all taken for this stall.
    pub(crate) agreeing: u32,
    pub(crate) samples: u32,
}

/// Counter key: the blamed site, the culprit's function and location.
type Key = (u32, String, String);

#[derive(Debug, Default)]
struct Inner {
    /// Stalls attributed to each culprit, with the last stack seen for it.
    counts: BTreeMap<Key, (u64, StallStack)>,
    /// The stack of each site's stall running now, refreshed per capture.
    live: BTreeMap<u32, StallStack>,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct BlockingFrames {
    cap: usize,
    inner: Mutex<Inner>,
}

impl BlockingFrames {
    pub(crate) fn new(cap: usize) -> BlockingFrames {
        BlockingFrames {
            cap,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The stall at `site` running now has this stack (its latest verdict).
    pub(crate) fn set_live(&self, site: u32, stack: StallStack) {
        lock(&self.inner).live.insert(site, stack);
    }

    /// The stall at `site` is over, or its samples are spent: count it once
    /// for its dominant culprit.
    pub(crate) fn settle(&self, site: u32, stack: StallStack) {
        let mut inner = lock(&self.inner);
        inner.live.remove(&site);
        let (function, location) = match &stack.culprit {
            Some(c) => (c.function.clone(), c.location.clone()),
            None => ("(unknown)".to_string(), "unknown".to_string()),
        };
        let mut key = (site, function, location);
        if !inner.counts.contains_key(&key) && inner.counts.len() >= self.cap {
            key = (site, "other".into(), "other".into());
        }
        let e = inner.counts.entry(key).or_insert((0, stack.clone()));
        e.0 += 1;
        e.1 = stack;
    }

    /// `(site, function, frame_location, stalls)` for the counter.
    pub(crate) fn counts(&self) -> Vec<(u32, String, String, u64)> {
        lock(&self.inner)
            .counts
            .iter()
            .map(|((site, f, l), (n, _))| (*site, f.clone(), l.clone(), *n))
            .collect()
    }

    /// For the finding of `site`: the live stall's stack if one runs now,
    /// else the stack of its most frequent culprit, with that culprit's count.
    pub(crate) fn for_site(&self, site: u32) -> Option<(StallStack, u64)> {
        let inner = lock(&self.inner);
        if let Some(s) = inner.live.get(&site) {
            return Some((s.clone(), 0));
        }
        inner
            .counts
            .range((site, String::new(), String::new())..)
            .take_while(|((s, _, _), _)| *s == site)
            .max_by_key(|(_, (n, _))| *n)
            .map(|(_, (n, s))| (s.clone(), *n))
    }
}
