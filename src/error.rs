//! The crate's one error type.

use std::net::SocketAddr;

/// Everything that can go wrong while configuring or starting the doctor.
///
/// Each message says what to change. Nothing on the hot path returns an
/// error: once started, the doctor degrades (and counts what it drops)
/// instead of failing the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or malformed.
    #[error("invalid tokio-doctor setting `{setting}`: {reason}")]
    InvalidConfig {
        /// The builder method or environment variable that was wrong.
        setting: String,
        /// What was wrong and what is accepted instead.
        reason: String,
    },
    /// The metrics endpoint could not bind its address.
    #[error(
        "tokio-doctor could not listen on {addr}: {source}; choose another address with \
         `.listen(..)` / TOKIO_DOCTOR_LISTEN, turn the endpoint off with `.no_endpoint()` / \
         TOKIO_DOCTOR_LISTEN=off, or keep the service running without it via \
         `.require_endpoint(false)`"
    )]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// `start()` was called outside a tokio runtime.
    #[error(
        "tokio-doctor must be started from inside a tokio runtime (call `start()` in `#[tokio::main]` \
         or inside `Runtime::block_on`)"
    )]
    NoRuntime,
    /// [`crate::Doctor::start`] was called while a [`crate::Running`] of the
    /// same doctor is alive.
    #[error("this tokio-doctor is already started; keep the first `Running` (drop it to stop)")]
    AlreadyStarted,
    /// A global tracing subscriber was already installed (from [`crate::init`]).
    #[error(
        "a global tracing subscriber is already installed; add `doctor.layer()` to it instead of \
         calling tokio_doctor::init()"
    )]
    SubscriberAlreadySet,
}
