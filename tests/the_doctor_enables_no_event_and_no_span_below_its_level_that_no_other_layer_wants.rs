//! The doctor's interest in each kind of callsite, asked of the subscriber
//! the way tracing asks it when a callsite first fires
//! (`Dispatch::register_callsite`): events never; spans at its level
//! (INFO by default, `span_level` or `TOKIO_DOCTOR_SPAN_LEVEL` to widen)
//! and above; its own helpers' spans and tokio's task spans whatever their
//! level; tokio's resource spans not unless asked. With a second layer, a
//! callsite is off only when neither wants it.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_doctor::Doctor;
use tracing::{Dispatch, Level, Metadata, Subscriber};
use tracing_core::Interest;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

type Metas = HashMap<&'static str, &'static Metadata<'static>>;

/// Catches the static metadata of every span and event, by name (events
/// by their level).
#[derive(Clone, Default)]
struct Catch(Arc<Mutex<Metas>>);

impl<S: Subscriber> Layer<S> for Catch {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::Id,
        _: Context<'_, S>,
    ) {
        let m = attrs.metadata();
        self.0.lock().unwrap().insert(m.name(), m);
    }
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let m = event.metadata();
        let name = match *m.level() {
            Level::DEBUG => "debug event",
            Level::INFO => "info event",
            _ => "error event",
        };
        self.0.lock().unwrap().insert(name, m);
    }
}

/// The metadata of one callsite of each kind the test asks about.
fn callsites() -> Metas {
    let catch = Catch::default();
    let all = tracing_subscriber::registry().with(catch.clone());
    tracing::subscriber::with_default(all, || {
        let _ = tracing::info_span!("info span");
        let _ = tracing::warn_span!("warn span");
        let _ = tracing::debug_span!("debug span");
        let _ = tracing::trace_span!("trace span");
        tracing::debug!("debug event");
        tracing::info!("info event");
        tracing::error!("error event");
        // `held()` makes no span; a span of its target is a held scope
        // all the same, whatever its level.
        let _ = tracing::trace_span!(
            target: "tokio_doctor::held",
            "held",
            loc.file = "src/orders.rs",
            loc.line = 7u32,
        );
        let _ = tracing::trace_span!(
            target: "tokio::task",
            "runtime.spawn",
            kind = "task",
            loc.file = "src/jobs.rs",
            loc.line = 10u32,
            loc.col = 5u32,
        );
        let _ = tracing::trace_span!(target: "runtime::resource", "runtime.resource");
        let _ = tracing::debug_span!("debug resource", doctor.resource = "pool");
        let _ = tracing::debug_span!("debug sequential", doctor.sequential = "intended");
        let _ = tracing::debug_span!("fetch_profile");
    });
    let metas = catch.0.lock().unwrap().clone();
    assert_eq!(metas.len(), 13, "{:?}", metas.keys());
    metas
}

fn interests(dispatch: &Dispatch, metas: &Metas) -> HashMap<&'static str, &'static str> {
    metas
        .iter()
        .map(|(name, meta)| {
            let i: Interest = dispatch.register_callsite(meta);
            let said = if i.is_always() {
                "always"
            } else if i.is_never() {
                "never"
            } else {
                "sometimes"
            };
            (*name, said)
        })
        .collect()
}

fn alone(doctor: &Doctor) -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(doctor.layer()))
}

#[test]
fn alone_the_doctor_enables_info_spans_and_above_and_its_own_spans_only() {
    let metas = callsites();
    let doctor = Doctor::builder()
        .no_endpoint()
        .outbound_span("fetch_profile")
        .build()
        .unwrap();
    let got = interests(&alone(&doctor), &metas);
    for on in [
        "info span",
        "warn span",
        "held",
        "runtime.spawn",
        "debug resource",
        "debug sequential",
        "fetch_profile",
    ] {
        assert_eq!(got[on], "always", "{on}: {got:?}");
    }
    for off in [
        "debug span",
        "trace span",
        "debug event",
        "info event",
        "error event",
        "runtime.resource",
    ] {
        assert_eq!(got[off], "never", "{off}: {got:?}");
    }
}

#[test]
fn span_level_widens_what_the_doctor_enables_to_that_level() {
    let metas = callsites();
    let debug = Doctor::builder()
        .no_endpoint()
        .span_level(Level::DEBUG)
        .build()
        .unwrap();
    let got = interests(&alone(&debug), &metas);
    assert_eq!(got["debug span"], "always", "{got:?}");
    assert_eq!(got["trace span"], "never", "{got:?}");
    assert_eq!(got["debug event"], "never", "{got:?}");
    // Narrowed to ERROR, its helpers and tokio's task spans stay on.
    let error = Doctor::builder()
        .no_endpoint()
        .span_level(Level::ERROR)
        .build()
        .unwrap();
    let got = interests(&alone(&error), &metas);
    assert_eq!(got["warn span"], "never", "{got:?}");
    assert_eq!(got["info span"], "never", "{got:?}");
    assert_eq!(got["held"], "always", "{got:?}");
    assert_eq!(got["runtime.spawn"], "always", "{got:?}");
}

#[test]
fn tokio_resource_spans_are_enabled_only_when_asked_for() {
    let metas = callsites();
    let doctor = Doctor::builder()
        .no_endpoint()
        .ignore_tokio_resource_spans(false)
        .build()
        .unwrap();
    assert_eq!(
        interests(&alone(&doctor), &metas)["runtime.resource"],
        "always"
    );
}

#[test]
fn the_environment_sets_the_span_level_and_a_bad_one_is_named() {
    let metas = callsites();
    std::env::set_var("TOKIO_DOCTOR_SPAN_LEVEL", "trace");
    std::env::set_var("TOKIO_DOCTOR_LISTEN", "off");
    let doctor = Doctor::from_env().unwrap();
    std::env::set_var("TOKIO_DOCTOR_SPAN_LEVEL", "chatty");
    let err = Doctor::from_env().unwrap_err().to_string();
    std::env::remove_var("TOKIO_DOCTOR_SPAN_LEVEL");
    assert!(
        err.contains("TOKIO_DOCTOR_SPAN_LEVEL") && err.contains("\"chatty\""),
        "{err}"
    );
    let got = interests(&alone(&doctor), &metas);
    assert_eq!(got["trace span"], "always", "{got:?}");
    assert_eq!(got["debug event"], "never", "{got:?}");
}

#[test]
fn beside_another_layer_a_callsite_is_off_only_when_neither_wants_it() {
    let metas = callsites();
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    // An fmt layer at INFO, with its own filter, as the README advises.
    let info = Dispatch::new(
        tracing_subscriber::registry()
            .with(Catch::default().with_filter(LevelFilter::INFO))
            .with(doctor.layer()),
    );
    let got = interests(&info, &metas);
    assert_eq!(got["debug span"], "never", "{got:?}");
    assert_eq!(got["debug event"], "never", "{got:?}");
    assert_ne!(got["info event"], "never", "{got:?}");
    assert_ne!(got["info span"], "never", "{got:?}");
    // The same layer at DEBUG: DEBUG spans and events are on (for it).
    let debug = Dispatch::new(
        tracing_subscriber::registry()
            .with(Catch::default().with_filter(LevelFilter::DEBUG))
            .with(doctor.layer()),
    );
    let got = interests(&debug, &metas);
    assert_ne!(got["debug span"], "never", "{got:?}");
    assert_ne!(got["debug event"], "never", "{got:?}");
    assert_eq!(got["trace span"], "never", "{got:?}");
}
