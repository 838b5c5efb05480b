//! tokio `mpsc` channels that count what goes through them.

use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{SendError, TryRecvError, TrySendError};

use super::registry::{register, QueueStats};

/// Creates a bounded channel named `name` (see [`tokio::sync::mpsc::channel`]).
/// When it is full, `send` waits: back-pressure working, reported as
/// `tokio_doctor_queue_saturation`, never as growth.
///
/// # Panics
/// Like tokio's, if `capacity` is 0.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = tokio_doctor::queue::channel::<&str>("emails", 100);
/// tx.send("hello").await.unwrap();
/// assert_eq!(rx.recv().await, Some("hello"));
/// # }
/// ```
#[track_caller]
pub fn channel<T>(name: &'static str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let stats = register(name, Some(capacity), Location::caller());
    let (tx, rx) = mpsc::channel(capacity);
    (
        Sender {
            inner: tx,
            stats: stats.clone(),
        },
        Receiver { inner: rx, stats },
    )
}

/// Creates an unbounded channel named `name` (see
/// [`tokio::sync::mpsc::unbounded_channel`]). Its depth is watched for
/// steady growth: the `queue_growth` finding.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = tokio_doctor::queue::unbounded_channel::<u32>("events");
/// tx.send(7).unwrap();
/// assert_eq!(rx.len(), 1);
/// assert_eq!(rx.recv().await, Some(7));
/// # }
/// ```
#[track_caller]
pub fn unbounded_channel<T>(name: &'static str) -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let stats = register(name, None, Location::caller());
    let (tx, rx) = mpsc::unbounded_channel();
    (
        UnboundedSender {
            inner: tx,
            stats: stats.clone(),
        },
        UnboundedReceiver { inner: rx, stats },
    )
}

fn sent(stats: &QueueStats) {
    stats.enqueued.fetch_add(1, Relaxed);
}

fn received(stats: &QueueStats, n: usize) {
    stats.dequeued.fetch_add(n as u64, Relaxed);
}

/// The sending half of [`channel`]; mirrors [`tokio::sync::mpsc::Sender`].
#[derive(Debug)]
pub struct Sender<T> {
    inner: mpsc::Sender<T>,
    stats: Arc<QueueStats>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<T> Sender<T> {
    /// Sends a value, waiting while the channel is full.
    ///
    /// # Errors
    /// The value back, if the receiver is gone.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value).await?;
        sent(&self.stats);
        Ok(())
    }

    /// Sends a value if there is room now.
    ///
    /// # Errors
    /// `Full` or `Closed`, with the value.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(value)?;
        sent(&self.stats);
        Ok(())
    }

    /// Sends from synchronous code, blocking the thread while full. Never
    /// call it on a runtime worker.
    ///
    /// # Errors
    /// The value back, if the receiver is gone.
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.blocking_send(value)?;
        sent(&self.stats);
        Ok(())
    }

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The capacity the channel was created with.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Waits until the receiver is gone.
    pub async fn closed(&self) {
        self.inner.closed().await
    }
}

/// The receiving half of [`channel`]; mirrors [`tokio::sync::mpsc::Receiver`].
#[derive(Debug)]
pub struct Receiver<T> {
    inner: mpsc::Receiver<T>,
    stats: Arc<QueueStats>,
}

impl<T> Receiver<T> {
    /// Receives the next value; `None` once every sender is gone and the
    /// channel is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let v = self.inner.recv().await;
        if v.is_some() {
            received(&self.stats, 1);
        }
        v
    }

    /// Receives up to `limit` values into `buffer`; returns how many.
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        let n = self.inner.recv_many(buffer, limit).await;
        received(&self.stats, n);
        n
    }

    /// Receives a value if one is ready.
    ///
    /// # Errors
    /// `Empty` or `Disconnected`.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let v = self.inner.try_recv()?;
        received(&self.stats, 1);
        Ok(v)
    }

    /// Receives from synchronous code, blocking the thread. Never call it
    /// on a runtime worker.
    pub fn blocking_recv(&mut self) -> Option<T> {
        let v = self.inner.blocking_recv();
        if v.is_some() {
            received(&self.stats, 1);
        }
        v
    }

    /// Closes the channel to senders; queued values can still be received.
    pub fn close(&mut self) {
        self.inner.close()
    }

    /// Values waiting in the channel.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no value is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// The sending half of [`unbounded_channel`]; mirrors
/// [`tokio::sync::mpsc::UnboundedSender`].
#[derive(Debug)]
pub struct UnboundedSender<T> {
    inner: mpsc::UnboundedSender<T>,
    stats: Arc<QueueStats>,
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            inner: self.inner.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<T> UnboundedSender<T> {
    /// Sends a value; never waits.
    ///
    /// # Errors
    /// The value back, if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value)?;
        sent(&self.stats);
        Ok(())
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Waits until the receiver is gone.
    pub async fn closed(&self) {
        self.inner.closed().await
    }
}

/// The receiving half of [`unbounded_channel`]; mirrors
/// [`tokio::sync::mpsc::UnboundedReceiver`].
#[derive(Debug)]
pub struct UnboundedReceiver<T> {
    inner: mpsc::UnboundedReceiver<T>,
    stats: Arc<QueueStats>,
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next value; `None` once every sender is gone and the
    /// channel is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let v = self.inner.recv().await;
        if v.is_some() {
            received(&self.stats, 1);
        }
        v
    }

    /// Receives up to `limit` values into `buffer`; returns how many.
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        let n = self.inner.recv_many(buffer, limit).await;
        received(&self.stats, n);
        n
    }

    /// Receives a value if one is ready.
    ///
    /// # Errors
    /// `Empty` or `Disconnected`.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let v = self.inner.try_recv()?;
        received(&self.stats, 1);
        Ok(v)
    }

    /// Receives from synchronous code, blocking the thread. Never call it
    /// on a runtime worker.
    pub fn blocking_recv(&mut self) -> Option<T> {
        let v = self.inner.blocking_recv();
        if v.is_some() {
            received(&self.stats, 1);
        }
        v
    }

    /// Closes the channel to senders; queued values can still be received.
    pub fn close(&mut self) {
        self.inner.close()
    }

    /// Values waiting in the channel.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no value is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl std::fmt::Debug for QueueStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStats")
            .field("name", &self.name)
            .finish()
    }
}
