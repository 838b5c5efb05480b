//! Soak: ten million spans through the doctor's layer, 100,000 open at
//! once, from 5,000 distinct call sites against a label cap of 1,000.
//! Resident memory must stay flat after warm-up, the cap must hold (the
//! rest folded into `span="other"`, and counted).
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin soak
//! cargo run --release -p tokio-doctor-bench --bin soak -- --spans 10000000 --open 100000 --sites 5000
//! ```
//!
//! The call sites are real `'static` tracing callsites, built at start-up
//! (leaked once: metadata must be `'static`) and registered like the ones
//! `span!` makes. Two tasks on a two-worker runtime each keep a ring of
//! open spans: create a span (every tenth is a tokio `runtime.spawn` task
//! span, which the doctor keeps per-span state for), enter and exit it
//! (a poll), and close the oldest once the ring is full. The doctor runs
//! with its monitors and endpoint, as in a service. After every tenth of
//! the spans it prints RSS (from `/proc/self/statm`), the doctor's live
//! per-span states, its call sites and the folded count, and the size of
//! a scrape. Options: `--spans N`, `--open N`, `--sites N`, `--cap N`.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tracing::{Dispatch, Id};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::FieldSet;
use tracing_core::metadata::Kind;
use tracing_core::span::Attributes;
use tracing_core::{Interest, Level, Metadata};
use tracing_subscriber::prelude::*;

/// A callsite made at run time: what `span!` makes at compile time.
struct DynCallsite(OnceLock<&'static Metadata<'static>>);

impl Callsite for DynCallsite {
    fn set_interest(&self, _: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        self.0.get().expect("set at creation")
    }
}

fn make_callsites(n: usize) -> Vec<&'static Metadata<'static>> {
    (0..n)
        .map(|i| {
            let cs: &'static DynCallsite = Box::leak(Box::new(DynCallsite(OnceLock::new())));
            let name: &'static str = Box::leak(format!("soak_site_{i}").into_boxed_str());
            let meta: &'static Metadata<'static> = Box::leak(Box::new(Metadata::new(
                name,
                "soak",
                Level::INFO,
                Some("bench/src/soak.rs"),
                Some(i as u32 + 1),
                Some("soak"),
                FieldSet::new(&[], Identifier(cs)),
                Kind::SPAN,
            )));
            let _ = cs.0.set(meta);
            tracing_core::callsite::register(cs);
            meta
        })
        .collect()
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn series(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or("?")
        .to_string()
}

/// One task's share of a chunk: `count` spans through its ring.
fn churn(
    dispatch: &Dispatch,
    sites: &[&'static Metadata<'static>],
    ring: &mut VecDeque<Id>,
    open: usize,
    first: u64,
    count: u64,
) {
    for n in first..first + count {
        let id = if n % 10 == 0 {
            // tokio's task span: the doctor keeps state for it until close.
            let line = (n / 10 % 50) as u32;
            dispatch.in_scope(|| {
                tracing::trace_span!(
                    target: "tokio::task",
                    "runtime.spawn",
                    kind = "task",
                    loc.file = "src/soak_jobs.rs",
                    loc.line = line,
                    loc.col = 1u32
                )
                .id()
                .map(|id| dispatch.clone_span(&id))
            })
        } else {
            let meta = sites[(n as usize * 7919) % sites.len()];
            let values = meta.fields().value_set(&NO_VALUES);
            Some(dispatch.new_span(&Attributes::new(meta, &values)))
        };
        let Some(id) = id else { continue };
        dispatch.enter(&id);
        dispatch.exit(&id);
        ring.push_back(id);
        if ring.len() > open {
            let old = ring.pop_front().unwrap();
            dispatch.try_close(old);
        }
    }
}

trait InScope {
    fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R;
}

impl InScope for Dispatch {
    fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(self, f)
    }
}

fn main() {
    let mut spans: u64 = 10_000_000;
    let mut open: usize = 100_000;
    let mut nsites: usize = 5_000;
    let mut cap: usize = 1_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--spans" => spans = v.parse().expect("--spans N"),
            "--open" => open = v.parse().expect("--open N"),
            "--sites" => nsites = v.parse().expect("--sites N"),
            "--cap" => cap = v.parse().expect("--cap N"),
            _ => panic!("unknown argument {a}; options: --spans N --open N --sites N --cap N"),
        }
    }
    let doctor = tokio_doctor::Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .label_cap(cap)
        .build()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    // The registry closes a span left by `exit` through the default
    // dispatcher: make it ours on every thread.
    tracing::dispatcher::set_global_default(dispatch.clone()).unwrap();
    let sites: Arc<Vec<&'static Metadata<'static>>> = Arc::new(make_callsites(nsites));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _running = rt.block_on(async { doctor.start().unwrap() });
    let tasks = 2u64;
    let chunks = 10u64;
    let per_task = spans / chunks / tasks;
    let mut rings: Vec<VecDeque<Id>> = (0..tasks)
        .map(|_| VecDeque::with_capacity(open / tasks as usize + 1))
        .collect();
    println!(
        "soak: {spans} spans, {open} open at once, {nsites} call sites (+50 task-span \
         locations), label cap {cap}, 2 workers"
    );
    println!("| spans | seconds | RSS MiB | live span states | call sites | folded | scrape KiB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let started = Instant::now();
    let mut rss = Vec::new();
    for chunk in 0..chunks {
        let handles: Vec<_> = rings
            .drain(..)
            .enumerate()
            .map(|(t, mut ring)| {
                let (dispatch, sites) = (dispatch.clone(), sites.clone());
                let first = (chunk * tasks + t as u64) * per_task;
                let open = open / tasks as usize;
                rt.spawn(async move {
                    churn(&dispatch, &sites, &mut ring, open, first, per_task);
                    ring
                })
            })
            .collect();
        rings = rt.block_on(async {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        });
        // Let the sampler fold exited threads, as it would in a service.
        std::thread::sleep(Duration::from_millis(20));
        let text = doctor.render_prometheus();
        let mib = rss_mib();
        rss.push(mib);
        println!(
            "| {} | {:.1} | {:.1} | {} | {} | {} | {:.0} |",
            (chunk + 1) * per_task * tasks,
            started.elapsed().as_secs_f64(),
            mib,
            series(&text, "tokio_doctor_live_spans"),
            series(&text, "tokio_doctor_call_sites"),
            series(&text, "tokio_doctor_labels_folded_total"),
            text.len() as f64 / 1024.0
        );
    }
    // Blocking polls at a site with its own label and at folded ones.
    rt_spin(&rt, &dispatch, sites[0]);
    rt_spin(&rt, &dispatch, sites[nsites - 1]);
    for ring in &mut rings {
        for id in ring.drain(..) {
            dispatch.try_close(id);
        }
    }
    let text = doctor.render_prometheus();
    let blocking: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_blocking_poll_seconds_total{"))
        .collect();
    let after_warmup = &rss[1..];
    let (lo, hi) = after_warmup
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "\nRSS after warm-up (the first tenth): {lo:.1} to {hi:.1} MiB (spread {:.1} MiB); \
         live span states after closing all: {}; call sites {} (cap {cap}); folded {}",
        hi - lo,
        series(&text, "tokio_doctor_live_spans"),
        series(&text, "tokio_doctor_call_sites"),
        series(&text, "tokio_doctor_labels_folded_total"),
    );
    for l in &blocking {
        println!("{l}");
    }
    assert!(blocking.iter().any(|l| l.contains("span=\"other\"")));
}

/// A 15 ms poll inside a span of `meta` on a runtime worker.
fn rt_spin(rt: &tokio::runtime::Runtime, dispatch: &Dispatch, meta: &'static Metadata<'static>) {
    let dispatch = dispatch.clone();
    rt.block_on(rt.spawn(async move {
        let id = dispatch.new_span(&Attributes::new(meta, &meta.fields().value_set(&NO_VALUES)));
        dispatch.enter(&id);
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(15) {
            std::hint::spin_loop();
        }
        dispatch.exit(&id);
        dispatch.try_close(id);
    }))
    .unwrap();
}

const NO_VALUES: [(
    &tracing_core::Field,
    Option<&dyn tracing_core::field::Value>,
); 0] = [];
