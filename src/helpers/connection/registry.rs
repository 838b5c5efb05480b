//! The process-wide table of peers.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Most distinct peers tracked; later ones share `other`.
pub(crate) const MAX_PEERS: usize = 1_000;

/// Counters of one peer.
#[derive(Debug)]
pub(crate) struct PeerStats {
    pub(crate) peer: String,
    /// Where the layer (or first record call) counting this peer was created.
    pub(crate) location: String,
    pub(crate) connections: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) connect_ns: AtomicU64,
}

static PEERS: RwLock<Vec<Arc<PeerStats>>> = RwLock::new(Vec::new());

/// Every peer seen so far.
pub(crate) fn all() -> Vec<Arc<PeerStats>> {
    PEERS.read().unwrap_or_else(|e| e.into_inner()).clone()
}

pub(crate) fn peer(name: &str, location: &'static Location<'static>) -> Arc<PeerStats> {
    if let Some(p) = PEERS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|p| p.peer == name)
    {
        return p.clone();
    }
    let mut peers = PEERS.write().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = peers.iter().find(|p| p.peer == name) {
        return p.clone();
    }
    let name = if peers.len() >= MAX_PEERS {
        "other"
    } else {
        name
    };
    if let Some(p) = peers.iter().find(|p| p.peer == name) {
        return p.clone();
    }
    let p = Arc::new(PeerStats {
        peer: name.to_string(),
        location: format!(
            "{}:{}",
            crate::state::location::stable_path(location.file(), &[]),
            location.line()
        ),
        connections: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        connect_ns: AtomicU64::new(0),
    });
    peers.push(p.clone());
    p
}

pub(crate) fn connection_at(
    peer_name: &str,
    connect_time: Duration,
    location: &'static Location<'static>,
) {
    let p = peer(peer_name, location);
    p.connections.fetch_add(1, Relaxed);
    p.connect_ns.fetch_add(
        connect_time.as_nanos().min(u64::MAX as u128) as u64,
        Relaxed,
    );
}

pub(crate) fn request_at(peer_name: &str, location: &'static Location<'static>) {
    peer(peer_name, location).requests.fetch_add(1, Relaxed);
}

/// Counts a new outbound connection to `peer` (`host:port`) that took
/// `connect_time` to establish (TCP and TLS handshakes). For clients that
/// `ConnectionLayer` (the `connections` feature) cannot wrap.
///
/// # Examples
/// ```
/// tokio_doctor::connection::record_connection("db.internal:5432", std::time::Duration::from_millis(3));
/// tokio_doctor::connection::record_request("db.internal:5432");
/// ```
#[track_caller]
pub fn record_connection(peer: &str, connect_time: Duration) {
    connection_at(peer, connect_time, Location::caller())
}

/// Counts one outbound request to `peer` (`host:port`).
///
/// # Examples
/// ```
/// tokio_doctor::connection::record_request("api.example.com:443");
/// ```
#[track_caller]
pub fn record_request(peer: &str) {
    request_at(peer, Location::caller())
}

/// `host:port` of a URI's authority, with the scheme's default port.
#[cfg_attr(not(feature = "connections"), allow(dead_code))]
pub(crate) fn peer_of(scheme: Option<&str>, host: Option<&str>, port: Option<u16>) -> String {
    let host = host.unwrap_or("unknown");
    let port = port.unwrap_or(match scheme {
        Some("https") | Some("wss") => 443,
        _ => 80,
    });
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_host_and_port_with_the_scheme_default() {
        assert_eq!(
            peer_of(Some("https"), Some("api.example.com"), None),
            "api.example.com:443"
        );
        assert_eq!(
            peer_of(Some("http"), Some("127.0.0.1"), Some(8080)),
            "127.0.0.1:8080"
        );
        assert_eq!(peer_of(None, Some("::1"), Some(80)), "[::1]:80");
    }
}
