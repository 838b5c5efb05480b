//! Whatever order span events arrive in, from however many threads, the
//! layer never panics, frees every per-span state once all spans close, and
//! counts exactly: every poll it times and every blocking poll injected.
//!
//! Each case runs several threads at once, each with its own random script
//! of span events driven through the `Dispatch` API: new spans from a few
//! static call sites (plain, with fields, OpenTelemetry client spans, and
//! tokio's `runtime.spawn` task spans, which get per-span state), clone,
//! close, enter, exit, re-entry, record, follows-from, exits of spans never
//! entered here or long closed, spans entered on one thread and exited on
//! another, spans closed while entered, and spans left entered when the
//! script ends. Some events run as a runtime worker (inside `block_on`),
//! where the outermost enter begins a poll; some on a plain thread.
//!
//! Each thread keeps a model of what the layer must see on it (its span
//! stack and whether a poll is open: span stacks are per thread, so the
//! model is exact even while threads race), and injects blocking polls
//! (a whole poll spinning past the threshold) only when its stack is empty.
//! `PROPTEST_CASES=2000` runs longer.
mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tokio_doctor::{Doctor, FindingKind};
use tracing::{Dispatch, Span};
use tracing_subscriber::prelude::*;

/// Blocking threshold of the doctor under test.
const THRESHOLD: Duration = Duration::from_millis(10);
/// CPU time an injected blocking poll spins for.
const INJECTED: Duration = Duration::from_millis(14);
/// A random poll this long (measured around it, so at least as long as
/// the layer's own measure) may have been preempted past the threshold.
const AMBIGUOUS: Duration = Duration::from_millis(9);
/// The layer's tracked nesting depth (`thread_state::MAX_DEPTH`).
const MAX_DEPTH: usize = 48;

/// Which span an event is about.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// One of this thread's handles.
    Own(usize),
    /// One of the spans every thread shares (kept open by the main thread).
    Shared(usize),
    /// Any id this thread has seen, maybe closed long ago (exits only).
    Seen(usize),
}

#[derive(Debug, Clone)]
enum Op {
    New {
        site: u8,
        value: u64,
    },
    CloneOwn(usize),
    CloneShared(usize),
    /// Closes one handle (a span closes with its last handle, or at the
    /// exit that leaves it when it is still entered).
    Drop(usize),
    Enter {
        target: Target,
        worker: bool,
    },
    Exit {
        target: Target,
        worker: bool,
    },
    Record {
        handle: usize,
        value: u64,
    },
    FollowsFrom {
        handle: usize,
        cause: Target,
    },
    /// A poll that spins past the threshold on a worker.
    InjectBlocking(usize),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => any::<usize>().prop_map(Target::Own),
        2 => any::<usize>().prop_map(Target::Shared),
        1 => any::<usize>().prop_map(Target::Seen),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..7, any::<u64>()).prop_map(|(site, value)| Op::New { site, value }),
        1 => any::<usize>().prop_map(Op::CloneOwn),
        1 => any::<usize>().prop_map(Op::CloneShared),
        3 => any::<usize>().prop_map(Op::Drop),
        6 => (target(), any::<bool>()).prop_map(|(target, worker)| Op::Enter { target, worker }),
        5 => (target(), any::<bool>()).prop_map(|(target, worker)| Op::Exit { target, worker }),
        2 => (any::<usize>(), any::<u64>()).prop_map(|(handle, value)| Op::Record { handle, value }),
        1 => (any::<usize>(), target()).prop_map(|(handle, cause)| Op::FollowsFrom { handle, cause }),
        // Rare: each one costs 14 ms of CPU.
        1 => any::<usize>().prop_map(Op::InjectBlocking),
    ]
}

/// A span from one of a few static call sites, as services and tokio make them.
fn new_span(site: u8, v: u64) -> Span {
    match site {
        0 => tracing::info_span!("handle_request"),
        1 => tracing::debug_span!("helper", n = v),
        // tokio's task span (with --cfg tokio_unstable): its site is the
        // spawn location in its fields, so it gets per-span state.
        2 | 3 => tracing::trace_span!(
            target: "tokio::task",
            "runtime.spawn",
            kind = "task",
            task.name = "",
            task.id = v,
            loc.file = "src/jobs.rs",
            loc.line = 10 + site as u32,
            loc.col = 5u32,
        ),
        // OpenTelemetry client spans with a deadline, as outbound calls carry.
        4 => tracing::info_span!(
            "db_query",
            otel.kind = "client",
            db.system = "postgresql",
            timeout_ms = v % 1_000,
            otel.status_code = tracing::field::Empty,
        ),
        5 => tracing::info_span!(
            "http_call",
            otel.kind = "client",
            http.request.method = "GET",
            server.address = "api.example",
            timeout_ms = tracing::field::Empty,
        ),
        _ => tracing::info_span!(
            "name with \"quotes\", a \\ and\na newline",
            secret = "must never be exported"
        ),
    }
}

/// What one thread has done, for the checks.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    polls: u64,
    injected: u64,
    ambiguous: u64,
}

/// One scripted thread and its model of the layer's view of it.
struct Actor {
    dispatch: Dispatch,
    rt: Option<tokio::runtime::Runtime>,
    shared: Arc<Vec<Span>>,
    own: Vec<Span>,
    seen: Vec<tracing::Id>,
    /// Ids on the layer's span stack of this thread (`None`: tokio's own
    /// `block_on` span, with tokio_unstable).
    layer_stack: Vec<Option<tracing::Id>>,
    /// The registry's span stack of this thread (it keeps a reference to
    /// each span it holds, so these are alive and must be exited at the end).
    registry_stack: Vec<tracing::Id>,
    /// Depth and start of the open poll, if any.
    poll: Option<(usize, Instant)>,
    /// Set while a blocking poll is injected (its length is expected).
    injecting: bool,
    tally: Tally,
}

impl Actor {
    fn id_of(&self, t: Target, exits: bool) -> Option<tracing::Id> {
        let pick = |n: usize, i: usize| (n > 0).then(|| i % n);
        match t {
            Target::Own(i) => pick(self.own.len(), i).and_then(|i| self.own[i].id()),
            Target::Shared(i) => pick(self.shared.len(), i).and_then(|i| self.shared[i].id()),
            Target::Seen(i) if exits => pick(self.seen.len(), i).map(|i| self.seen[i].clone()),
            // Entering a closed span is a caller bug tracing's registry
            // panics on; only exits may name stale ids.
            Target::Seen(_) => None,
        }
    }

    fn as_worker<R>(&mut self, worker: bool, f: impl FnOnce(&mut Self) -> R) -> R {
        if !worker {
            return f(self);
        }
        // Inside block_on this thread is a runtime worker, where polls begin.
        let rt = self.rt.take().expect("not nested");
        let begun = Instant::now();
        let out = rt.block_on(async {
            // With tokio_unstable, tokio enters a task span of its own
            // (kind `block_on`) around each poll of the future.
            if cfg!(tokio_unstable) {
                self.model_enter(None, true, begun);
            }
            f(self)
        });
        if cfg!(tokio_unstable) {
            self.model_exit(None, Instant::now());
        }
        self.rt = Some(rt);
        out
    }

    /// What the layer does on an enter (`None`: tokio's `block_on` span).
    fn model_enter(&mut self, id: Option<tracing::Id>, worker: bool, at: Instant) {
        if self.layer_stack.len() < MAX_DEPTH {
            if self.poll.is_none() && worker {
                self.poll = Some((self.layer_stack.len(), at));
            }
            self.layer_stack.push(id);
        }
    }

    /// What the layer does on an exit: pop to the span, maybe end the poll.
    fn model_exit(&mut self, id: Option<&tracing::Id>, at: Instant) {
        let Some(pos) = self.layer_stack.iter().rposition(|x| x.as_ref() == id) else {
            return;
        };
        self.layer_stack.truncate(pos);
        match self.poll {
            Some((root, started)) if pos <= root => {
                self.poll = None;
                self.tally.polls += 1;
                if at - started >= AMBIGUOUS && !self.injecting {
                    self.tally.ambiguous += 1;
                }
            }
            _ => {}
        }
    }

    fn enter(&mut self, id: tracing::Id, worker: bool) {
        self.model_enter(Some(id.clone()), worker, Instant::now());
        self.registry_stack.push(id.clone());
        self.dispatch.enter(&id);
    }

    fn exit(&mut self, id: &tracing::Id) {
        self.dispatch.exit(id);
        if let Some(p) = self.registry_stack.iter().rposition(|x| x == id) {
            self.registry_stack.remove(p);
        }
        self.model_exit(Some(id), Instant::now());
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::New { site, value } => {
                let span = new_span(site, value);
                self.seen.extend(span.id());
                self.own.push(span);
            }
            Op::CloneOwn(i) if !self.own.is_empty() => {
                let s = self.own[i % self.own.len()].clone();
                self.own.push(s);
            }
            Op::CloneShared(i) if !self.shared.is_empty() => {
                let s = self.shared[i % self.shared.len()].clone();
                self.own.push(s);
            }
            Op::Drop(i) if !self.own.is_empty() => {
                let n = self.own.len();
                drop(self.own.swap_remove(i % n));
            }
            Op::Enter { target, worker } => {
                if let Some(id) = self.id_of(target, false) {
                    self.as_worker(worker, |a| a.enter(id, worker));
                }
            }
            Op::Exit { target, worker } => {
                if let Some(id) = self.id_of(target, true) {
                    self.as_worker(worker, |a| a.exit(&id));
                }
            }
            Op::Record { handle, value } if !self.own.is_empty() => {
                let s = &self.own[handle % self.own.len()];
                s.record("timeout_ms", value % 5_000);
                s.record("otel.status_code", "ERROR");
                s.record("n", value);
            }
            Op::FollowsFrom { handle, cause } if !self.own.is_empty() => {
                if let Some(cause) = self.id_of(cause, false) {
                    self.own[handle % self.own.len()].follows_from(cause);
                }
            }
            Op::InjectBlocking(i) if self.layer_stack.is_empty() && !self.own.is_empty() => {
                let Some(id) = self.own[i % self.own.len()].id() else {
                    return;
                };
                // The stack is empty, so this is one whole poll.
                self.injecting = true;
                self.as_worker(true, |a| {
                    a.enter(id.clone(), true);
                    support::spin_for(INJECTED);
                    a.exit(&id);
                });
                self.injecting = false;
                self.tally.injected += 1;
            }
            _ => {}
        }
    }

    /// Leaves every span this thread still has entered, then closes its
    /// handles: afterwards it holds no reference to any span.
    fn finish(mut self) -> Tally {
        while let Some(id) = self.registry_stack.last().cloned() {
            self.exit(&id);
        }
        assert!(self.layer_stack.is_empty() && self.poll.is_none());
        self.own.clear();
        self.tally
    }
}

fn value_of(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

fn run_case(scripts: Vec<Vec<Op>>, shared_sites: Vec<u8>) -> Result<(), TestCaseError> {
    let doctor = Doctor::builder()
        .no_endpoint()
        .blocking_poll_threshold(THRESHOLD)
        // Every span level the scripts make (a DEBUG helper, tokio's TRACE
        // task spans) reaches the layer.
        .span_level(tracing::Level::TRACE)
        .build()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let shared: Arc<Vec<Span>> = Arc::new(tracing::dispatcher::with_default(&dispatch, || {
        shared_sites
            .iter()
            .enumerate()
            .map(|(i, s)| new_span(*s, i as u64))
            .collect()
    }));
    let start = Arc::new(Barrier::new(scripts.len()));
    let threads: Vec<_> = scripts
        .into_iter()
        .map(|script| {
            let (dispatch, shared, start) = (dispatch.clone(), shared.clone(), start.clone());
            std::thread::spawn(move || {
                // The registry closes spans through the thread's default
                // dispatcher, so every thread must have ours.
                let _default = tracing::dispatcher::set_default(&dispatch);
                let mut actor = Actor {
                    dispatch,
                    rt: Some(
                        tokio::runtime::Builder::new_current_thread()
                            .build()
                            .unwrap(),
                    ),
                    seen: shared.iter().filter_map(Span::id).collect(),
                    shared,
                    own: Vec::new(),
                    layer_stack: Vec::new(),
                    registry_stack: Vec::new(),
                    poll: None,
                    injecting: false,
                    tally: Tally::default(),
                };
                start.wait();
                for op in script {
                    actor.run(op);
                }
                actor.finish()
            })
        })
        .collect();
    let mut total = Tally::default();
    for t in threads {
        let t = t
            .join()
            .map_err(|_| TestCaseError::fail("a thread panicked"))?;
        total.polls += t.polls;
        total.injected += t.injected;
        total.ambiguous += t.ambiguous;
    }
    drop(shared);

    let text = doctor.render_prometheus();
    prop_assert_eq!(
        value_of(&text, "tokio_doctor_live_spans"),
        0.0,
        "every per-span state is freed once all spans close"
    );
    prop_assert_eq!(
        value_of(&text, "tokio_doctor_poll_duration_seconds_count") as u64,
        total.polls,
        "every poll is timed exactly once"
    );
    let blocking: u64 = support::of_kind(&doctor, FindingKind::BlockingPoll)
        .iter()
        .map(|f| f.count)
        .sum();
    // A random poll is only ever counted as blocking if it really lasted
    // the threshold (this machine preempted it for that long).
    prop_assert!(
        blocking >= total.injected && blocking <= total.injected + total.ambiguous,
        "{} blocking polls counted, {} injected, {} random polls long enough to count",
        blocking,
        total.injected,
        total.ambiguous
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_event_orders_from_many_threads_never_panic_leak_or_miscount(
        scripts in prop::collection::vec(prop::collection::vec(op(), 0..160), 1..9),
        shared_sites in prop::collection::vec(0u8..7, 0..6),
    ) {
        run_case(scripts, shared_sites)?;
    }
}

/// The injected-poll check is only as good as the injection: a fixed
/// script that injects on two threads must count exactly two.
#[test]
fn injected_blocking_polls_are_counted_exactly() {
    let script = vec![
        Op::New { site: 2, value: 1 },
        Op::Enter {
            target: Target::Own(0),
            worker: true,
        },
        Op::Exit {
            target: Target::Own(0),
            worker: false,
        },
        Op::InjectBlocking(0),
        Op::Drop(0),
    ];
    run_case(vec![script.clone(), script], vec![4]).unwrap();
}
