//! The layer's side of memory attribution: with the `alloc` feature and a
//! [`TrackingAllocator`](crate::alloc::TrackingAllocator) installed, each
//! span instance gets allocation counters that are current while it is
//! entered and folded into its call site when it closes. Without the
//! feature these are empty functions the compiler removes.

#[cfg(feature = "alloc")]
mod imp {
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    use tracing_core::field::{Field, Visit};
    use tracing_core::span::{Attributes, Id, Record};
    use tracing_core::Subscriber;
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    use crate::alloc::{self, AllocBlock};
    use crate::state::Shared;

    /// Extension holding a span instance's counters and its site.
    struct AllocState {
        block: Arc<AllocBlock>,
        site: u32,
    }

    struct Items(Option<u64>);

    impl Visit for Items {
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "items" {
                self.0 = Some(value);
            }
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.record_u64(field, value.max(0) as u64)
        }
        fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
    }

    /// Whether spans need allocation counters: only once a
    /// TrackingAllocator is the global allocator.
    pub(crate) fn active() -> bool {
        alloc::installed()
    }

    pub(crate) fn on_new_span<S>(site: u32, attrs: &Attributes<'_>, id: &Id, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let block = Arc::new(AllocBlock::default());
        if attrs.metadata().fields().field("items").is_some() {
            let mut items = Items(None);
            attrs.record(&mut items);
            if let Some(n) = items.0 {
                block.items.store(n, Relaxed);
            }
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(AllocState { block, site });
        }
    }

    pub(crate) fn on_record<S>(id: &Id, values: &Record<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(span) = ctx.span(id) else { return };
        let block = span
            .extensions()
            .get::<AllocState>()
            .map(|s| s.block.clone());
        if let Some(block) = block {
            let mut items = Items(None);
            values.record(&mut items);
            if let Some(n) = items.0 {
                block.items.store(n, Relaxed);
            }
        }
    }

    pub(crate) fn on_enter<S>(id: &Id, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if !alloc::installed() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let block = span
            .extensions()
            .get::<AllocState>()
            .map(|s| s.block.clone());
        if let Some(block) = block {
            alloc::enter(id.into_u64(), block);
        }
    }

    pub(crate) fn on_exit(id: &Id) {
        if alloc::installed() {
            alloc::exit(id.into_u64());
        }
    }

    pub(crate) fn on_close<S>(shared: &Shared, id: &Id, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(span) = ctx.span(id) else { return };
        let Some(state) = span.extensions_mut().remove::<AllocState>() else {
            return;
        };
        shared
            .sites
            .get(state.site)
            .alloc
            .fold(&state.block, shared.config.materialization_bytes);
    }
}

#[cfg(not(feature = "alloc"))]
mod imp {
    use tracing_core::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::Context;

    use crate::state::Shared;

    #[inline(always)]
    pub(crate) fn active() -> bool {
        false
    }
    #[inline(always)]
    pub(crate) fn on_new_span<S>(_: u32, _: &Attributes<'_>, _: &Id, _: &Context<'_, S>) {}
    #[inline(always)]
    pub(crate) fn on_record<S>(_: &Id, _: &Record<'_>, _: &Context<'_, S>) {}
    #[inline(always)]
    pub(crate) fn on_enter<S>(_: &Id, _: &Context<'_, S>) {}
    #[inline(always)]
    pub(crate) fn on_exit(_: &Id) {}
    #[inline(always)]
    pub(crate) fn on_close<S>(_: &Shared, _: &Id, _: &Context<'_, S>) {}
}

pub(crate) use imp::*;
