//! Shared test harness: a multi-thread runtime whose threads all report to
//! one doctor, with unrelated load running beside the code under test.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_doctor::{Doctor, Finding, FindingKind};
use tracing_subscriber::prelude::*;

/// A doctor with no endpoint and the default threshold.
pub fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid config")
}

/// A multi-thread runtime (2 workers) whose every thread, workers and
/// blocking pool alike, has `doctor`'s layer as its default subscriber, as
/// does the thread that calls [`Rt::block_on`] (where tokio creates the
/// task spans of what it spawns).
pub fn runtime(doctor: &Doctor) -> Rt {
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let for_threads = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // Keep the default for the thread's whole life.
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .expect("runtime");
    Rt { rt, dispatch }
}

/// A runtime and the dispatch its threads use.
pub struct Rt {
    pub rt: tokio::runtime::Runtime,
    pub dispatch: tracing::Dispatch,
}

impl Rt {
    /// `Runtime::block_on` with the doctor's subscriber as this thread's default.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        tracing::dispatcher::with_default(&self.dispatch, || self.rt.block_on(f))
    }
}

/// Unrelated load: tasks that do short bursts of work in their own spans
/// and yield, as a healthy service does. Stops when the guard drops.
pub struct Load(Arc<AtomicBool>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub fn unrelated_load() -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    for i in 0..8 {
        let stop = stop.clone();
        tokio::spawn(async move {
            use tracing::Instrument;
            while !stop.load(Ordering::Relaxed) {
                async {
                    let mut x = i as u64;
                    for k in 0..2_000u64 {
                        x = x.wrapping_mul(31).wrapping_add(k);
                    }
                    std::hint::black_box(x);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                .instrument(tracing::info_span!("unrelated_request"))
                .await;
            }
        });
    }
    Load(stop)
}

/// Burns `d` of this thread's CPU time without yielding. CPU time, not wall
/// time: on a busy CI host the thread may be preempted, and the doctor
/// (rightly) does not count time spent waiting for a CPU.
pub fn spin_for(d: Duration) -> u64 {
    fn thread_cpu() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a valid out pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    let start = thread_cpu();
    let mut x = 0u64;
    while thread_cpu() - start < d {
        for k in 0..1_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(k);
        }
    }
    std::hint::black_box(x)
}

/// Findings of one kind.
pub fn of_kind(doctor: &Doctor, kind: FindingKind) -> Vec<Finding> {
    doctor
        .findings()
        .into_iter()
        .filter(|f| f.kind == kind)
        .collect()
}

/// Polls `cond` until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// Runs `f` on the runtime.
pub fn run<F: Future>(rt: &Rt, f: F) -> F::Output {
    rt.block_on(f)
}

/// The 1-based line of the only line of `source` ending in the comment
/// `// {marker}`: how a test names the `file:line` it expects without
/// counting lines by hand.
pub fn line_of(source: &str, marker: &str) -> u32 {
    let comment = format!("// {marker}");
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end().ends_with(&comment))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "marker {comment:?} must end exactly one line"
    );
    lines[0] as u32
}

/// Starts an expectation that the doctor reports a finding of `kind`:
/// `support::expect(kind).at("MARK: x").within(d).on(&doctor)` returns the
/// finding, or panics with every finding the doctor had. What each test
/// used to hand-roll (poll until seen or a limit passes, then pick the
/// finding at one site), written once.
pub fn expect(kind: FindingKind) -> Expect {
    Expect {
        kind,
        location: None,
        span: None,
        limit: Duration::ZERO,
    }
}

/// Starts an expectation that the doctor reports no finding of `kind`
/// (optionally at one site) for a while: `support::expect_none(kind)
/// .during(d).on(&doctor)`. A silent test checks the whole time the shape
/// runs, not only once at the end.
pub fn expect_none(kind: FindingKind) -> ExpectNone {
    ExpectNone(expect(kind))
}

/// A finding the test expects (or expects never to see); see [`expect`].
#[derive(Debug, Clone)]
pub struct Expect {
    kind: FindingKind,
    location: Option<String>,
    span: Option<String>,
    limit: Duration,
}

impl Expect {
    /// At the line of the calling test file that ends in `// {marker}`
    /// (see [`line_of`]). The file is the caller's, read from the crate's
    /// directory, so the test names its marker and nothing else.
    #[track_caller]
    pub fn at(mut self, marker: &str) -> Expect {
        let file = std::panic::Location::caller().file();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        self.location = Some(format!("{file}:{}", line_of(&source, marker)));
        self
    }

    /// At this exact location (`file:line`, or `runtime`).
    pub fn location(mut self, location: impl Into<String>) -> Expect {
        self.location = Some(location.into());
        self
    }

    /// Of spans with this name.
    pub fn span(mut self, name: impl Into<String>) -> Expect {
        self.span = Some(name.into());
        self
    }

    /// Waits up to `limit` for the finding to appear (default: look once).
    pub fn within(mut self, limit: Duration) -> Expect {
        self.limit = limit;
        self
    }

    fn matches(&self, f: &Finding) -> bool {
        f.kind == self.kind
            && self.location.as_ref().is_none_or(|l| &f.location == l)
            && self.span.as_ref().is_none_or(|s| &f.span == s)
    }

    fn find(&self, doctor: &Doctor) -> Result<Finding, Vec<Finding>> {
        let all = doctor.findings();
        match all.iter().find(|f| self.matches(f)) {
            Some(f) => Ok(f.clone()),
            None => Err(all),
        }
    }

    /// The finding, polling from this (blocking) thread: for use after
    /// `block_on`, or from a thread that is not a worker.
    #[track_caller]
    pub fn on(&self, doctor: &Doctor) -> Finding {
        let start = Instant::now();
        loop {
            match self.find(doctor) {
                Ok(f) => return f,
                Err(all) if start.elapsed() >= self.limit => self.missing(&all),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// [`Expect::on`] from async code on the runtime: waits with a timer,
    /// so the code under test keeps running.
    #[track_caller]
    pub fn on_async(&self, doctor: &Doctor) -> impl Future<Output = Finding> + '_ {
        let caller = std::panic::Location::caller();
        let doctor = doctor.clone();
        async move {
            let start = Instant::now();
            loop {
                match self.find(&doctor) {
                    Ok(f) => return f,
                    Err(all) if start.elapsed() >= self.limit => {
                        panic!("at {caller}: {}", self.describe_missing(&all))
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }

    fn describe_missing(&self, all: &[Finding]) -> String {
        format!(
            "no {:?} finding{}{} within {:?}; the doctor had: {all:#?}",
            self.kind,
            self.location
                .as_ref()
                .map_or(String::new(), |l| format!(" at {l}")),
            self.span
                .as_ref()
                .map_or(String::new(), |s| format!(" of span `{s}`")),
            self.limit,
        )
    }

    #[track_caller]
    fn missing(&self, all: &[Finding]) -> ! {
        panic!("{}", self.describe_missing(all))
    }
}

/// A finding the test expects never to see; see [`expect_none`].
#[derive(Debug, Clone)]
pub struct ExpectNone(Expect);

impl ExpectNone {
    /// Only at the line of the calling test file ending in `// {marker}`.
    #[track_caller]
    pub fn at(self, marker: &str) -> ExpectNone {
        ExpectNone(self.0.at(marker))
    }

    /// Only at this exact location.
    pub fn location(self, location: impl Into<String>) -> ExpectNone {
        ExpectNone(self.0.location(location))
    }

    /// Only of spans with this name.
    pub fn span(self, name: impl Into<String>) -> ExpectNone {
        ExpectNone(self.0.span(name))
    }

    /// Keeps watching for `d` (default: look once).
    pub fn during(self, d: Duration) -> ExpectNone {
        ExpectNone(self.0.within(d))
    }

    /// No such finding now nor, polling from this (blocking) thread, for
    /// the `during` time.
    #[track_caller]
    pub fn on(&self, doctor: &Doctor) {
        let start = Instant::now();
        loop {
            if let Ok(f) = self.0.find(doctor) {
                panic!("{:?} was not expected: {f:#?}", self.0.kind);
            }
            if start.elapsed() >= self.0.limit {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// [`ExpectNone::on`] from async code on the runtime, waiting with a
    /// timer so the code under test keeps running.
    #[track_caller]
    pub fn on_async(&self, doctor: &Doctor) -> impl Future<Output = ()> + '_ {
        let caller = std::panic::Location::caller();
        let doctor = doctor.clone();
        async move {
            let start = Instant::now();
            loop {
                if let Ok(f) = self.0.find(&doctor) {
                    panic!("at {caller}: {:?} was not expected: {f:#?}", self.0.kind);
                }
                if start.elapsed() >= self.0.limit {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One `GET path` on a fresh loopback connection (`Connection: close`):
/// the response's status code.
pub fn http_get_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}
