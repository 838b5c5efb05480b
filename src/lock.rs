//! The one lock helper: a poisoned mutex is still used.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex that may have been poisoned by a panic elsewhere: all our
/// mutex-protected data stays consistent across a panic, so never propagate.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
