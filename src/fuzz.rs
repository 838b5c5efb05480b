//! Entry points for the fuzz targets in `fuzz/`: every parser of outside
//! input, callable without a process environment or a socket. Not part of
//! the API; hidden from the docs and free to change.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{apply_env, Config};
use crate::state::Shared;
use crate::Error;

/// Applies `vars` as if they were the process environment, as
/// [`Doctor::from_env`](crate::Doctor::from_env) does.
///
/// # Errors
/// As [`Doctor::from_env`](crate::Doctor::from_env).
///
/// # Examples
/// ```
/// let err = tokio_doctor::fuzz::env_config(&[("TOKIO_DOCTOR_LABEL_CAP", "0")]).unwrap_err();
/// assert!(err.to_string().contains("TOKIO_DOCTOR_LABEL_CAP"));
/// ```
pub fn env_config(vars: &[(&str, &str)]) -> Result<(), Error> {
    let mut config = Config::default();
    apply_env(&mut config, |name| {
        vars.iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
}

/// The duration parser behind every duration variable.
///
/// # Examples
/// ```
/// assert!(tokio_doctor::fuzz::parse_duration("10ms").is_some());
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    crate::util::parse_duration(s)
}

/// Parses `list` as `TOKIO_DOCTOR_ALLOW` does and says whether it admits
/// `client`; `None` when the list is refused.
///
/// # Examples
/// ```
/// let ip = "10.1.2.3".parse().unwrap();
/// assert_eq!(tokio_doctor::fuzz::allow_list("10.0.0.0/8", ip), Some(true));
/// ```
pub fn allow_list(list: &str, client: IpAddr) -> Option<bool> {
    crate::config::allow::AllowList::parse(list).map(|l| l.allows(client))
}

/// The endpoint's request handling without a socket.
///
/// # Examples
/// ```
/// let endpoint = tokio_doctor::fuzz::Endpoint::new();
/// let out = endpoint.respond(b"GET /metrics HTTP/1.1\r\n\r\n");
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// ```
#[derive(Debug)]
pub struct Endpoint(Arc<Shared>, crate::export::snapshot::SnapshotCache);

impl Endpoint {
    /// An endpoint over a doctor with default settings and no spans.
    pub fn new() -> Endpoint {
        // A fresh snapshot per request, so every input runs the detectors.
        Endpoint(
            Shared::for_doctor(Config::default()),
            crate::export::snapshot::SnapshotCache::new(
                std::time::Duration::ZERO,
                Default::default(),
            ),
        )
    }

    /// The whole response (head and body) to the bytes a client sent.
    pub fn respond(&self, request: &[u8]) -> Vec<u8> {
        crate::export::http::respond(request, &self.0, &self.1)
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::new()
    }
}
