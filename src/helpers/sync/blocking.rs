//! `parking_lot` locks whose guards are held scopes. Holding one of these
//! across an `.await` blocks every task that wants it *and* the worker
//! threads they run on; the doctor reports it as `held_across_await`.

use std::panic::Location;

use crate::helpers::held::{held_at, HeldGuard};

/// A `parking_lot::Mutex` whose guards are held scopes.
///
/// # Examples
/// ```
/// let hits = tokio_doctor::sync::blocking::Mutex::named("hits", 0u64);
/// *hits.lock() += 1;
/// assert_eq!(*hits.lock(), 1);
/// ```
#[derive(Debug)]
pub struct Mutex<T: ?Sized> {
    name: &'static str,
    inner: parking_lot::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A mutex reported as resource `"mutex"`.
    pub fn new(value: T) -> Self {
        Self::named("mutex", value)
    }

    /// A mutex reported as resource `name`.
    pub fn named(name: &'static str, value: T) -> Self {
        Mutex {
            name,
            inner: parking_lot::Mutex::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, blocking the thread until free; the guard is a held scope.
    #[track_caller]
    pub fn lock(&self) -> HeldGuard<parking_lot::MutexGuard<'_, T>> {
        let at = Location::caller();
        HeldGuard::new(held_at(self.name, self.inner.lock(), at))
    }

    /// Locks if free, without blocking.
    #[track_caller]
    pub fn try_lock(&self) -> Option<HeldGuard<parking_lot::MutexGuard<'_, T>>> {
        let at = Location::caller();
        self.inner
            .try_lock()
            .map(|g| HeldGuard::new(held_at(self.name, g, at)))
    }
}

/// A `parking_lot::RwLock` whose guards are held scopes.
///
/// # Examples
/// ```
/// let routes = tokio_doctor::sync::blocking::RwLock::named("routes", vec!["/"]);
/// routes.write().push("/health");
/// assert_eq!(routes.read().len(), 2);
/// ```
#[derive(Debug)]
pub struct RwLock<T: ?Sized> {
    name: &'static str,
    inner: parking_lot::RwLock<T>,
}

impl<T> RwLock<T> {
    /// A lock reported as resource `"rwlock"`.
    pub fn new(value: T) -> Self {
        Self::named("rwlock", value)
    }

    /// A lock reported as resource `name`.
    pub fn named(name: &'static str, value: T) -> Self {
        RwLock {
            name,
            inner: parking_lot::RwLock::new(value),
        }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Shared access; the guard is a held scope.
    #[track_caller]
    pub fn read(&self) -> HeldGuard<parking_lot::RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        HeldGuard::new(held_at(self.name, self.inner.read(), at))
    }

    /// Exclusive access; the guard is a held scope.
    #[track_caller]
    pub fn write(&self) -> HeldGuard<parking_lot::RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        HeldGuard::new(held_at(self.name, self.inner.write(), at))
    }
}
