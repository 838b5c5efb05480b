//! The cost the doctor must not add: a library's per-request DEBUG span and
//! its DEBUG events (tower-http's `TraceLayer`), which the service's own
//! filter has off, stay uncreated with the doctor's layer in the
//! subscriber. One test in this file: tracing caches a callsite's interest
//! over every subscriber alive, so another test's subscriber could turn it
//! on here.
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Counts the spans created and events emitted that reach the registry's
/// layers: it sees everything the registry makes, wanted or not.
#[derive(Clone, Default)]
struct Count {
    spans: Arc<AtomicUsize>,
    events: Arc<AtomicUsize>,
}

impl<S: Subscriber> Layer<S> for Count {
    fn on_new_span(&self, _: &tracing::span::Attributes<'_>, _: &tracing::Id, _: Context<'_, S>) {
        self.spans.fetch_add(1, Relaxed);
    }
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        self.events.fetch_add(1, Relaxed);
    }
}

/// What the `Count` layer sees when it is given a filter that turns
/// everything off, so only the other layers decide what exists; the
/// registry's own span count says what was created.
#[test]
fn a_request_span_at_debug_and_its_events_are_never_created() {
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .unwrap();
    let fmt_like = Count::default();
    let subscriber = tracing_subscriber::registry()
        .with(fmt_like.clone().with_filter(LevelFilter::INFO))
        .with(doctor.layer());
    let mut created = 0;
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..100 {
            let request = tracing::debug_span!("request", method = "GET", uri = "/");
            created += usize::from(!request.is_disabled());
            request.in_scope(|| {
                tracing::debug!("started processing request");
                let handler = tracing::info_span!("handler");
                assert!(!handler.is_disabled(), "an INFO span is the doctor's");
                handler.in_scope(|| {});
                tracing::debug!("finished processing request");
            });
        }
    });
    assert_eq!(created, 0, "DEBUG request spans were created");
    assert_eq!(fmt_like.spans.load(Relaxed), 100, "only the INFO spans");
    assert_eq!(
        fmt_like.events.load(Relaxed),
        0,
        "no DEBUG event reached a layer"
    );
}
