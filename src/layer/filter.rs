//! Which callsites the doctor enables: the per-layer filter of
//! [`DoctorLayer`](super::DoctorLayer).
//!
//! The doctor reads spans only, never events, and of spans only those at
//! the configured level or above plus its own helpers'. It declines the rest
//! through a per-layer filter (`tracing_subscriber::filter::Filtered`): a
//! callsite it declines stays on for the service's other layers, and is off
//! only when every layer declines it. A plain layer's `Interest::never()`
//! would turn the callsite off for every layer.

use std::sync::Arc;

use tracing_core::{Interest, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};

use super::nodes::HELD_TARGET;
use crate::config::Config;
use crate::fields::{RESOURCE_FIELD, SEQUENTIAL_FIELD};
use crate::state::Shared;

/// The doctor's per-layer filter. Its answer depends on the callsite's
/// static metadata only, so it is the same whenever it is asked, and the
/// layer can ask it again (see [`wants`]) where `Filtered` does not.
#[derive(Clone)]
pub(crate) struct DoctorFilter {
    shared: Arc<Shared>,
}

impl DoctorFilter {
    pub(crate) fn new(shared: Arc<Shared>) -> DoctorFilter {
        DoctorFilter { shared }
    }
}

impl std::fmt::Debug for DoctorFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoctorFilter")
            .field("span_level", &self.shared.config.span_level)
            .finish()
    }
}

impl<S: Subscriber> Filter<S> for DoctorFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        wants(&self.shared.config, meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if wants(&self.shared.config, meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    // No level hint: tokio's task spans, which the doctor always wants, are
    // TRACE, so a hint could say nothing the callsite answers do not.
}

/// Whether the doctor uses spans of this callsite. Events: never.
pub(crate) fn wants(c: &Config, meta: &Metadata<'_>) -> bool {
    if !meta.is_span() {
        return false;
    }
    if is_tokio_resource(meta) {
        // tokio's resource and waker instrumentation (tokio_unstable +
        // tracing feature) fires on every timer and waker operation; it
        // would cost more than everything else we do.
        return !c.ignore_tokio_resource_spans;
    }
    if *meta.level() <= c.span_level {
        return true;
    }
    // Below the level: only the spans that exist for the doctor, whatever
    // their level.
    is_task_span(meta)
        || meta.target() == HELD_TARGET
        || meta.fields().field(RESOURCE_FIELD).is_some()
        || meta.fields().field(SEQUENTIAL_FIELD).is_some()
        || c.outbound_span_names.iter().any(|n| n == meta.name())
        || c.resource_span_names.iter().any(|n| n == meta.name())
}

/// tokio's task spans (`--cfg tokio_unstable`), TRACE level: the doctor
/// times tasks and counts them per spawn site with them.
fn is_task_span(meta: &Metadata<'_>) -> bool {
    meta.name() == "runtime.spawn" && meta.target().starts_with("tokio::task")
}

fn is_tokio_resource(meta: &Metadata<'_>) -> bool {
    let t = meta.target();
    // The async-op spans (`runtime.resource.async_op` and its `.poll`,
    // made on every semaphore acquire, sleep, ...) have tokio's module
    // path as their target: match them by name.
    t.starts_with("runtime::resource")
        || t == "tokio::task::waker"
        || meta.name().starts_with("runtime.resource")
}
