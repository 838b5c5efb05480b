//! The task monitors of one doctor by route: what `TaskMonitorLayer` and
//! `Doctor::monitor_job` record, read by the route detector and export.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use super::route_stats::RouteStats;

/// The route label shared by routes past the label cap.
pub const OTHER: &str = "other";

/// One monitored route or job: a handle on what its requests share (its
/// counters, its CPU-judged slow polls and what a request's future judges
/// them by), behind one `Arc`.
#[derive(Debug, Clone)]
pub(crate) struct Route(Arc<RouteCore>);

/// See [`Route`].
#[derive(Debug)]
pub(crate) struct RouteCore {
    /// What its request futures record, in tokio-metrics' task model.
    pub(crate) monitor: RouteStats,
    /// Where the layer or job wrapper was created.
    pub(crate) location: String,
    /// The route's slow polls judged on CPU time, not the wall clock.
    pub(crate) polls: RoutePolls,
    /// How the route's request futures judge their polls.
    pub(crate) judging: Judging,
}

/// What a request future judges its polls by: its doctor's clock,
/// blocking threshold and id, copied into the route once so a poll reads
/// no line of `Shared`.
#[derive(Debug, Clone)]
pub(crate) struct Judging {
    pub(crate) clock: quanta::Clock,
    pub(crate) threshold_ns: u64,
    /// The doctor's id, to find this thread's shard of it.
    pub(crate) owner: u64,
}

impl std::ops::Deref for Route {
    type Target = RouteCore;
    fn deref(&self) -> &RouteCore {
        &self.0
    }
}

/// A route's polls past the threshold, judged as the span view judges
/// them: the time the worker waited for a CPU does not count. Written only
/// on the slow path (a poll already past the threshold on the wall clock),
/// so a fast poll touches none of it.
#[derive(Debug, Default)]
pub(crate) struct RoutePolls {
    /// Set once a request future that judges its polls ran for the route
    /// (`TaskMonitorLayer`, `monitor_job`); until then the wall-clock view.
    pub(crate) judged: AtomicBool,
    /// Polls whose on-CPU (or blocked-in-a-syscall) time crossed the threshold.
    pub(crate) slow: AtomicU64,
    /// Their on-CPU time, in nanoseconds.
    pub(crate) slow_ns: AtomicU64,
    /// Polls past the threshold on the wall clock that mostly waited for a CPU.
    pub(crate) preempted: AtomicU64,
    /// The route's call site and its doctor, set by the first request: how
    /// a request's poll is marked on its worker (so the watchdog sees it
    /// stall) and how a slow poll inside it is counted at the span it
    /// blamed. A `Weak`, since the doctor owns the routes.
    pub(crate) marks: std::sync::OnceLock<RouteMarks>,
}

/// See [`RoutePolls::marks`].
#[derive(Debug)]
pub(crate) struct RouteMarks {
    pub(crate) site: u32,
    pub(crate) shared: std::sync::Weak<super::Shared>,
}

/// Makes a route's marks from its name and location.
pub(crate) type MarkRoute<'a> = dyn Fn(&str, &str) -> RouteMarks + 'a;

/// The monitors of one doctor, by route. Bounded by the label cap.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_name: RwLock<HashMap<String, Route>>,
    /// Where `TaskMonitorLayer`s that could name none of their first
    /// requests were created (a layer around the whole app), at most
    /// [`MAX_BLIND_LAYERS`].
    blind_layers: Mutex<Vec<String>>,
}

/// Blind layers remembered: one per place a layer is created, so a few.
#[cfg(feature = "middleware")]
const MAX_BLIND_LAYERS: usize = 8;

impl Routes {
    /// The monitor for `route`, created on first use (past `cap` routes,
    /// the shared `other` monitor), with the route's CPU-judged slow-poll
    /// counts; `marks` (the route's name and location → its site and
    /// doctor) is called once per route, by its first request.
    pub(crate) fn route(
        &self,
        route: &str,
        cap: usize,
        judging: impl FnOnce() -> Judging,
        location: &'static Location<'static>,
        marks: Option<&MarkRoute<'_>>,
    ) -> Route {
        let mark = |name: &str, r: &Route| {
            if let Some(mk) = marks {
                r.polls.marks.get_or_init(|| mk(name, &r.location));
            }
        };
        if let Some(r) = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
        {
            mark(route, r);
            return r.clone();
        }
        let mut routes = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        let name = if routes.len() >= cap && !routes.contains_key(route) {
            OTHER
        } else {
            route
        };
        let r = routes.entry(name.to_string()).or_insert_with(|| {
            Route(Arc::new(RouteCore {
                monitor: RouteStats::default(),
                location: format!(
                    "{}:{}",
                    super::location::stable_path(location.file(), &[]),
                    location.line()
                ),
                polls: RoutePolls::default(),
                judging: judging(),
            }))
        });
        mark(name, r);
        r.clone()
    }

    /// Notes that the layer created at `location` names no route.
    #[cfg(feature = "middleware")]
    pub(crate) fn note_blind_layer(&self, location: String) {
        let mut blind = crate::util::lock(&self.blind_layers);
        if blind.len() < MAX_BLIND_LAYERS && !blind.contains(&location) {
            blind.push(location);
        }
    }

    /// What the report says of layers that name no route.
    pub(crate) fn notes(&self) -> Vec<String> {
        crate::util::lock(&self.blind_layers)
            .iter()
            .map(|l| {
                format!(
                    "TaskMonitorLayer at {l} named none of its first requests: every request is \
                     `unmatched`, so a blocking route is diluted by the healthy ones. Behind axum, \
                     apply it with Router::layer (inside the router, where the matched path is \
                     known), not around the whole app; elsewhere give it a route_fn."
                )
            })
            .collect()
    }

    /// The call sites routes' polls are marked at: their stalls and stacks
    /// are the route view's, not the span view's.
    pub(crate) fn marked_sites(&self) -> std::collections::HashSet<u32> {
        self.by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|r| r.polls.marks.get().map(|m| m.site))
            .collect()
    }

    /// Every route with its monitor, sorted by name.
    pub(crate) fn all(&self) -> Vec<(String, Route)> {
        let mut v: Vec<(String, Route)> = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Entries in each thread's cache of the routes it resolved lately.
const RECENT: usize = 32;

/// A name this thread resolved, and the route it resolved to (`other`
/// past the label cap). Routes are never removed, so a name resolves to
/// the same route for its doctor's life: an entry never goes stale.
struct Recent {
    owner: u64,
    sketch: Sketch,
    name: Box<str>,
    route: Route,
    site: u32,
}

thread_local! {
    /// Direct-mapped by [`Sketch::slot`]: a request finds its route without
    /// the map's lock or hashing its whole name with SipHash, and
    /// allocates nothing once its route is here.
    static RECENT_ROUTES: RefCell<[Option<Recent>; RECENT]> =
        const { RefCell::new([const { None }; RECENT]) };
}

/// A name's length and its first and last 8 bytes (zero-padded below 8):
/// all of it up to 16 bytes, enough to tell route templates apart
/// (`/users/{id}`, `/orders/{id}`) in constant time.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Sketch {
    len: usize,
    head: u64,
    tail: u64,
}

impl Sketch {
    #[inline(always)]
    fn of(name: &[u8]) -> Sketch {
        let len = name.len();
        let word = |b: &[u8]| b.try_into().map_or(0, u64::from_le_bytes);
        let (head, tail) = if len >= 8 {
            (word(&name[..8]), word(&name[len - 8..]))
        } else {
            let mut b = [0u8; 8];
            b[..len].copy_from_slice(name);
            (u64::from_le_bytes(b), 0)
        };
        Sketch { len, head, tail }
    }

    /// The cache slot of a name of doctor `owner`. A collision only costs
    /// a lookup in the map.
    #[inline(always)]
    fn slot(&self, owner: u64) -> usize {
        let h = self.head
            ^ self.tail.rotate_left(29)
            ^ (self.len as u64).rotate_left(56)
            ^ owner.rotate_left(43);
        (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as usize & (RECENT - 1)
    }
}

/// The route `name` of doctor `owner` resolved to on this thread, and its
/// site, else `resolve()`'s (which must be what the doctor's [`Routes`]
/// resolve `name` to), remembered.
#[inline]
pub(crate) fn recent_route(
    owner: u64,
    name: &str,
    resolve: impl FnOnce() -> (Route, u32),
) -> (Route, u32) {
    let sketch = Sketch::of(name.as_bytes());
    let slot = sketch.slot(owner);
    let hit = RECENT_ROUTES
        .try_with(|cell| {
            let recent = cell.try_borrow().ok()?;
            match &recent[slot] {
                // Equal sketches are equal names up to 16 bytes; past
                // that, the text between head and tail is compared.
                Some(r)
                    if r.owner == owner
                        && r.sketch == sketch
                        && (sketch.len <= 16 || r.name.as_bytes()[8..] == name.as_bytes()[8..]) =>
                {
                    Some((r.route.clone(), r.site))
                }
                _ => None,
            }
        })
        .ok()
        .flatten();
    match hit {
        Some(hit) => hit,
        None => remember(owner, name, sketch, slot, resolve),
    }
}

#[cold]
#[inline(never)]
fn remember(
    owner: u64,
    name: &str,
    sketch: Sketch,
    slot: usize,
    resolve: impl FnOnce() -> (Route, u32),
) -> (Route, u32) {
    let (route, site) = resolve();
    let entry = Some(Recent {
        owner,
        sketch,
        name: name.into(),
        route: route.clone(),
        site,
    });
    // The entry it replaces is dropped once the cell is released.
    let _old = RECENT_ROUTES
        .try_with(|cell| {
            let mut recent = cell.try_borrow_mut().ok()?;
            std::mem::replace(&mut recent[slot], entry)
        })
        .ok()
        .flatten();
    (route, site)
}

#[cfg(test)]
mod tests {
    use crate::helpers::route::future::Judge;
    use crate::Doctor;

    fn route_of(doctor: &Doctor, name: &str) -> super::Route {
        Judge::of_route(&doctor.shared, name, std::panic::Location::caller()).route
    }

    fn same(a: &super::Route, b: &super::Route) -> bool {
        std::sync::Arc::ptr_eq(&a.0, &b.0)
    }

    #[test]
    fn a_name_resolves_to_its_doctors_route_through_the_cache_as_through_the_map() {
        let a = Doctor::builder()
            .no_endpoint()
            .label_cap(2)
            .build()
            .unwrap();
        let b = Doctor::builder()
            .no_endpoint()
            .label_cap(2)
            .build()
            .unwrap();
        // Room for every name: each resolves to its own route.
        let c = Doctor::builder()
            .no_endpoint()
            .label_cap(100)
            .build()
            .unwrap();
        // Names of every length class, and names that share their length
        // and first and last 8 bytes (the slot's hash), so slots collide
        // and only the text between tells them apart.
        let names = [
            "/",
            "/a",
            "/users/{id}",
            "/api/v1/users/{id}",
            "/api/v1/XXers/{id}",
            "/api/v1/users/{id}/posts/{post_id}",
            "/api/v1/users/{id}/posts/{pXXX_id}",
            "/api/v1/usérs/{id}/posts/{post_id}",
        ];
        for _ in 0..3 {
            for name in names {
                // An owned copy each time: the cache keys on the text, not
                // on where it lives.
                let owned = name.to_string();
                for doctor in [&a, &b, &c] {
                    let cached = route_of(doctor, &owned);
                    let mapped = doctor
                        .shared
                        .routes
                        .all()
                        .into_iter()
                        .find(|(n, _)| {
                            n == name || (n == super::OTHER && !doctor_has(doctor, name))
                        })
                        .map(|(_, r)| r)
                        .unwrap();
                    assert!(same(&cached, &mapped), "{name}");
                }
            }
        }
        // The cap holds through the cache: two names and `other`.
        for doctor in [&a, &b] {
            let all: Vec<String> = doctor
                .shared
                .routes
                .all()
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            assert_eq!(all, ["/", "/a", super::OTHER], "{all:?}");
        }
        assert_eq!(c.shared.routes.all().len(), names.len());
        // Each doctor has its own routes.
        assert!(!same(&route_of(&a, "/"), &route_of(&b, "/")));
    }

    fn doctor_has(doctor: &Doctor, name: &str) -> bool {
        doctor.shared.routes.all().iter().any(|(n, _)| n == name)
    }
}
