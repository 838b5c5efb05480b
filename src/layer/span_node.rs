//! Per-span state: what the shape detectors (serial awaits, fan-out,
//! held resources, deadlines) need to know about one span instance.
//!
//! A node is created when a span is created and freed when it closes, so
//! memory is O(live spans). It is written on span creation and close only,
//! never on enter or exit: the per-poll numbers a node needs (busy time,
//! number of polls) are kept by the thread that runs the span (see
//! [`thread_state`](super::thread_state)) and read once, at close.
//!
//! Children report to their parent's node under the parent's own mutex: a
//! lock per span instance, taken on child creation and close, never shared
//! between unrelated spans.

use std::fmt;
use std::sync::Mutex;

use crate::fields::{DEADLINE_FIELDS, SEQUENTIAL_FIELD};
use crate::layer::thread_state::PollMark;
use tracing_core::field::{Field, Visit};

/// What the field values of one span instance say. Values are read only for
/// the fields named above and never stored: only the conclusions are.
#[derive(Debug, Default)]
pub(crate) struct FieldFacts {
    pub(crate) otel_client: Option<bool>,
    pub(crate) timeout_ns: Option<u64>,
    pub(crate) sequential_intended: bool,
}

impl Visit for FieldFacts {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            // The spelling OpenTelemetry's conventions use, compared first:
            // a byte compare, where the case-blind one lowers each letter.
            "otel.kind" => {
                self.otel_client = Some(value == "client" || value.eq_ignore_ascii_case("client"))
            }
            SEQUENTIAL_FIELD => self.sequential_intended = value == "intended",
            n if DEADLINE_FIELDS.contains(&n) => {
                let ms_default = n.ends_with("_ms");
                self.timeout_ns = parse_timeout(value, ms_default);
            }
            _ => {}
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if DEADLINE_FIELDS.contains(&field.name()) {
            // Bare numbers are milliseconds, the unit these fields carry by
            // convention (`timeout_ms`, and most `timeout` fields).
            self.timeout_ns = Some(value.saturating_mul(1_000_000));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if value >= 0 {
            self.record_u64(field, value as u64)
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if DEADLINE_FIELDS.contains(&field.name()) && value.is_finite() && value >= 0.0 {
            self.timeout_ns = Some((value * 1e6).min(u64::MAX as f64) as u64);
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == SEQUENTIAL_FIELD {
            self.sequential_intended = value;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `otel.kind = ?SpanKind::Client` and `timeout = ?dur` arrive here.
        let name = field.name();
        if name == "otel.kind" || name == SEQUENTIAL_FIELD || DEADLINE_FIELDS.contains(&name) {
            let mut buf = FixedBuf::<64>::default();
            let _ = fmt::write(&mut buf, format_args!("{value:?}"));
            let s = buf.as_str().trim_matches('"');
            self.record_str(field, s);
        }
    }
}

/// A `"250ms"`, `"2s"`, `"1.5s"`, `"250"` (milliseconds) or Debug-printed
/// `Duration` value, in nanoseconds: a bare number is milliseconds (the
/// `timeout_ms` convention), anything else goes to the one duration parser.
pub(crate) fn parse_timeout(s: &str, _ms_default: bool) -> Option<u64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<f64>() {
        return (ms.is_finite() && ms >= 0.0).then(|| (ms * 1e6).min(u64::MAX as f64) as u64);
    }
    let d = crate::util::parse_duration(s)?;
    Some(d.as_nanos().min(u64::MAX as u128) as u64)
}

/// A small stack buffer for field values: reading a value never allocates.
/// Longer values are cut at a character boundary.
pub(crate) struct FixedBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        FixedBuf {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> FixedBuf<N> {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    pub(crate) fn set(&mut self, s: &str) {
        self.len = 0;
        let _ = fmt::Write::write_str(self, s);
    }
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        // Only whole characters, so the buffer stays valid UTF-8.
        let n = (0..=n).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The state of one span instance, stored in its registry extensions.
pub(crate) struct SpanNode {
    /// The site every statistic of this span is kept under.
    pub(crate) site: u32,
    /// One of tokio's task spans (`is_task_span`), known at open so the
    /// close needs no metadata.
    pub(crate) task: bool,
    /// Clock ticks (`quanta` raw) at creation.
    pub(crate) opened: u64,
    /// An outbound (client) call (by OpenTelemetry fields or
    /// configuration): where its opening was recorded among its site's
    /// calls in flight.
    pub(crate) call: Option<crate::state::in_flight::Ticket>,
    /// Declared a held resource scope (by field or configured name).
    pub(crate) resource: bool,
    /// `doctor.sequential = "intended"` on this span: its children's order
    /// is deliberate.
    pub(crate) sequential_intended: bool,
    /// Nanoseconds from `opened` to the deadline in scope; `u64::MAX` when
    /// no deadline is in scope.
    pub(crate) deadline_ns: u64,
    /// The hold this span *is*, when it is a resource scope.
    pub(crate) hold: Option<crate::state::held::HoldRef>,
    /// The hold this span was created inside, if any.
    pub(crate) inside_hold: Option<crate::state::held::HoldRef>,
    /// What this span's children did, for the shape detectors.
    pub(crate) children: Mutex<Children>,
    /// The parent this span reported its opening to: the nearest ancestor
    /// the doctor enabled. Kept so the close reports to the same one
    /// without going through the per-layer filter's registry lookup.
    pub(crate) parent: Option<tracing_core::span::Id>,
}

/// What a child reads of its parent's node, beside the parent's
/// [`Children`]: borrowed apart from them, so a node the caller holds
/// exclusively (in its table bucket, or taken out at close) needs no lock
/// on its children.
pub(crate) struct ParentRef<'a> {
    pub(crate) site: u32,
    pub(crate) opened: u64,
    pub(crate) sequential_intended: bool,
    pub(crate) deadline_ns: u64,
    pub(crate) hold: &'a Option<crate::state::held::HoldRef>,
    pub(crate) inside_hold: &'a Option<crate::state::held::HoldRef>,
}

impl SpanNode {
    /// The node as a parent, and its children, from a shared reference:
    /// the children under their lock.
    pub(crate) fn with_children<R>(&self, f: impl FnOnce(ParentRef<'_>, &mut Children) -> R) -> R {
        let mut children = crate::util::lock(&self.children);
        f(
            ParentRef {
                site: self.site,
                opened: self.opened,
                sequential_intended: self.sequential_intended,
                deadline_ns: self.deadline_ns,
                hold: &self.hold,
                inside_hold: &self.inside_hold,
            },
            &mut children,
        )
    }

    /// As [`with_children`](Self::with_children), from an exclusive
    /// reference: no lock.
    pub(crate) fn with_children_mut<R>(
        &mut self,
        f: impl FnOnce(ParentRef<'_>, &mut Children) -> R,
    ) -> R {
        let children = self.children.get_mut().unwrap_or_else(|e| e.into_inner());
        f(
            ParentRef {
                site: self.site,
                opened: self.opened,
                sequential_intended: self.sequential_intended,
                deadline_ns: self.deadline_ns,
                hold: &self.hold,
                inside_hold: &self.inside_hold,
            },
            children,
        )
    }
}

/// Per-parent bookkeeping of children, under the parent's own lock.
#[derive(Default)]
pub(crate) struct Children {
    /// Serial chains and concurrent fan-out, per child site.
    pub(crate) shape: crate::layer::shape::ChildShape,
    /// Outbound children of a join: which one set the parent's latency.
    pub(crate) join: crate::state::joins::JoinTrack,
    /// Holds made by [`held`](crate::held) while this span was current and
    /// not yet released: they cover the children opened meanwhile. A
    /// release takes out the last entry equal to its hold (equal holds are
    /// interchangeable).
    pub(crate) holds: Vec<crate::state::held::HoldRef>,
}

/// What a closing span hands to its parent and to the detectors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed {
    pub(crate) site: u32,
    pub(crate) closed: u64,
    pub(crate) duration_ns: u64,
    /// Time entered (polled) on the thread that closed it.
    pub(crate) busy_ns: u64,
    /// Times entered on the thread that closed it.
    pub(crate) enters: u32,
    /// The poll it closed in, if it closed inside its parent
    /// (`ThreadState::poll_mark_under`; none: not, as a spawned child
    /// closes in its own task).
    pub(crate) poll: PollMark,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_in_the_usual_forms() {
        assert_eq!(parse_timeout("250", true), Some(250_000_000));
        assert_eq!(parse_timeout("250ms", false), Some(250_000_000));
        assert_eq!(parse_timeout("2s", false), Some(2_000_000_000));
        assert_eq!(parse_timeout("1.5s", false), Some(1_500_000_000));
        assert_eq!(parse_timeout("200us", false), Some(200_000));
        assert_eq!(parse_timeout("soon", false), None);
        assert_eq!(parse_timeout("-1", false), None);
    }

    #[test]
    fn debug_values_are_read_without_allocating() {
        use std::fmt::Write;
        let mut b = FixedBuf::<64>::default();
        write!(b, "{:?}", std::time::Duration::from_millis(250)).unwrap();
        assert_eq!(b.as_str(), "250ms");
        assert_eq!(parse_timeout(b.as_str(), false), Some(250_000_000));
    }
}
