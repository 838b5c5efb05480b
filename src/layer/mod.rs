//! The tracing layer: span timing on the hot path.
//!
//! Per poll it reads the clock twice and updates thread-owned state (see
//! [`thread_state`]); per span it resolves the site once when the span is
//! created. Everything that reasons about the numbers runs elsewhere.

mod alloc_hooks;
mod filter;
pub(crate) mod holds;
mod node_table;
pub(crate) mod nodes;
pub(crate) mod shape;

#[cfg(tokio_unstable)]
pub(crate) mod poll_hooks;
pub(crate) mod span_node;
pub(crate) mod thread_state;

use std::any::TypeId;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tracing_core::span::{Attributes, Id};
use tracing_core::{Interest, Metadata, Subscriber};
use tracing_subscriber::filter::{Filtered, LevelFilter};
use tracing_subscriber::layer::{Context, Layered};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::state::location::stable_path;
use crate::state::sites::{SiteMeta, Sites, OTHER};
use crate::state::Shared;
use filter::DoctorFilter;
use thread_state::{with_state, SlowPoll, IGNORED};

/// The [`Layer`] that feeds the doctor. Get it from
/// [`Doctor::layer`](crate::Doctor::layer) and add it to a
/// `tracing_subscriber::registry()`.
///
/// It enables only what the doctor reads: spans at
/// [`span_level`](crate::DoctorBuilder::span_level) (INFO by default) and
/// above, plus the doctor's own helpers' spans and tokio's task spans;
/// never an event. It declines the rest with a per-layer filter, so what it
/// declines stays on for the subscriber's other layers (an `fmt` layer at
/// DEBUG sees every DEBUG span and event) and is off only when no layer
/// wants it. `S` is the subscriber it is added to, inferred where it is
/// added (`registry().with(doctor.layer())`).
///
/// Add it first, directly on the registry, and the service's other layers
/// after it (`registry().with(doctor.layer()).with(fmt_layer)`): there it
/// knows a new span's parent from its own per-thread stack of entered
/// spans, where above another layer it looks the span and its parent up
/// in the registry (about 250 instructions a span more).
///
/// # Examples
/// ```
/// use tracing_subscriber::prelude::*;
/// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
/// let subscriber = tracing_subscriber::registry().with(doctor.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("work").in_scope(|| {});
/// });
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
pub struct DoctorLayer<S = Registry> {
    inner: Filtered<DoctorCore, DoctorFilter, S>,
}

impl<S> DoctorLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    pub(crate) fn new(shared: Arc<Shared>) -> DoctorLayer<S> {
        DoctorLayer {
            inner: DoctorCore::new(shared.clone()).with_filter(DoctorFilter::new(shared)),
        }
    }
}

impl<S> Clone for DoctorLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer feeding the same doctor, not yet added to a subscriber (its
    /// per-layer filter gets its own id from the subscriber it is added to).
    fn clone(&self) -> Self {
        DoctorLayer::new(self.inner.inner().shared.clone())
    }
}

impl<S> std::fmt::Debug for DoctorLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoctorLayer")
            .field("core", self.inner.inner())
            .field("filter", self.inner.filter())
            .finish()
    }
}

/// The doctor's layer proper, behind its per-layer filter.
#[derive(Debug)]
pub(crate) struct DoctorCore {
    shared: Arc<Shared>,
    /// The nodes of this layer's spans (this subscriber's: span ids are
    /// per registry), where the registry's extensions are the fallback.
    nodes: node_table::NodeTable,
    // A copy of the shared clock, so the hot path reads it without
    // following the Arc.
    clock: quanta::Clock,
    threshold_ns: u64,
    owner: u64,
    /// This layer is the outermost of `Layered<DoctorLayer, Registry>` in
    /// the dispatch it was registered with: nothing runs between the
    /// registry's `new_span` and this layer's `on_new_span`, so a new
    /// span's parent is the one its attributes name, or the registry's
    /// current span (see [`nodes::open`]).
    direct: AtomicBool,
    /// A span this layer declined (another layer enabled it) has been
    /// entered: the registry may call it current where the thread's stack,
    /// which skips it, names a span below it (see [`nodes::open`]).
    declined_entered: AtomicBool,
}

impl Drop for DoctorCore {
    fn drop(&mut self) {
        self.shared.layers.fetch_sub(1, Relaxed);
    }
}

/// The doctor of `dispatch`, if its layer is in it.
pub(crate) fn doctor_of(dispatch: &tracing::Dispatch) -> Option<Arc<Shared>> {
    dispatch
        .downcast_ref::<DoctorCore>()
        .map(|core| core.shared.clone())
}

impl DoctorCore {
    fn new(shared: Arc<Shared>) -> DoctorCore {
        shared.layers.fetch_add(1, Relaxed);
        DoctorCore {
            clock: shared.clock.clone(),
            threshold_ns: shared.ns.blocking_poll_threshold,
            owner: shared.id,
            direct: AtomicBool::new(false),
            declined_entered: AtomicBool::new(false),
            nodes: Default::default(),
            shared,
        }
    }

    /// Whether this thread's stack of entered spans names the span the
    /// registry calls current (`ThreadState::registry_current`, where it
    /// mirrors the registry's stack): directly on the registry, the only
    /// layer feeding the doctor's per-thread state, and no span it declined
    /// ever entered (its stack skips those).
    #[inline]
    fn stack_names_current(&self) -> bool {
        self.direct.load(Relaxed)
            && self.shared.layers.load(Relaxed) == 1
            && !self.declined_entered.load(Relaxed)
    }

    fn site_of_callsite(&self, meta: &'static Metadata<'static>) -> u32 {
        self.shared
            .sites
            .intern(Sites::callsite_key(meta), || SiteMeta {
                span: meta.name().to_string(),
                target: meta.target().to_string(),
                // The same label on every build machine: a dependency's span
                // (tower-http's `request`) reads `crate-version/src/..`, not
                // the absolute path of the build's cargo home.
                location: match (meta.file(), meta.line()) {
                    (Some(f), Some(l)) => format!("{}:{l}", stable_path(f, &[])),
                    (Some(f), None) => stable_path(f, &[]),
                    _ => "unknown".to_string(),
                },
            })
    }

    /// For tokio's task spans (built with `--cfg tokio_unstable`), the site
    /// of their spawn location, which they carry in fields.
    fn site_of_task_span(&self, attrs: &Attributes<'_>) -> Option<u32> {
        let meta = attrs.metadata();
        if !crate::state::sites::is_task_span(meta) {
            return None;
        }
        let mut loc = task_span::Location::default();
        attrs.record(&mut loc);
        let file = loc.file()?;
        let key = Sites::location_key(file, loc.line, loc.col);
        let site = self.shared.sites.intern(key, || SiteMeta {
            span: "runtime.spawn".to_string(),
            target: meta.target().to_string(),
            location: format!("{}:{}", stable_path(file, &[]), loc.line),
        });
        self.shared.sites.note_spawn_file(site, file);
        Some(site)
    }

    #[cold]
    fn site_of_existing<S>(&self, id: &Id, ctx: &Context<'_, S>) -> u32
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // A node means the doctor enabled the span.
        if let Some(site) = self.nodes.with(id.into_u64(), |n| n.site) {
            return site;
        }
        let Some(span) = ctx.span(id) else {
            return OTHER;
        };
        if !filter::wants(&self.shared.config, span.metadata()) {
            // Another layer enabled it; the doctor declined it (see
            // `DoctorLayer::on_enter`): not timed, as if it did not exist.
            // Every thread's first enter of it comes here, before it can
            // be any span's parent on that thread.
            self.declined_entered.store(true, Relaxed);
            return IGNORED;
        }
        if let Some(node) = span.extensions().get::<span_node::SpanNode>() {
            return node.site;
        }
        self.site_of_callsite(span.metadata())
    }

    fn record_slow_poll(&self, slow: SlowPoll) {
        record_slow_poll(&self.shared, slow);
    }
}

/// Counts a finished poll that crossed the blocking threshold at its
/// blamed site: the slow path of every way a poll is marked (spans,
/// tokio's poll hooks).
#[cold]
pub(crate) fn record_slow_poll(shared: &Shared, slow: SlowPoll) {
    let b = &shared.sites.get(slow.site).blocking;
    if b.own.load(Relaxed) {
        return;
    }
    b.polls.fetch_add(1, Relaxed);
    b.total_ns.fetch_add(slow.elapsed_ns, Relaxed);
    b.self_ns.fetch_add(slow.self_ns, Relaxed);
    b.worst_ns.fetch_max(slow.elapsed_ns, Relaxed);
}

impl<S> Layer<S> for DoctorCore
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // Called only for callsites the filter enabled; the filter's answer
        // is the one that counts.
        if meta.is_span() {
            self.site_of_callsite(meta);
        }
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let callsite = self.site_of_callsite(attrs.metadata());
        // What the callsite is, worked out once per callsite.
        let class = nodes::class_of(self, callsite, attrs.metadata());
        // A span's site is its static callsite, except for tokio's task
        // spans and the doctor's own held scopes, which carry their site
        // (spawn or acquisition location) in field values.
        let special = if class.task_span {
            self.site_of_task_span(attrs).map(|site| (site, false))
        } else if class.held_scope {
            nodes::site_of_held_span(&self.shared, attrs).map(|site| (site, true))
        } else {
            None
        };
        let site = special.map_or(callsite, |s| s.0);
        if alloc_hooks::active() {
            alloc_hooks::on_new_span(site, attrs, id, &ctx);
        }
        let held_helper = special.is_some_and(|s| s.1);
        // Task spans and held scopes keep a node whatever the setting: their
        // site lives there.
        if self.shared.config.span_nodes || special.is_some() {
            nodes::open(self, site, class, held_helper, attrs, id, &ctx);
        }
    }

    fn on_record(&self, id: &Id, values: &tracing_core::span::Record<'_>, ctx: Context<'_, S>) {
        alloc_hooks::on_record(id, values, &ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        alloc_hooks::on_close(&self.shared, &id, &ctx);
        nodes::close(self, &id, &ctx);
    }

    #[inline]
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let now = self.clock.raw();
        with_state(self.owner, &self.shared, |st| {
            st.enter(id.into_u64(), now, || self.site_of_existing(id, &ctx))
        });
        alloc_hooks::on_enter(id, &ctx);
    }

    #[inline]
    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        alloc_hooks::on_exit(id);
        let now = self.clock.raw();
        let slow = with_state(self.owner, &self.shared, |st| {
            st.exit(id.into_u64(), now, &self.clock, self.threshold_ns)
        });
        if let Some(Some(slow)) = slow {
            self.record_slow_poll(slow);
        }
    }
}

impl<S> Layer<S> for DoctorLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
        // Directly on the registry, and this very layer (not another
        // doctor's layer of the same type) is the `Layered`'s layer: its
        // `new_span` calls the registry's, then this layer's `on_new_span`,
        // with nothing in between that could enter or exit a span.
        let core = self.inner.inner();
        let direct = TypeId::of::<S>() == TypeId::of::<Registry>()
            && subscriber
                .downcast_ref::<Layered<DoctorLayer<S>, S>>()
                .and_then(|l| (l as &dyn Subscriber).downcast_ref::<DoctorCore>())
                .is_some_and(|c| std::ptr::eq(c, core));
        core.direct.store(direct, Relaxed);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(meta)
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(meta, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &tracing_core::span::Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(id, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &tracing_core::Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &tracing_core::Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    /// Straight to the core, past `Filtered`'s check, which would look the
    /// span up in the registry on every poll: the core's per-thread cache
    /// answers from the span id, and resolves a span the doctor declined
    /// (enabled for another layer) as ignored the first time it sees it.
    #[inline]
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.inner().on_enter(id, ctx);
    }

    /// As [`on_enter`](Self::on_enter): a declined span was never pushed on
    /// the thread's stack, so its exit finds nothing to pop.
    #[inline]
    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.inner().on_exit(id, ctx);
    }

    /// Straight to the core too, saving `Filtered`'s registry lookup per
    /// span: the core finds no node on a span the doctor declined, and a
    /// node's close reports to the parent recorded when it opened.
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.inner().on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    #[doc(hidden)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: forwarded to the wrapped layer, which upholds the
        // contract for its own types (the core, the filter and the marker
        // by which `Layered` knows a per-layer filter is in the stack).
        unsafe { self.inner.downcast_raw(id) }
    }
}

mod task_span {
    use std::fmt;
    use tracing_core::field::{Field, Visit};

    const MAX_FILE: usize = 192;

    /// The spawn location tokio records on `runtime.spawn` spans, copied
    /// into a fixed buffer: creating a task span allocates nothing here.
    pub(super) struct Location {
        buf: [u8; MAX_FILE],
        len: usize,
        has_file: bool,
        pub(super) line: u64,
        pub(super) col: u64,
    }

    impl Default for Location {
        fn default() -> Self {
            Location {
                buf: [0; MAX_FILE],
                len: 0,
                has_file: false,
                line: 0,
                col: 0,
            }
        }
    }

    impl Location {
        pub(super) fn file(&self) -> Option<&str> {
            if !self.has_file {
                return None;
            }
            // Truncation may split a UTF-8 sequence; keep the valid prefix.
            let bytes = &self.buf[..self.len];
            Some(match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
            })
        }
    }

    impl Visit for Location {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "loc.file" {
                let n = value.len().min(MAX_FILE);
                self.buf[..n].copy_from_slice(&value.as_bytes()[..n]);
                self.len = n;
                self.has_file = true;
            }
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            match field.name() {
                "loc.line" => self.line = value,
                "loc.col" => self.col = value,
                _ => {}
            }
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.record_u64(field, value.max(0) as u64)
        }
        fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
    }
}

#[cfg(test)]
mod parent_tests;
