//! The doctor declines DEBUG spans and every event (it reads neither), and
//! declines them for itself only: a layer beside it that enables DEBUG,
//! with its own filter, with a global filter or with none, still gets every
//! DEBUG span and event, in either order of the layers. A DEBUG span that
//! only the other layer wants is invisible to the doctor: its blocking poll
//! is blamed on the INFO span around it.
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind};
use tracing::{Instrument, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// What an `fmt` layer would print: the spans created and events emitted
/// that reach it, by name and level.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl Capture {
    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::Id,
        _: Context<'_, S>,
    ) {
        let m = attrs.metadata();
        self.0
            .lock()
            .unwrap()
            .push(format!("span {} {}", m.level(), m.name()));
    }
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let m = event.metadata();
        self.0.lock().unwrap().push(format!("event {}", m.level()));
    }
}

fn doctor() -> Doctor {
    Doctor::builder().no_endpoint().build().unwrap()
}

/// Emits a DEBUG span with a DEBUG event inside, and a TRACE span with a
/// TRACE event inside.
fn emit() {
    tracing::debug_span!("debug_work").in_scope(|| tracing::debug!("debug event"));
    tracing::trace_span!("trace_work").in_scope(|| tracing::trace!("trace event"));
}

fn debug_only() -> Vec<String> {
    vec![
        "span DEBUG debug_work".to_string(),
        "event DEBUG".to_string(),
    ]
}

fn everything() -> Vec<String> {
    let mut all = debug_only();
    all.extend([
        "span TRACE trace_work".to_string(),
        "event TRACE".to_string(),
    ]);
    all
}

#[test]
fn a_layer_with_its_own_debug_filter_gets_debug_spans_and_events() {
    let capture = Capture::default();
    let doctor = doctor();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone().with_filter(LevelFilter::DEBUG))
        .with(doctor.layer());
    tracing::subscriber::with_default(subscriber, emit);
    assert_eq!(capture.seen(), debug_only());
}

#[test]
fn the_order_of_the_layers_does_not_matter() {
    let capture = Capture::default();
    let doctor = doctor();
    let subscriber = tracing_subscriber::registry()
        .with(doctor.layer())
        .with(capture.clone().with_filter(LevelFilter::DEBUG));
    tracing::subscriber::with_default(subscriber, emit);
    assert_eq!(capture.seen(), debug_only());
}

#[test]
fn a_layer_without_a_filter_gets_everything() {
    let capture = Capture::default();
    let doctor = doctor();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone())
        .with(doctor.layer());
    tracing::subscriber::with_default(subscriber, emit);
    assert_eq!(capture.seen(), everything());
}

#[test]
fn a_layer_under_a_global_debug_filter_gets_debug_spans_and_events() {
    let capture = Capture::default();
    let doctor = doctor();
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::DEBUG)
        .with(capture.clone())
        .with(doctor.layer());
    tracing::subscriber::with_default(subscriber, emit);
    assert_eq!(capture.seen(), debug_only());
}

/// A runtime whose threads all use `dispatch`.
fn runtime(dispatch: tracing::Dispatch) -> (tokio::runtime::Runtime, tracing::Dispatch) {
    let for_threads = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .unwrap();
    (rt, dispatch)
}

/// A 40 ms blocking poll in a DEBUG span inside an INFO span, on a worker.
fn block_in_a_debug_span(doctor: &Doctor, capture: &Capture) {
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone().with_filter(LevelFilter::DEBUG))
        .with(doctor.layer());
    let (rt, dispatch) = runtime(tracing::Dispatch::new(subscriber));
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            tokio::spawn(
                async {
                    async { support::spin_for(Duration::from_millis(40)) }
                        .instrument(tracing::debug_span!("debug_inner"))
                        .await
                }
                .instrument(tracing::info_span!("info_outer")),
            )
            .await
            .unwrap();
        })
    });
}

#[test]
fn a_debug_span_only_another_layer_wants_is_invisible_to_the_doctor() {
    let capture = Capture::default();
    let doctor = doctor();
    block_in_a_debug_span(&doctor, &capture);
    assert!(
        capture
            .seen()
            .contains(&"span DEBUG debug_inner".to_string()),
        "the other layer got the DEBUG span: {:?}",
        capture.seen()
    );
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "info_outer");
}

#[test]
fn span_level_debug_lets_the_doctor_blame_the_debug_span() {
    let capture = Capture::default();
    let doctor = Doctor::builder()
        .no_endpoint()
        .span_level(Level::DEBUG)
        .build()
        .unwrap();
    block_in_a_debug_span(&doctor, &capture);
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "debug_inner");
}
