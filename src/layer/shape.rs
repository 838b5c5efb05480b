//! The shape of concurrency under one parent span: serial chains of
//! siblings and concurrent fan-out (issue 4 fills this in).

use crate::layer::span_node::Closed;

/// Under the parent's lock: what its children of each site did.
#[derive(Debug, Default)]
pub(crate) struct ChildShape {}

impl ChildShape {
    /// A child of `site` opened at `now` (clock ticks).
    pub(crate) fn child_opened(&mut self, _site: u32, _now: u64) {}

    /// A child closed.
    pub(crate) fn child_closed(&mut self, _closed: &Closed) {}
}

/// Per child site: what the shape detectors have seen of it.
#[derive(Debug, Default)]
pub(crate) struct ShapeStats {}
