//! Stack capture of a stalled worker (Linux, x86_64 and aarch64): the exact
//! frame a blocking poll is stuck in.
//!
//! When the watchdog sees a poll past the threshold it asks that worker
//! thread, and only that one, for its stack: it arms the thread's
//! preallocated [`CaptureSlot`](crate::state::shard::CaptureSlot) and sends
//! the capture signal ([`signal`]). The handler copies the registers and at
//! most 64 KiB of stack into the slot and returns; the watchdog unwinds and
//! names the copy ([`symbols`]) on its own thread. A capture that does not
//! complete within [`CAPTURE_TIMEOUT`] is abandoned (the handler then finds
//! the slot disarmed and copies nothing). A long stall is sampled again at
//! 2x, 4x, ... the threshold, [`MAX_SAMPLES`] times at most, and the culprit
//! most samples agree on wins. Nothing of this runs while no poll is
//! stalled: the signal handler is installed and the binary's debug info
//! read on the first capture.

use std::sync::atomic::Ordering::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lock::lock;
use crate::state::frames::{FrameName, StallStack};
use crate::state::location::Origin;
use crate::state::shard::{slot_state, ThreadShard};

pub(crate) mod signal;
pub(crate) mod symbols;

use symbols::{Frame, Symbolizer};

/// Longest wait for a thread to answer a capture request.
pub(crate) const CAPTURE_TIMEOUT: Duration = Duration::from_millis(5);
/// Captures per stall at most: at 1x, 2x, 4x ... 32x the threshold.
pub(crate) const MAX_SAMPLES: u32 = 6;
/// Frames kept as evidence.
const TOP_FRAMES: usize = 8;

static SYMBOLIZER: Mutex<Option<Symbolizer>> = Mutex::new(None);

/// Captures the stack of `shard`'s thread, innermost frame first; `None`
/// when capture is off, busy, or the thread did not answer in time.
pub(crate) fn capture(shard: &ThreadShard) -> Option<Vec<Frame>> {
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
    let start = Instant::now();
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
    let mut sym = lock(&SYMBOLIZER);
    let sym = sym.get_or_insert_with(Symbolizer::new);
    let frames = sym
        .unwind(regs, &stack)
        .into_iter()
        .flat_map(|a| sym.frames_at(a))
        .collect();
    Some(frames)
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
    taken: u32,
    next_ns: u64,
    /// Each culprit seen, with its samples; the latest stack per culprit.
    votes: Vec<(Option<FrameName>, u32, StallStack)>,
    settled: bool,
}

impl StallSampler {
    pub(crate) fn new(site: u32, threshold_ns: u64) -> StallSampler {
        StallSampler {
            site,
            taken: 0,
            next_ns: threshold_ns,
            votes: Vec::new(),
            settled: false,
        }
    }

    /// Whether a capture is due for a stall running for `running_ns`.
    pub(crate) fn due(&self, running_ns: u64) -> bool {
        !self.settled && self.taken < MAX_SAMPLES && running_ns >= self.next_ns
    }

    /// Notes a capture (or a failed one, `None`) and returns the verdict.
    pub(crate) fn add(&mut self, frames: Option<Vec<Frame>>) -> Option<StallStack> {
        self.taken += 1;
        self.next_ns = self.next_ns.saturating_mul(2);
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

    /// Whether every capture for this stall has been taken.
    pub(crate) fn spent(&self) -> bool {
        self.taken >= MAX_SAMPLES
    }

    /// Marks the verdict final (counted once); returns it the first time.
    pub(crate) fn settle(&mut self) -> Option<StallStack> {
        if std::mem::replace(&mut self.settled, true) {
            return None;
        }
        self.verdict()
    }
}
