//! The tower middleware: a task monitor per route.

use std::borrow::Cow;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::future::{Judge, RouteFuture};
use crate::state::Shared;

/// What a route namer sees of a request.
#[derive(Debug)]
pub struct RouteInfo<'a> {
    /// The request method.
    pub method: &'a http::Method,
    /// The request URI. Never use it whole as a route name: its
    /// cardinality is unbounded (the label cap would fold it into `other`).
    pub uri: &'a http::Uri,
    /// The request extensions (axum's `MatchedPath` lives here).
    pub extensions: &'a http::Extensions,
}

type Namer = Arc<dyn Fn(&RouteInfo<'_>) -> Option<Cow<'static, str>> + Send + Sync>;

/// A tower [`Layer`] that wraps each request's future in a task monitor
/// (tokio-metrics' `TaskMonitor` model) chosen by route, and exports per-route
/// executor health as `tokio_doctor_route_*{route}`. Requires the
/// `middleware` feature.
///
/// The route is axum's matched path template (with the `axum` feature),
/// else the name from [`route_fn`](Self::route_fn), else `unmatched`; at
/// most the doctor's label cap of routes, then `other`. The slow-poll
/// threshold is the doctor's blocking threshold, so the route view and the
/// span view agree.
///
/// # Examples
/// ```
/// # #[cfg(feature = "axum")] {
/// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
/// let app: axum::Router = axum::Router::new()
///     .route("/users/{id}", axum::routing::get(|| async { "user" }))
///     .layer(tokio_doctor::TaskMonitorLayer::new(&doctor));
/// # }
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
///
/// A router that already has a stack of middleware (a
/// `tower::ServiceBuilder` given to `Router::layer`) takes this layer as
/// that stack's last `.layer(..)`, not in a `Router::layer` call of its
/// own: axum boxes every route again for each call, which costs a request
/// about as much as this layer does (docs/overhead.md, "Instructions per
/// HTTP request").
///
/// Applied around the whole app (a `tower::ServiceBuilder` outside an axum
/// router) the layer sees each request before routing, when no matched
/// path exists yet, and axum puts it on no response: every request is
/// `unmatched`. The layer says so once, in the log (target `tokio_doctor`)
/// and in the report's notes on `/doctor`, if none of its first requests
/// had a name.
#[derive(Clone)]
pub struct TaskMonitorLayer {
    // One `Arc`: axum clones the service around a route's handler for
    // every request, so what the service holds is cloned per request.
    state: Arc<LayerState>,
}

/// What a layer, its clones and their services share.
struct LayerState {
    shared: Arc<Shared>,
    namer: Option<Namer>,
    location: &'static Location<'static>,
    placement: Placement,
}

/// Requests a layer looks at before deciding whether it can name routes.
const PLACEMENT_REQUESTS: u32 = 32;

/// Whether a layer (and its clones) named any of its first requests.
#[derive(Debug, Default)]
struct Placement {
    unnamed: AtomicU32,
    /// Set once decided; from then on `call` reads this flag only.
    decided: AtomicBool,
}

impl Placement {
    /// Notes one request's route; says once (in the log and on the
    /// report) if the first ones had none.
    #[inline]
    fn note(&self, named: bool, location: &'static Location<'static>, shared: &Shared) {
        if !self.decided.load(Relaxed) {
            self.undecided(named, location, shared);
        }
    }

    /// [`note`](Self::note) for the first requests only.
    #[cold]
    #[inline(never)]
    fn undecided(&self, named: bool, location: &'static Location<'static>, shared: &Shared) {
        if named {
            self.decided.store(true, Relaxed);
            return;
        }
        if self.unnamed.fetch_add(1, Relaxed) + 1 == PLACEMENT_REQUESTS {
            self.decided.store(true, Relaxed);
            let at = format!("{}:{}", location.file(), location.line());
            shared.routes.note_blind_layer(at.clone());
            tracing::warn!(
                target: "tokio_doctor",
                location = %at,
                "TaskMonitorLayer named none of its first {PLACEMENT_REQUESTS} requests, so every \
                 request is `unmatched` and a blocking route is diluted by the healthy ones: \
                 behind axum apply it with Router::layer (inside the router, where the matched \
                 path is known), not around the whole app; elsewhere give it a route_fn"
            );
        }
    }
}

impl std::fmt::Debug for TaskMonitorLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskMonitorLayer")
            .field("location", &self.state.location)
            .finish()
    }
}

impl TaskMonitorLayer {
    /// Monitors requests for `doctor`; findings name the caller's
    /// `file:line` as the place the middleware was installed.
    #[track_caller]
    pub fn new(doctor: &crate::Doctor) -> Self {
        TaskMonitorLayer {
            state: Arc::new(LayerState {
                shared: doctor.shared.clone(),
                namer: None,
                location: Location::caller(),
                placement: Placement::default(),
            }),
        }
    }

    /// Names routes with `f` when no matched path is known (plain hyper or
    /// tower services). Return a template such as `"/users/{id}"`, not the
    /// raw path; `None` counts as `unmatched`.
    ///
    /// # Examples
    /// ```
    /// # let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
    /// let layer = tokio_doctor::TaskMonitorLayer::new(&doctor).route_fn(|req| {
    ///     Some(if req.uri.path().starts_with("/api/") { "api".into() } else { "static".into() })
    /// });
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn route_fn(
        mut self,
        f: impl Fn(&RouteInfo<'_>) -> Option<Cow<'static, str>> + Send + Sync + 'static,
    ) -> Self {
        let namer: Namer = Arc::new(f);
        match Arc::get_mut(&mut self.state) {
            Some(state) => state.namer = Some(namer),
            // A clone is out: this layer, naming differently, becomes a
            // layer of its own.
            None => {
                self.state = Arc::new(LayerState {
                    shared: self.state.shared.clone(),
                    namer: Some(namer),
                    location: self.state.location,
                    placement: Placement::default(),
                })
            }
        }
        self
    }
}

impl<S> Layer<S> for TaskMonitorLayer {
    type Service = TaskMonitorService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TaskMonitorService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`TaskMonitorLayer`] produces.
#[derive(Clone)]
pub struct TaskMonitorService<S> {
    inner: S,
    layer: TaskMonitorLayer,
}

impl<S> std::fmt::Debug for TaskMonitorService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskMonitorService").finish_non_exhaustive()
    }
}

impl<S, B> Service<http::Request<B>> for TaskMonitorService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RouteFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let info = RouteInfo {
            method: req.method(),
            uri: req.uri(),
            extensions: req.extensions(),
        };
        let state = &*self.layer.state;
        let route = route_of(&info, state.namer.as_ref());
        let named = !matches!(route, Cow::Borrowed(super::UNMATCHED));
        state.placement.note(named, state.location, &state.shared);
        let judge = Judge::of_route(&state.shared, &route, state.location);
        RouteFuture::new(self.inner.call(req), judge)
    }
}

/// The route of a request, borrowed from it where possible: looking a
/// monitor up by `&str` allocates nothing per request.
fn route_of<'a>(info: &RouteInfo<'a>, namer: Option<&Namer>) -> Cow<'a, str> {
    #[cfg(feature = "axum")]
    if let Some(p) = info.extensions.get::<axum::extract::MatchedPath>() {
        return Cow::Borrowed(p.as_str());
    }
    match namer.and_then(|f| f(info)) {
        Some(name) => name,
        None => Cow::Borrowed(super::UNMATCHED),
    }
}
