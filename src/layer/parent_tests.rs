//! The parent a node records (and reports its children to) is the
//! nearest ancestor the doctor enabled, whichever way it is found:
//! through the registry's record directly, or `span.parent()` past the
//! per-layer filter.
use super::*;
use tracing::Dispatch;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// A layer that wants DEBUG spans, which the doctor declines.
struct Debug;
impl<S: Subscriber> Layer<S> for Debug {}

fn doctor() -> crate::Doctor {
    crate::Doctor::builder().no_endpoint().build().unwrap()
}

fn core(d: &Dispatch) -> &DoctorCore {
    d.downcast_ref::<DoctorCore>().expect("the doctor's layer")
}

/// The parent recorded in span `id`'s node, from the table or the
/// registry's extensions; `None` for no node.
fn parent_of(d: &Dispatch, id: &Id) -> Option<Option<u64>> {
    let parent = |n: &span_node::SpanNode| n.parent.as_ref().map(Id::into_u64);
    if let Some(p) = core(d).nodes.with(id.into_u64(), parent) {
        return Some(p);
    }
    let reg = d.downcast_ref::<Registry>().expect("a registry");
    let span = reg.span(id)?;
    let ext = span.extensions();
    ext.get::<span_node::SpanNode>().map(parent)
}

fn id(s: &tracing::Span) -> u64 {
    s.id().expect("an enabled span").into_u64()
}

/// Every way a span names its parent, with a DEBUG span the doctor
/// declines between two INFO spans.
fn check(d: &Dispatch) {
    tracing::dispatcher::with_default(d, || {
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        let mid = tracing::debug_span!("mid");
        assert!(mid.id().is_some(), "the DEBUG layer enables it");
        assert_eq!(
            parent_of(d, &mid.id().unwrap()),
            None,
            "the doctor declines it"
        );
        let _m = mid.enter();
        let contextual = tracing::info_span!("contextual");
        let explicit_mid = tracing::info_span!(parent: &mid, "explicit_mid");
        let explicit_outer = tracing::info_span!(parent: &outer, "explicit_outer");
        let root = tracing::info_span!(parent: None, "root");
        for s in [&contextual, &explicit_mid, &explicit_outer] {
            assert_eq!(parent_of(d, &s.id().unwrap()), Some(Some(id(&outer))));
        }
        assert_eq!(parent_of(d, &root.id().unwrap()), Some(None));
        // Inside an INFO span inside the declined one.
        let _c = contextual.enter();
        let inner = tracing::info_span!("inner");
        assert_eq!(
            parent_of(d, &inner.id().unwrap()),
            Some(Some(id(&contextual)))
        );
    });
    tracing::dispatcher::with_default(d, || {
        let top = tracing::info_span!("top");
        assert_eq!(parent_of(d, &top.id().unwrap()), Some(None));
        // Enough live spans at once that many nodes go to the
        // extensions (their buckets taken): their children find them
        // there.
        let parents: Vec<_> = (0..3000).map(|_| tracing::info_span!("p")).collect();
        let in_ext = parents
            .iter()
            .filter(|p| !core(d).nodes.contains(id(p)))
            .count();
        assert!(in_ext > 0, "some nodes in the extensions");
        for p in &parents {
            let child = tracing::info_span!(parent: p, "child");
            assert_eq!(parent_of(d, &child.id().unwrap()), Some(Some(id(p))));
            let entered = p.enter();
            let child = tracing::info_span!("child");
            assert_eq!(parent_of(d, &child.id().unwrap()), Some(Some(id(p))));
            drop(entered);
        }
    });
}

/// The doctor's layer directly on the registry, with a layer above it
/// that wants the DEBUG spans the doctor declines.
fn direct_beside_debug(doctor: &crate::Doctor) -> Dispatch {
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(doctor.layer())
            .with(Debug.with_filter(LevelFilter::DEBUG)),
    );
    assert!(core(&d).direct.load(Relaxed));
    d
}

#[test]
fn directly_on_the_registry_the_parent_is_known_without_a_lookup() {
    let doctor = doctor();
    check(&direct_beside_debug(&doctor));
}

/// Where this thread's stack may not name the registry's current span
/// (nesting past the stack's depth, a declined span entered, an exit
/// out of order), the registry is asked, and the parent is still the
/// nearest enabled ancestor of the registry's current span.
#[test]
fn where_the_threads_stack_may_differ_from_the_registrys_the_registry_is_asked() {
    // Each case with its own doctor: the first that makes this thread's
    // stack differ sends every later span on the thread to the registry.
    let with_doctor = |case: &dyn Fn(&Dispatch)| {
        let doctor = doctor();
        let d = direct_beside_debug(&doctor);
        tracing::dispatcher::with_default(&d, || case(&d));
    };
    // Nested past the stack's depth: the innermost is the parent.
    with_doctor(&|d| {
        let spans: Vec<_> = (0..60).map(|i| tracing::info_span!("deep", i)).collect();
        let _entered: Vec<_> = spans.iter().map(|s| s.enter()).collect();
        let child = tracing::info_span!("child");
        let innermost = spans.last().unwrap();
        assert_eq!(
            parent_of(d, &child.id().unwrap()),
            Some(Some(id(innermost)))
        );
    });
    // A declined span entered alone (a task instrumented with a DEBUG
    // span made under a request's span): its parent is the parent.
    with_doctor(&|d| {
        let request = tracing::info_span!("request");
        let task = tracing::debug_span!(parent: &request, "task");
        let _t = task.enter();
        let child = tracing::info_span!("child");
        assert_eq!(parent_of(d, &child.id().unwrap()), Some(Some(id(&request))));
    });
    // An exit out of order: the registry pops `outer` alone and calls
    // `inner` current.
    with_doctor(&|d| {
        let outer = tracing::info_span!("outer");
        let inner = tracing::info_span!("inner");
        let o = outer.enter();
        let i = inner.enter();
        drop(o);
        let child = tracing::info_span!("child");
        assert_eq!(parent_of(d, &child.id().unwrap()), Some(Some(id(&inner))));
        drop(i);
    });
}

/// Two layers of one doctor, in two subscribers, share the thread's
/// state: a span entered under one is no parent of a span created
/// under the other, whose registry has nothing entered.
#[test]
fn a_span_entered_under_another_subscriber_is_no_parent() {
    let doctor = doctor();
    let first = Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let second = Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    assert!(core(&first).direct.load(Relaxed) && core(&second).direct.load(Relaxed));
    tracing::dispatcher::with_default(&first, || {
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        tracing::dispatcher::with_default(&second, || {
            // Live in the second registry, likely under the same id.
            let other = tracing::info_span!("other");
            assert_eq!(other.id(), outer.id(), "ids are per registry");
            let child = tracing::info_span!("child");
            assert_eq!(parent_of(&second, &child.id().unwrap()), Some(None));
        });
    });
}

#[test]
fn above_another_layer_the_parent_is_looked_up() {
    let doctor = doctor();
    let d = Dispatch::new(
        tracing_subscriber::registry()
            .with(Debug.with_filter(LevelFilter::DEBUG))
            .with(doctor.layer()),
    );
    assert!(!core(&d).direct.load(Relaxed));
    check(&d);
}

/// A service's log layer with its own filter, writing nowhere.
fn fmt<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(tracing_subscriber::EnvFilter::new("warn"))
}

/// The parent of a span made inside `outer`, under `d`.
fn parent_inside_outer(d: &Dispatch) -> (u64, Option<Option<u64>>) {
    tracing::dispatcher::with_default(d, || {
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        let child = tracing::info_span!("child");
        (id(&outer), parent_of(d, &child.id().unwrap()))
    })
}

/// The README's subscriber (the doctor's layer first, the service's
/// `fmt` layer with its own filter after it) keeps the doctor directly on
/// the registry, where the parent comes from the thread's stack; the
/// other order finds the same parent through the registry.
#[test]
fn the_readmes_subscriber_keeps_the_doctor_directly_on_the_registry() {
    let doctor = doctor();
    let first = Dispatch::new(
        tracing_subscriber::registry()
            .with(doctor.layer())
            .with(fmt()),
    );
    assert!(core(&first).direct.load(Relaxed), "doctor first: direct");
    let (outer, parent) = parent_inside_outer(&first);
    assert_eq!(parent, Some(Some(outer)));

    let doctor = self::doctor();
    let last = Dispatch::new(
        tracing_subscriber::registry()
            .with(fmt())
            .with(doctor.layer()),
    );
    assert!(
        !core(&last).direct.load(Relaxed),
        "doctor above fmt: not direct"
    );
    let (outer, parent) = parent_inside_outer(&last);
    assert_eq!(parent, Some(Some(outer)));
}

#[test]
fn a_layer_of_another_doctor_is_not_taken_for_this_one() {
    let doctor = doctor();
    let other = doctor.layer::<Registry>();
    let d = Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    // Registered with a dispatch it is not in.
    other.on_register_dispatch(&d);
    assert!(!other.inner.inner().direct.load(Relaxed));
    assert!(core(&d).direct.load(Relaxed));
}
