//! Stack capture of a stalled worker (Linux, x86_64 and aarch64): the exact
//! frame a blocking poll is stuck in.
//!
//! When the watchdog sees a poll past the threshold it asks that worker
//! thread, and only that one, for its stack: it arms the thread's
//! preallocated [`CaptureSlot`](crate::state::shard::CaptureSlot) and sends
//! the capture signal ([`signal`]). The handler copies the registers and at
//! most 64 KiB of stack into the slot and returns; the watchdog unwinds and
//! names the copy ([`symbols`]) on the stacks thread, so the watchdog
//! never waits on debug info. A capture that does not
//! complete within [`CAPTURE_TIMEOUT`] is abandoned (the handler then finds
//! the slot disarmed and copies nothing). A long stall is sampled again at
//! 2x, 4x, ... the threshold, [`MAX_SAMPLES`] times at most, and the culprit
//! most samples agree on wins. Nothing of this runs while no poll is
//! stalled: the signal handler is installed and the binary's unwind info
//! and symbol tables read on the first capture, and a module's DWARF index
//! built when a frame in it is first named at its `file:line`.

use std::collections::HashMap;
use std::sync::atomic::Ordering::*;
use std::sync::{mpsc, Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::state::frames::{FrameName, StallStack};
use crate::state::location::Origin;
use crate::state::shard::{slot_state, CaptureSlot, ThreadShard};
use crate::state::Shared;
use crate::util::lock;

pub(crate) mod signal;
pub(crate) mod symbols;
pub(crate) mod unmarked;

use symbols::{Frame, Symbolizer};

/// Longest wait for a thread to answer a capture request.
pub(crate) const CAPTURE_TIMEOUT: Duration = Duration::from_millis(5);
/// Captures per stall at most: at 1x, 2x, 4x ... 32x the threshold.
pub(crate) const MAX_SAMPLES: u32 = 6;
/// Frames kept as evidence.
const TOP_FRAMES: usize = 8;

static SYMBOLIZER: Mutex<Option<Symbolizer>> = Mutex::new(None);

/// A capture as the handler left it: registers and the copied stack.
pub(crate) struct Raw {
    regs: [u64; 4],
    stack: Vec<u8>,
}

/// Captures the stack of `shard`'s thread; `None` when capture is off,
/// busy, or the thread did not answer in time. Takes a few microseconds of
/// the worker and at most [`CAPTURE_TIMEOUT`] of the watchdog: naming the
/// frames is left to the stacks thread ([`submit`]).
pub(crate) fn capture(shard: &ThreadShard) -> Option<Raw> {
    collect(request(shard)?)
}

/// A capture asked of a thread and not yet collected.
pub(crate) struct Requested<'a> {
    slot: &'a CaptureSlot,
    start: Instant,
}

/// Asks `shard`'s thread for its stack without waiting for the answer, so
/// that several threads are interrupted at once and answer side by side.
pub(crate) fn request(shard: &ThreadShard) -> Option<Requested<'_>> {
    let slot = shard.capture.as_ref()?;
    let sig = signal::signal()?;
    let armed = [slot_state::IDLE, slot_state::DONE]
        .into_iter()
        .any(|from| {
            slot.state
                .compare_exchange(from, slot_state::ARMED, AcqRel, Relaxed)
                .is_ok()
        });
    if !armed {
        return None; // Another doctor's watchdog is capturing this thread.
    }
    if !signal::request(sig, shard.tid) {
        slot.state.store(slot_state::IDLE, Release);
        return None;
    }
    Some(Requested {
        slot,
        start: Instant::now(),
    })
}

/// Waits for a requested capture, [`CAPTURE_TIMEOUT`] at most from its
/// request (the handler already writing gets twice that).
pub(crate) fn collect(r: Requested<'_>) -> Option<Raw> {
    let Requested { slot, start } = r;
    loop {
        match slot.state.load(Acquire) {
            slot_state::DONE => break,
            slot_state::WRITING if start.elapsed() < CAPTURE_TIMEOUT * 2 => {}
            _ if start.elapsed() < CAPTURE_TIMEOUT => {}
            _ => {
                // Abandon: the handler claims only an armed slot.
                if slot
                    .state
                    .compare_exchange(slot_state::ARMED, slot_state::IDLE, AcqRel, Acquire)
                    .is_ok()
                {
                    return None;
                }
                if slot.state.load(Acquire) != slot_state::DONE {
                    return None; // Still writing: left to finish on its own.
                }
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    let regs = [&slot.pc, &slot.sp, &slot.fp, &slot.lr].map(|r| r.load(Relaxed));
    let stack = slot.copied();
    slot.state.store(slot_state::IDLE, Release);
    Some(Raw { regs, stack })
}

/// Unwinds and names a capture, innermost frame first. Reads the modules'
/// debug info on first use.
fn symbolize(raw: &Raw) -> Vec<Frame> {
    name_fully(&unwind(raw))
        .into_iter()
        .map(|(f, _)| f)
        .collect()
}

/// Runs `f` on the process's symbolizer, made on first use (modules mapped,
/// unwind info and symbol tables read; no DWARF index yet).
fn with_symbolizer<R>(f: impl FnOnce(&mut Symbolizer) -> R) -> R {
    let mut sym = lock(&SYMBOLIZER);
    f(sym.get_or_insert_with(Symbolizer::new))
}

/// A capture's return addresses, innermost first, each with its frame's
/// canonical frame address.
fn unwind(raw: &Raw) -> Vec<(u64, u64)> {
    with_symbolizer(|sym| sym.unwind(raw.regs, &raw.stack))
}

/// The frames at `addrs` ([`unwind`]) with inlined frames and `file:line`,
/// each with its physical frame's canonical frame address (inlined frames
/// share their caller's). Builds a module's DWARF index on first use.
fn name_fully(addrs: &[(u64, u64)]) -> Vec<(Frame, u64)> {
    with_symbolizer(|sym| {
        addrs
            .iter()
            .flat_map(|&(a, cfa)| sym.frames_at(a).into_iter().map(move |f| (f, cfa)))
            .collect()
    })
}

/// The frames at `addrs` by the symbol table alone (one per physical
/// frame, no `file:line`): enough to tell one stuck poll from many, never
/// building a DWARF index.
fn name_by_symbols(addrs: &[(u64, u64)]) -> Vec<(Frame, u64)> {
    with_symbolizer(|sym| {
        addrs
            .iter()
            .map(|&(a, cfa)| (sym.symbol_at(a), cfa))
            .collect()
    })
}

/// A hash of the copied stack bytes from `lo` up to `hi` (addresses):
/// frames that stay as they are while their callee runs.
fn stack_hash(raw: &Raw, lo: u64, hi: u64) -> u64 {
    let sp = raw.regs[1];
    let at = |a: u64| (a.saturating_sub(sp) as usize).min(raw.stack.len());
    let (lo, hi) = (at(lo), at(hi));
    crate::util::fnv1a(raw.stack[lo..hi.max(lo)].iter().copied())
}

/// What the watchdog would have logged of a new stall, logged by the
/// stacks thread once the culprit is known.
pub(crate) struct Log {
    pub(crate) span: String,
    pub(crate) location: String,
    pub(crate) thread: String,
    pub(crate) running_ms: u64,
}

/// A stall: the doctor, the stall's identity.
type StallId = (u64, (usize, u64));

enum Msg {
    Sample {
        shared: Weak<Shared>,
        stall: StallId,
        site: u32,
        raw: Raw,
        log: Option<Log>,
    },
    Ended {
        shared: Weak<Shared>,
        stall: StallId,
    },
    /// A sample of a worker in no marked poll while the runtime lags.
    Unmarked {
        shared: Weak<Shared>,
        sample: unmarked::Sample,
    },
    UnmarkedEnded {
        shared: Weak<Shared>,
        worker: (u64, usize),
    },
}

/// Hands a capture to the stacks thread (started on first use), which
/// unwinds and names it so the watchdog never waits on debug info.
pub(crate) fn submit(
    shared: &Arc<Shared>,
    identity: (usize, u64),
    site: u32,
    raw: Raw,
    log: Option<Log>,
) -> bool {
    send(Msg::Sample {
        shared: Arc::downgrade(shared),
        stall: (shared.id, identity),
        site,
        raw,
        log,
    })
}

/// The stall is over (or its samples are spent): count its verdict once.
pub(crate) fn ended(shared: &Arc<Shared>, identity: (usize, u64)) {
    send(Msg::Ended {
        shared: Arc::downgrade(shared),
        stall: (shared.id, identity),
    });
}

/// Hands a sample of a worker in no marked poll (see [`unmarked`]) to the
/// stacks thread.
pub(crate) fn submit_unmarked(
    shared: &Arc<Shared>,
    worker: usize,
    thread: String,
    at: u64,
    late_ns: u64,
    raw: Raw,
) -> bool {
    send(Msg::Unmarked {
        shared: Arc::downgrade(shared),
        sample: unmarked::Sample {
            worker: (shared.id, worker),
            thread,
            at,
            late_ns,
            raw,
        },
    })
}

/// The worker's unmarked run is over (it moved on, or the lag ended).
pub(crate) fn unmarked_ended(shared: &Arc<Shared>, worker: usize) {
    send(Msg::UnmarkedEnded {
        shared: Arc::downgrade(shared),
        worker: (shared.id, worker),
    });
}

fn send(msg: Msg) -> bool {
    static TX: OnceLock<Option<Mutex<mpsc::Sender<Msg>>>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("tokio-doctor-stacks".into())
            .spawn(move || stacks_thread(rx))
            .ok()?;
        Some(Mutex::new(tx))
    });
    tx.as_ref().is_some_and(|tx| lock(tx).send(msg).is_ok())
}

fn stacks_thread(rx: mpsc::Receiver<Msg>) {
    let mut samplers: HashMap<StallId, StallSampler> = HashMap::new();
    let mut runs = unmarked::Runs::default();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Unmarked { shared, sample } => {
                if let Some(shared) = shared.upgrade() {
                    let addrs = unwind(&sample.raw);
                    runs.sample(&shared, &sample, addrs);
                }
            }
            Msg::UnmarkedEnded { shared, worker } => {
                if let Some(shared) = shared.upgrade() {
                    runs.end(&shared, worker);
                }
            }
            Msg::Sample {
                shared,
                stall,
                site,
                raw,
                log,
            } => {
                let Some(shared) = shared.upgrade() else {
                    continue;
                };
                let sampler = samplers
                    .entry(stall)
                    .or_insert_with(|| StallSampler::new(site));
                sampler.site = site;
                if let Some(v) = sampler.add(Some(symbolize(&raw))) {
                    if let Some(log) = log {
                        let culprit = match (&v.culprit, &v.innermost) {
                            (Some(c), _) => c.to_string(),
                            (None, Some(i)) => format!("none of the service's own; innermost {i}"),
                            (None, None) => "(no stack)".into(),
                        };
                        tracing::warn!(
                            target: "tokio_doctor",
                            span = %log.span,
                            location = %log.location,
                            thread = %log.thread,
                            running_ms = log.running_ms,
                            culprit = %culprit,
                            "a poll is blocking a runtime worker right now (see /doctor)"
                        );
                    }
                    shared.frames.set_live(site, v);
                }
            }
            Msg::Ended { shared, stall } => {
                let Some(mut sampler) = samplers.remove(&stall) else {
                    continue;
                };
                if let (Some(shared), Some(v)) = (shared.upgrade(), sampler.settle()) {
                    shared.frames.settle(sampler.site, v);
                }
            }
        }
    }
}

fn name(f: &Frame) -> FrameName {
    FrameName {
        function: f.function.clone(),
        location: f.location.clone(),
    }
}

/// What the captures of one stall have said so far.
#[derive(Debug)]
pub(crate) struct StallSampler {
    pub(crate) site: u32,
    /// Each culprit seen, with its samples; the latest stack per culprit.
    votes: Vec<(Option<FrameName>, u32, StallStack)>,
    settled: bool,
}

impl StallSampler {
    pub(crate) fn new(site: u32) -> StallSampler {
        StallSampler {
            site,
            votes: Vec::new(),
            settled: false,
        }
    }

    /// Notes a capture (or a failed one, `None`) and returns the verdict.
    pub(crate) fn add(&mut self, frames: Option<Vec<Frame>>) -> Option<StallStack> {
        if let Some(frames) = frames.filter(|f| !f.is_empty()) {
            let culprit = frames
                .iter()
                .find(|f| f.origin == Origin::Service)
                .map(name);
            let stack = StallStack {
                culprit: culprit.clone(),
                innermost: frames.first().map(name),
                top: frames.iter().take(TOP_FRAMES).map(name).collect(),
                agreeing: 0,
                samples: 0,
            };
            match self.votes.iter_mut().find(|v| v.0 == culprit) {
                Some(v) => {
                    v.1 += 1;
                    v.2 = stack;
                }
                None => self.votes.push((culprit, 1, stack)),
            }
        }
        self.verdict()
    }

    /// The culprit most captures agree on (the latest of equals).
    pub(crate) fn verdict(&self) -> Option<StallStack> {
        let samples = self.votes.iter().map(|v| v.1).sum();
        let best = self
            .votes
            .iter()
            .rev()
            .max_by_key(|v| (v.1, v.0.is_some()))?;
        let mut s = best.2.clone();
        s.agreeing = best.1;
        s.samples = samples;
        Some(s)
    }

    /// Marks the verdict final (counted once); returns it the first time.
    pub(crate) fn settle(&mut self) -> Option<StallStack> {
        if std::mem::replace(&mut self.settled, true) {
            return None;
        }
        self.verdict()
    }
}
