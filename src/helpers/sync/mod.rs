//! Drop-in locks whose guards are held scopes (see [`held`](crate::held)):
//! [`Mutex`] and [`RwLock`] over `tokio::sync`, and in [`blocking`] the
//! same over `parking_lot`. The API is the wrapped lock's; the resource
//! name is the one given to `named` (or `"mutex"` / `"rwlock"`), and the
//! `file:line` of each acquisition is recorded.

pub mod blocking;

use std::future::Future;
use std::panic::Location;

use crate::helpers::held::{held_at, HeldGuard};

/// A `tokio::sync::Mutex` whose guards are held scopes.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let orders = tokio_doctor::sync::Mutex::named("orders", Vec::new());
/// orders.lock().await.push(42);
/// assert_eq!(orders.lock().await.len(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct Mutex<T: ?Sized> {
    name: &'static str,
    inner: tokio::sync::Mutex<T>,
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
            inner: tokio::sync::Mutex::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting asynchronously; the guard is a held scope from the
    /// moment the lock is acquired.
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = HeldGuard<tokio::sync::MutexGuard<'_, T>>> + '_ {
        let at = Location::caller();
        async move { HeldGuard::new(held_at(self.name, self.inner.lock().await, at)) }
    }

    /// Locks if free, without waiting.
    ///
    /// # Errors
    /// When the lock is held elsewhere.
    #[track_caller]
    pub fn try_lock(
        &self,
    ) -> Result<HeldGuard<tokio::sync::MutexGuard<'_, T>>, tokio::sync::TryLockError> {
        let at = Location::caller();
        self.inner
            .try_lock()
            .map(|g| HeldGuard::new(held_at(self.name, g, at)))
    }

    /// The wrapped mutex.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

/// A `tokio::sync::RwLock` whose guards are held scopes.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let config = tokio_doctor::sync::RwLock::named("config", 1);
/// *config.write().await += 1;
/// assert_eq!(*config.read().await, 2);
/// # }
/// ```
#[derive(Debug)]
pub struct RwLock<T: ?Sized> {
    name: &'static str,
    inner: tokio::sync::RwLock<T>,
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
            inner: tokio::sync::RwLock::new(value),
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
    pub fn read(
        &self,
    ) -> impl Future<Output = HeldGuard<tokio::sync::RwLockReadGuard<'_, T>>> + '_ {
        let at = Location::caller();
        async move { HeldGuard::new(held_at(self.name, self.inner.read().await, at)) }
    }

    /// Exclusive access; the guard is a held scope.
    #[track_caller]
    pub fn write(
        &self,
    ) -> impl Future<Output = HeldGuard<tokio::sync::RwLockWriteGuard<'_, T>>> + '_ {
        let at = Location::caller();
        async move { HeldGuard::new(held_at(self.name, self.inner.write().await, at)) }
    }
}
