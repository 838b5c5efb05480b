//! A tiny metrics-rs recorder that receives tokio-metrics' runtime metrics.
//!
//! tokio-metrics publishes through metrics-rs, in microseconds and with
//! counters not ending in `_total`. Rather than re-implement each runtime
//! metric, we let its reporter write here, then export each field under the
//! name the metrics table gives it, converted to seconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use super::histogram::POLL_BUCKETS;
use crate::util::lock;

/// Which exported metric a tokio-metrics field feeds: its index in the
/// caller's table and the factor to base units. Supplied by export, which
/// owns metric names, so this floor knows none.
pub(crate) type ResolveField = fn(&str) -> Option<(usize, f64)>;

/// Values as tokio-metrics reported them, plus how to convert them.
#[derive(Debug)]
pub(crate) struct Cell {
    /// Index of the exported metric in export's table.
    pub(crate) metric: usize,
    /// Multiply by this to get base units (1e-6 for microseconds).
    pub(crate) scale: f64,
    pub(crate) counter: AtomicU64,
    pub(crate) gauge_bits: AtomicU64,
    pub(crate) buckets: [AtomicU64; 11],
    pub(crate) sum: AtomicU64,
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.counter.fetch_add(value, Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.counter.fetch_max(value, Relaxed);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.set(f64::from_bits(self.gauge_bits.load(Relaxed)) + value);
    }
    fn decrement(&self, value: f64) {
        self.set(f64::from_bits(self.gauge_bits.load(Relaxed)) - value);
    }
    fn set(&self, value: f64) {
        self.gauge_bits.store(value.to_bits(), Relaxed);
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.record_many(value, 1);
    }
    // tokio-metrics reports its poll-time histogram as (bucket start, count)
    // pairs; add the count at once instead of looping.
    fn record_many(&self, value: f64, count: usize) {
        let secs = value * self.scale;
        let idx = POLL_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(POLL_BUCKETS.len());
        self.buckets[idx].fetch_add(count as u64, Relaxed);
        self.sum
            .fetch_add((secs * 1e9) as u64 * count as u64, Relaxed);
    }
}

/// The recorder tokio-metrics' reporter is built against.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeRecorder {
    cells: Arc<Mutex<Vec<Arc<Cell>>>>,
    resolve: ResolveField,
}

impl RuntimeRecorder {
    pub(crate) fn new(resolve: ResolveField) -> RuntimeRecorder {
        RuntimeRecorder {
            cells: Default::default(),
            resolve,
        }
    }

    fn cell(&self, key: &Key) -> Option<Arc<Cell>> {
        let field = key.name().strip_prefix("tokio_")?;
        let (metric, scale) = (self.resolve)(field)?;
        let mut cells = lock(&self.cells);
        if let Some(c) = cells.iter().find(|c| c.metric == metric) {
            return Some(c.clone());
        }
        let cell = Arc::new(Cell {
            metric,
            scale,
            counter: AtomicU64::new(0),
            gauge_bits: AtomicU64::new(0f64.to_bits()),
            buckets: Default::default(),
            sum: AtomicU64::new(0),
        });
        cells.push(cell.clone());
        Some(cell)
    }

    pub(crate) fn cells(&self) -> Vec<Arc<Cell>> {
        lock(&self.cells).clone()
    }
}

impl Recorder for RuntimeRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.cell(key)
            .map(Counter::from_arc)
            .unwrap_or_else(Counter::noop)
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.cell(key)
            .map(Gauge::from_arc)
            .unwrap_or_else(Gauge::noop)
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.cell(key)
            .map(Histogram::from_arc)
            .unwrap_or_else(Histogram::noop)
    }
}
