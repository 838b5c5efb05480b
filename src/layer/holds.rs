//! Holds made by [`held`](crate::held), recorded by the layer directly,
//! without a span of their own: a span would cost the registry a slot, a
//! parent reference and a close, and the doctor a node, for a scope that
//! is never entered and that no other layer needs.
//!
//! A hold is a plain value ([`Hold`]) that the guard carries. It is listed
//! with the span it was made in (its parent), so the spans that span opens
//! while the hold lasts count as work done inside it, and released when the
//! guard drops, which tells whether it crossed an await (see
//! [`crate::state::held`]).

use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;

use tracing::Dispatch;
use tracing_core::span::Id;
use tracing_core::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

use super::span_node::{Children, SpanNode};
use super::thread_state::with_state;
use super::DoctorCore;
use crate::state::held::Hold;

/// A hold not yet released: what its release needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenHold {
    hold: Hold,
    /// The span it was made in (the nearest one the doctor enabled), whose
    /// children it covers while it lasts.
    parent: Option<u64>,
}

impl DoctorCore {
    /// A hold of `resource` acquired at `at`, now, on this thread, under
    /// the subscriber `dispatch` this layer is in.
    pub(crate) fn open_hold(
        &self,
        dispatch: &Dispatch,
        resource: &'static str,
        at: &'static Location<'static>,
    ) -> OpenHold {
        let shared = &self.shared;
        let site = super::nodes::held_site(shared, resource, at);
        let now = self.clock.raw();
        let (in_poll, stack_current) = with_state(self.owner, shared, |st| {
            (st.poll_start().is_some(), st.registry_current())
        })
        .unwrap_or((false, None));
        shared.sites.get(site).held().open.fetch_add(1, Relaxed);
        let hold = Hold {
            resource: site,
            opened: now,
            in_poll,
        };
        let parent = self.current_parent(stack_current, dispatch);
        if let Some(p) = parent {
            // It covers what its task does next: the spans its parent
            // opens while it is held.
            self.with_children_of(p, dispatch, |children| children.holds.push(hold));
        }
        OpenHold { hold, parent }
    }

    /// `open` is released (its guard dropped) now, on this thread.
    pub(crate) fn close_hold(&self, dispatch: &Dispatch, open: &OpenHold) {
        let shared = &self.shared;
        let now = self.clock.raw();
        let poll_start = with_state(self.owner, shared, |st| st.poll_start()).flatten();
        shared.sites.get(open.hold.resource).held().released(
            &open.hold,
            now,
            poll_start,
            &self.clock,
            shared.ns.held_idle_threshold,
        );
        if let Some(p) = open.parent {
            // The parent may have closed first (the guard outlived it):
            // then its node, and the list, are gone, and nothing is found.
            self.with_children_of(p, dispatch, |children| {
                if let Some(i) = children.holds.iter().rposition(|h| *h == open.hold) {
                    children.holds.remove(i);
                }
            });
        }
    }

    /// The span current on this thread, or its nearest ancestor the doctor
    /// enabled: from the thread's own stack where it names the registry's
    /// current span (see [`DoctorCore::stack_names_current`]), else from the
    /// registry.
    fn current_parent(
        &self,
        stack_current: Option<Option<u64>>,
        dispatch: &Dispatch,
    ) -> Option<u64> {
        if self.stack_names_current() {
            match stack_current {
                Some(None) => return None,
                Some(Some(c)) if self.nodes.contains(c) => return Some(c),
                _ => {}
            }
        }
        let registry = dispatch.downcast_ref::<Registry>()?;
        let current = registry.current_span();
        let mut span = registry.span(current.id()?)?;
        loop {
            if super::filter::wants(&self.shared.config, span.metadata()) {
                return Some(span.id().into_u64());
            }
            span = span.parent()?;
        }
    }

    /// Runs `f` on the children of span `parent`'s node, in this layer's
    /// table or in the registry's extensions; not at all if it has none.
    fn with_children_of(&self, parent: u64, dispatch: &Dispatch, f: impl FnOnce(&mut Children)) {
        let mut f = Some(f);
        let mut run = |children: &mut Children| {
            if let Some(f) = f.take() {
                f(children)
            }
        };
        let in_table = self
            .nodes
            .with_mut(parent, |n| n.with_children_mut(|_, c| run(c)))
            .is_some();
        if in_table {
            return;
        }
        let Some(registry) = dispatch.downcast_ref::<Registry>() else {
            return;
        };
        if let Some(span) = registry.span(&Id::from_u64(parent)) {
            if let Some(node) = span.extensions().get::<SpanNode>() {
                node.with_children(|_, c| run(c));
            }
        }
    }
}
