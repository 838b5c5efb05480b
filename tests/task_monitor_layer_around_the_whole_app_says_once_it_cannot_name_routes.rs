//! `TaskMonitorLayer` applied around the whole axum app (what
//! `tower::ServiceBuilder::new().layer(..).service(app)` builds) sees each
//! request before the router matched it, and axum puts the matched path on
//! no response, so every request is `unmatched`. The layer says so once in
//! the log and in the report's notes (on `/doctor`); applied inside the
//! router it names routes and says nothing, also as the last layer of a
//! stack given to `Router::layer` (where the README puts it beside one).
#![cfg(feature = "axum")]
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio_doctor::{Doctor, TaskMonitorLayer};
use tower_layer::Layer as _;
use tracing_subscriber::prelude::*;

fn get(addr: SocketAddr, path: &str) -> u16 {
    support::http_get_status(addr, path)
}

/// The messages of warnings the doctor logged.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message<'a>(&'a mut String);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    *self.0 = format!("{v:?}");
                }
            }
        }
        let meta = e.metadata();
        if meta.target() == "tokio_doctor" && *meta.level() == tracing::Level::WARN {
            let mut m = String::new();
            e.record(&mut Message(&mut m));
            self.0.lock().unwrap().push(m);
        }
    }
}

fn router() -> axum::Router {
    axum::Router::new()
        .route("/users/{id}", axum::routing::get(|| async { "user" }))
        .route("/health", axum::routing::get(|| async { "ok" }))
}

/// Where the layer goes.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    /// Around the whole app, outside the router.
    Outside,
    /// In a `Router::layer` call of its own.
    OwnRouterLayer,
    /// The last (innermost) layer of a stack given to `Router::layer`, as
    /// `ServiceBuilder::new().layer(a).layer(b).layer(layer)` builds it.
    LastOfAStack,
}

/// Serves `app` on a runtime whose threads log to `warnings` beside the
/// doctor, sends 100 requests and returns the route labels exported.
fn run(doctor: &Doctor, warnings: &Warnings, placement: Placement) -> String {
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(doctor.layer())
            .with(warnings.clone()),
    );
    let for_threads = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            if placement == Placement::Outside {
                // As `ServiceBuilder::new().layer(layer).service(app)` builds it.
                let app = TaskMonitorLayer::new(doctor).layer(router());
                tokio::spawn(async move {
                    let make = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
                    axum::serve(listener, make).await.unwrap()
                });
            } else {
                let app = if placement == Placement::LastOfAStack {
                    // `ServiceBuilder` stacks its layers as `Stack`s, the
                    // last one added innermost.
                    let outer = tower_layer::layer_fn(|inner| inner);
                    router().layer(tower_layer::Stack::new(
                        TaskMonitorLayer::new(doctor),
                        outer,
                    ))
                } else {
                    router().layer(TaskMonitorLayer::new(doctor))
                };
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            }
            tokio::task::spawn_blocking(move || {
                for i in 0..50 {
                    assert_eq!(get(addr, &format!("/users/{i}")), 200);
                    assert_eq!(get(addr, "/health"), 200);
                }
            })
            .await
            .unwrap();
        })
    });
    doctor
        .render_prometheus()
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_route_requests_total{"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn around_the_whole_app_every_request_is_unmatched_and_the_log_says_why_once() {
    let doctor = support::doctor();
    let warnings = Warnings::default();
    let labels = run(&doctor, &warnings, Placement::Outside);
    assert_eq!(
        labels, "tokio_doctor_route_requests_total{route=\"unmatched\"} 100",
        "the layer outside the router cannot see the matched path"
    );
    let said: Vec<String> = warnings
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("TaskMonitorLayer"))
        .cloned()
        .collect();
    assert_eq!(said.len(), 1, "said once, not per request: {said:#?}");
    assert!(said[0].contains("Router::layer"), "{}", said[0]);
    // And on /doctor, naming where the layer was made.
    let notes = doctor.report().notes;
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(
        notes[0].contains(file!()) && notes[0].contains("Router::layer"),
        "{}",
        notes[0]
    );
}

#[test]
fn inside_the_router_routes_are_named_and_nothing_is_said() {
    inside_the_router(Placement::OwnRouterLayer);
}

#[test]
fn as_the_last_layer_of_a_stack_routes_are_named_and_nothing_is_said() {
    inside_the_router(Placement::LastOfAStack);
}

fn inside_the_router(placement: Placement) {
    let doctor = support::doctor();
    let warnings = Warnings::default();
    let labels = run(&doctor, &warnings, placement);
    assert!(
        labels.contains("route=\"/users/{id}\"} 50") && labels.contains("route=\"/health\"} 50"),
        "{labels}"
    );
    let said = warnings.0.lock().unwrap();
    assert!(
        !said.iter().any(|m| m.contains("TaskMonitorLayer")),
        "{said:#?}"
    );
    assert!(doctor.report().notes.is_empty());
}
