//! Creating and freeing [`SpanNode`]s: the per-span half of the layer,
//! run when a span is created and when it closes, never per poll.

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::span_node::{Children, Closed, FieldFacts, FixedBuf, ParentRef, SpanNode};
use super::thread_state::{with_state, PollMark};
use super::DoctorCore;
use crate::state::held::Hold;
use crate::state::sites::{CallsiteClass, SiteMeta, Sites};
use crate::state::Shared;

/// Target and name of the span [`held`](crate::held) opens.
pub(crate) const HELD_TARGET: &str = "tokio_doctor::held";

/// The site of a span with the held scope's target (`tokio_doctor::held`):
/// the resource name and the `file:line` that acquired it, carried in its
/// fields. [`held`](crate::held) itself makes no span (see
/// [`held_site`]); a span of that target made another way is a held scope
/// just the same.
pub(crate) fn site_of_held_span(shared: &Shared, attrs: &Attributes<'_>) -> Option<u32> {
    let meta = attrs.metadata();
    if meta.target() != HELD_TARGET {
        return None;
    }
    // The key is hashed from the values as they are visited, nothing
    // copied: the strings are needed only the first time a site is seen.
    let mut k = HeldKey::default();
    attrs.record(&mut k);
    let resource = k.resource?;
    let file = k.file.unwrap_or_else(|| fnv1a_from(FNV_OFFSET, b"unknown"));
    let key = Sites::location_key_from(file, k.line, resource);
    Some(shared.sites.intern(key, || {
        let mut f = HeldFields::default();
        attrs.record(&mut f);
        let resource = f.resource.as_ref().map_or("", |b| b.as_str());
        let file = f.file.as_ref().map_or("unknown", |b| b.as_str());
        held_meta(resource, file, f.line)
    }))
}

/// The site of a hold made by [`held`](crate::held) with these arguments:
/// the one a held scope's span with them as fields has.
pub(crate) fn held_site(
    shared: &Shared,
    resource: &'static str,
    at: &'static std::panic::Location<'static>,
) -> u32 {
    shared.sites.intern(held_key_of(resource, at), || {
        held_meta(cut(resource, 128), cut(at.file(), 192), at.line() as u64)
    })
}

fn held_meta(resource: &str, file: &str, line: u64) -> SiteMeta {
    SiteMeta {
        span: resource.to_string(),
        target: HELD_TARGET.to_string(),
        location: format!(
            "{}:{}",
            crate::state::location::stable_path(file, &[]),
            line
        ),
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The site key of a held scope made with these arguments: what
/// [`HeldKey`] hashes from the span's fields (`loc.file`, `loc.line`,
/// `doctor.resource`).
fn held_key(resource: &str, file: &str, line: u64) -> u64 {
    Sites::location_key_from(
        fnv1a_from(FNV_OFFSET, cut(file, 192).as_bytes()),
        line,
        fnv1a_from(FNV_OFFSET, cut(resource, 128).as_bytes()),
    )
}

/// Entries in the per-thread cache of held scopes' keys (direct-mapped).
const HELD_KEYS: usize = 64;

thread_local! {
    /// Keys of held scopes by the addresses of their static arguments
    /// (resource name, call site): the same addresses are the same strings.
    static HELD_KEY_CACHE: [Cell<(usize, usize, usize, u64)>; HELD_KEYS] =
        const { [const { Cell::new((0, 0, 0, 0)) }; HELD_KEYS] };
}

/// [`held_key`] of a `held()` call's static arguments, from the cache.
fn held_key_of(resource: &'static str, at: &'static std::panic::Location<'static>) -> u64 {
    let tag = (
        resource.as_ptr() as usize,
        resource.len(),
        at as *const std::panic::Location<'static> as usize,
    );
    let compute = || held_key(resource, at.file(), at.line() as u64);
    let slot = (tag.0 ^ tag.2.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
    HELD_KEY_CACHE
        .try_with(|cache| {
            let entry = &cache[slot & (HELD_KEYS - 1)];
            let (p, l, a, key) = entry.get();
            if (p, l, a) == tag {
                return key;
            }
            let key = compute();
            entry.set((tag.0, tag.1, tag.2, key));
            key
        })
        .unwrap_or_else(|_| compute())
}

/// FNV-1a of `bytes` continued from state `h` (`FNV_OFFSET` to start):
/// what [`fnv1a`](crate::util::fnv1a) computes, in pieces.
fn fnv1a_from(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// `s` cut as a [`FixedBuf<N>`] would keep it: at most `N` bytes, at a
/// character boundary.
fn cut(s: &str, n: usize) -> &str {
    let n = s.len().min(n);
    let n = (0..=n).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    &s[..n]
}

/// The held helper's fields, hashed as [`HeldFields`] would keep them
/// (cut to its buffers' sizes): the resource name's FNV-1a, the file's
/// FNV-1a state and the line.
#[derive(Default)]
struct HeldKey {
    resource: Option<u64>,
    file: Option<u64>,
    line: u64,
}

impl Visit for HeldKey {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "loc.line" {
            self.line = value;
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "doctor.resource" => {
                self.resource = Some(fnv1a_from(FNV_OFFSET, cut(value, 128).as_bytes()));
            }
            "loc.file" => self.file = Some(fnv1a_from(FNV_OFFSET, cut(value, 192).as_bytes())),
            _ => {}
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// The held helper's fields, copied into fixed buffers: no allocation.
#[derive(Default)]
struct HeldFields {
    resource: Option<FixedBuf<128>>,
    file: Option<FixedBuf<192>>,
    line: u64,
}

impl Visit for HeldFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "loc.line" {
            self.line = value;
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "doctor.resource" => {
                let mut b = FixedBuf::default();
                b.set(value);
                self.resource = Some(b);
                return;
            }
            "loc.file" => &mut self.file,
            _ => return,
        };
        let mut b = FixedBuf::default();
        b.set(value);
        *slot = Some(b);
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// The class of the callsite whose site is `site`: kept with the site,
/// except for callsites folded into `other`, which share a slot, so their
/// class is not theirs: worked out per span for them.
pub(super) fn class_of(
    layer: &DoctorCore,
    site: u32,
    meta: &'static tracing_core::Metadata<'static>,
) -> CallsiteClass {
    let of = || {
        let c = &layer.shared.config;
        CallsiteClass::of(meta, &c.outbound_span_names, &c.resource_span_names)
    };
    if site == crate::state::sites::OTHER {
        return of();
    }
    *layer.shared.sites.get(site).class.get_or_init(of)
}

pub(super) fn open<S>(
    layer: &DoctorCore,
    site: u32,
    class: CallsiteClass,
    held_helper: bool,
    attrs: &Attributes<'_>,
    id: &Id,
    ctx: &Context<'_, S>,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let shared = &layer.shared;
    let mut facts = FieldFacts::default();
    if class.needs_values() {
        attrs.record(&mut facts);
    }
    let now = layer.clock.raw();
    let (poll, stack_current) = with_state(layer.owner, shared, |st| {
        st.count_node(1);
        st.note_new_span(id.into_u64(), site);
        (st.poll_mark(), st.registry_current())
    })
    .unwrap_or((PollMark::NONE, None));
    let in_poll = poll.task_poll() != 0;
    // The parent: the nearest ancestor the doctor enabled, which is what
    // `span.parent()` finds through the per-layer filter at the cost of two
    // registry lookups (this span, then its parent). Directly on the
    // registry (`DoctorCore::direct`), the registry's record of the parent
    // is known without a lookup: none for a root span, the one named for an
    // explicit parent, the registry's current span for a contextual one
    // (nothing ran since the registry read it), which this thread's stack
    // names where it mirrors the registry's, this layer is the only one
    // feeding it and no declined span was ever entered (else the registry
    // is asked). When that span has a node
    // here, the doctor enabled it, so it is the parent `span.parent()`
    // would find; otherwise (a span the doctor declined, a node in the
    // extensions) the registry is asked as before.
    let known_parent = if layer.direct.load(Relaxed) {
        let raw = if attrs.is_root() {
            None
        } else if let Some(p) = attrs.parent() {
            Some(p.into_u64())
        } else {
            match stack_current {
                Some(current) if layer.stack_names_current() => current,
                _ => ctx.current_span().id().map(Id::into_u64),
            }
        };
        match raw {
            None => Some(None),
            Some(p) if layer.nodes.contains(p) => Some(Some(p)),
            Some(_) => None,
        }
    } else {
        None
    };
    // Ids only from here on (no registry reference is carried): the rare
    // paths that need the registry's record look it up again.
    let parent_id = match known_parent {
        Some(p) => p,
        None => match parent_through_registry(id, ctx) {
            Some(p) => p,
            None => {
                // Never for a span just created; the count made above is
                // taken back so it stays that of the nodes made.
                with_state(layer.owner, shared, |st| st.count_node(-1));
                return;
            }
        },
    };

    let resource = class.resource || held_helper;
    let hold = resource.then(|| {
        shared.sites.get(site).held().open.fetch_add(1, Relaxed);
        Hold {
            resource: site,
            opened: now,
            in_poll,
        }
    });
    let mut deadline_ns = facts.timeout_ns.unwrap_or(u64::MAX);
    if let Some(ns) = crate::helpers::deadline::scope_remaining_ns() {
        deadline_ns = deadline_ns.min(ns);
    }
    let mut inside_hold = None;
    if let Some(parent_id) = parent_id {
        let mut report = |p: ParentRef<'_>, children: &mut Children| {
            if p.deadline_ns != u64::MAX {
                let spent = layer.clock.delta_as_nanos(p.opened, now);
                deadline_ns = deadline_ns.min(p.deadline_ns.saturating_sub(spent));
            }
            children.shape.child_opened(shared, &p, site, now, poll);
            // Most parents are in no hold: one test each, no copy.
            if p.hold.is_some() {
                inside_hold = *p.hold;
            } else if let Some(h) = children.holds.last() {
                inside_hold = Some(*h);
            } else if p.inside_hold.is_some() {
                inside_hold = *p.inside_hold;
            }
        };
        let in_table = layer
            .nodes
            .with_mut(parent_id, |p| p.with_children_mut(&mut report))
            .is_some();
        if !in_table {
            if let Some(parent) = ctx.span(&Id::from_u64(parent_id)) {
                if let Some(p) = parent.extensions().get::<SpanNode>() {
                    p.with_children(&mut report);
                }
            }
        }
    }
    super::shape::span_opened(shared, site, class.task_span, now, poll.task_poll());
    let outbound = facts.otel_client.unwrap_or(class.outbound);
    let call = outbound.then(|| {
        shared
            .sites
            .get(site)
            .outbound()
            .opened(id.into_u64(), now, deadline_ns)
    });
    let node = || SpanNode {
        site,
        task: class.task_span,
        opened: now,
        call,
        resource,
        sequential_intended: facts.sequential_intended,
        deadline_ns,
        hold,
        inside_hold,
        children: Default::default(),
        parent: parent_id.map(Id::from_u64),
    };
    if let Err(node) = layer.nodes.insert_with(id.into_u64(), node) {
        // The registry has the span (it was just created) and it is enabled
        // for the doctor's filter (or this would not run), so the lookup
        // finds it.
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(node());
        }
    }
}

/// The parent of span `id` the doctor enabled, through the registry (two
/// lookups: the span, then its parent): `None` when the registry has no
/// such span.
#[cold]
#[inline(never)]
fn parent_through_registry<S>(id: &Id, ctx: &Context<'_, S>) -> Option<Option<u64>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    Some(span.parent().map(|p| p.id().into_u64()))
}

pub(super) fn close<S>(layer: &DoctorCore, id: &Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let shared = &layer.shared;
    let own = |node: &mut SpanNode| closed_here(layer, id, node);
    let (closed, parent, call) = match layer.nodes.close_with(id.into_u64(), own) {
        Some(done) => done,
        None => {
            let Some(span) = ctx.span(id) else { return };
            let Some(mut node) = span.extensions_mut().remove::<SpanNode>() else {
                return;
            };
            closed_here(layer, id, &mut node)
        }
    };
    // The parent recorded at open, not `span.parent()`: this runs past the
    // per-layer filter (see `DoctorLayer::on_close`), whose context would
    // have skipped the ancestors the doctor declined. The registry keeps a
    // parent open until its children close, so the lookup finds it.
    if let Some(parent) = &parent {
        let report = |p: ParentRef<'_>, children: &mut Children| {
            children.shape.child_closed(shared, &p, &closed);
            if call {
                children.join.child_closed(closed.site, closed.duration_ns);
            }
        };
        let in_table = layer
            .nodes
            .with_mut(parent.into_u64(), |p| p.with_children_mut(report))
            .is_some();
        if !in_table {
            if let Some(span) = ctx.span(parent) {
                if let Some(p) = span.extensions().get::<SpanNode>() {
                    p.with_children(report);
                }
            }
        }
    }
}

/// The closing span's own part of a close, on its node (in its bucket,
/// under the bucket's lock, or taken out of the extensions): what its site
/// and the detectors record. Returns what its parent is told, which is done
/// after the node's bucket is released (the parent's may be the same).
#[inline(always)]
fn closed_here(layer: &DoctorCore, id: &Id, node: &mut SpanNode) -> (Closed, Option<Id>, bool) {
    let shared = &layer.shared;
    let now = layer.clock.raw();
    let (seen, poll_start, poll) = with_state(layer.owner, shared, |st| {
        st.count_node(-1);
        let poll = node
            .parent
            .as_ref()
            .map_or(PollMark::NONE, |p| st.poll_mark_under(p.into_u64()));
        (st.take_span(id.into_u64()), st.poll_start(), poll)
    })
    .unwrap_or((None, None, PollMark::NONE));
    let (busy_ns, enters) = seen.unwrap_or((0, 0));
    let duration_ns = layer.clock.delta_as_nanos(node.opened, now);
    let closed = Closed {
        site: node.site,
        closed: now,
        duration_ns,
        busy_ns,
        enters,
        poll,
    };
    super::shape::span_closed(shared, &closed, node.task);
    let site = shared.sites.get(node.site);
    let grace = shared.ns.deadline_grace;
    if node.deadline_ns != u64::MAX && duration_ns > node.deadline_ns.saturating_add(grace) {
        let o = site.outbound();
        let over = duration_ns - node.deadline_ns;
        o.overruns.fetch_add(1, Relaxed);
        o.overrun_ns.fetch_add(over, Relaxed);
        o.worst_overrun_ns.fetch_max(over, Relaxed);
    }
    if let Some(call) = node.call {
        let o = site.outbound();
        o.closed(call, id.into_u64());
        o.calls.fetch_add(1, Relaxed);
        o.duration_ns.fetch_add(duration_ns, Relaxed);
        if node.deadline_ns == u64::MAX {
            o.no_deadline_calls.fetch_add(1, Relaxed);
            o.no_deadline_latency.record(duration_ns);
        }
    }
    let threshold = shared.ns.held_idle_threshold;
    if let Some(h) = &node.hold {
        site.held()
            .released(h, now, poll_start, &layer.clock, threshold);
    }
    if let Some(h) = &node.inside_hold {
        if !node.resource && duration_ns >= threshold {
            shared
                .sites
                .get(h.resource)
                .held()
                .slow_inner(node.site, duration_ns);
        }
    }
    {
        // Under its bucket's lock, or taken out of the extensions: no one
        // else sees it.
        let children = node.children.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((child, ns)) = children.join.slowest() {
            site.joins().record(child, ns);
        }
    }
    (closed, node.parent.clone(), node.call.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    /// The keys of the held scopes' spans it sees, from their fields.
    #[derive(Clone, Default)]
    struct Keys(Arc<Mutex<Vec<u64>>>);

    impl<S: Subscriber> tracing_subscriber::Layer<S> for Keys {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            let mut k = HeldKey::default();
            attrs.record(&mut k);
            let fields = Sites::location_key_from(k.file.unwrap(), k.line, k.resource.unwrap());
            self.0.lock().unwrap().push(fields);
        }
    }

    /// `held()` makes no span; a span of the held target carrying the same
    /// resource and location as fields is the same site.
    #[test]
    fn a_holds_key_from_its_arguments_is_its_key_from_its_fields() {
        use tracing_subscriber::prelude::*;
        let at = std::panic::Location::caller();
        let long: &'static str = Box::leak("é".repeat(150).into_boxed_str());
        for resource in ["db.pool", "", long] {
            let keys = Keys::default();
            tracing::subscriber::with_default(
                tracing_subscriber::registry().with(keys.clone()),
                || {
                    let _span = tracing::span!(
                        target: "tokio_doctor::held",
                        tracing::Level::INFO,
                        "held",
                        doctor.resource = resource,
                        loc.file = at.file(),
                        loc.line = at.line(),
                    );
                },
            );
            let keys = keys.0.lock().unwrap();
            assert_eq!(keys[..], [held_key_of(resource, at)], "{resource}");
            // Twice: the second from the per-thread cache.
            assert_eq!(held_key_of(resource, at), keys[0]);
        }
        assert_ne!(held_key_of("db.pool", at), held_key_of("", at));
    }

    #[test]
    fn held_keys_hashed_while_visiting_match_the_copied_fields_keys() {
        let long = "é".repeat(150);
        for (file, resource) in [
            ("src/db.rs", "db.pool"),
            ("unknown", ""),
            (long.as_str(), long.as_str()),
        ] {
            let mut f = FixedBuf::<192>::default();
            f.set(file);
            let mut r = FixedBuf::<128>::default();
            r.set(resource);
            assert_eq!(cut(file, 192), f.as_str());
            assert_eq!(cut(resource, 128), r.as_str());
            let copied =
                Sites::location_key(f.as_str(), 42, crate::util::fnv1a(r.as_str().bytes()));
            let hashed = Sites::location_key_from(
                fnv1a_from(FNV_OFFSET, cut(file, 192).as_bytes()),
                42,
                fnv1a_from(FNV_OFFSET, cut(resource, 128).as_bytes()),
            );
            assert_eq!(copied, hashed);
        }
    }
}
