//! The small helpers every floor uses: the one lock helper, the one hash
//! and the one duration parser.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Locks a mutex that may have been poisoned by a panic elsewhere: all our
/// mutex-protected data stays consistent across a panic, so never propagate.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// FNV-1a over `bytes`: stable across runs and builds, no allocation, good
/// enough to spread a few thousand call sites or names.
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Parses `10ms`, `250us`, `1.5s`, `2m`, `100ns`. A bare number is refused:
/// a threshold without a unit is a bug waiting to happen.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => return None,
    };
    let secs = num * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}
