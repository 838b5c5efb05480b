//! The HTTP endpoint: `/metrics` (Prometheus text), `/doctor` (the report
//! as an HTML page, or JSON when asked with `Accept: application/json`) and
//! `/doctor.json` (the report as JSON).
//!
//! A deliberately small HTTP/1.1 server: one request per connection, a
//! bounded request head, a deadline per connection and a cap on concurrent
//! connections, so a slow or hostile scraper costs the service a socket,
//! never a worker. Past the cap, connections wait in the kernel's accept
//! queue until a slot frees.
//!
//! It runs on a thread of its own (a current-thread runtime), never on the
//! service's workers, at the lowest CPU priority the OS offers (nice 19 on
//! Linux): a crowd of scrapers then takes only the CPU the service leaves
//! idle. Scrapes within the snapshot max age share one snapshot (see
//! [`snapshot`](super::snapshot)), so the detectors run at most once per
//! age whatever the number of clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::snapshot::{Body, SnapshotCache};
use crate::state::Shared;

/// Longest request head we read; anything longer is refused.
const MAX_HEAD: usize = 8 * 1024;
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send its request head. A scraper sends it in one
/// packet; a client that trickles it (one byte per 100 ms) is cut off
/// after this, so even a crowd of such clients holding every slot delays
/// a real scraper by at most about this long.
const HEAD_DEADLINE: Duration = Duration::from_secs(1);
/// Time a client has to send its request and read the answer.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// Connections accepted per second at most, after a burst of
/// [`ACCEPT_BURST`]; more wait in the kernel's accept queue. Prometheus
/// scrapes a target every 15 s or so, so 200 a second serves a crowd of
/// dashboards, while a storm of unthrottled clients (whose connects,
/// reads and closes cost the kernel and their own process CPU beside the
/// service) is paced to what the service barely notices.
const ACCEPTS_PER_SECOND: f64 = 200.0;
const ACCEPT_BURST: f64 = 64.0;

/// The endpoint's thread; dropping it stops the endpoint and waits for the
/// thread, so the port is free again when the drop returns.
#[derive(Debug)]
pub(crate) struct Endpoint {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts serving `listener` on a thread of its own.
pub(crate) fn spawn(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    detectors: Arc<crate::detect::Detectors>,
) -> std::io::Result<Endpoint> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tokio-doctor-endpoint".into())
        .spawn(move || {
            lowest_cpu_priority();
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
            else {
                eprintln!("tokio-doctor: could not start the endpoint's runtime");
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    eprintln!("tokio-doctor: could not serve the endpoint's socket");
                    return;
                };
                tokio::select! {
                    _ = serve(listener, shared, detectors) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here drops every open connection.
        })?;
    Ok(Endpoint {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Lets the kernel prefer the service's threads over this one: on Linux a
/// thread's nice value is its own (`setpriority` on its thread id).
fn lowest_cpu_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; failure only leaves the
    // priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS as _, tid, 19);
    }
}

async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    detectors: Arc<crate::detect::Detectors>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let cache = Arc::new(SnapshotCache::new(
        shared.config.snapshot_max_age,
        detectors,
    ));
    let mut pace = Pace::new();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        pace.wait().await;
        let (socket, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(_) => {
                // Out of file descriptors and the like: back off, retry.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (shared, cache) = (shared.clone(), cache.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, handle(socket, peer, shared, cache))
                .await;
        });
    }
}

/// A token bucket for accepts: [`ACCEPT_BURST`] at once, then
/// [`ACCEPTS_PER_SECOND`].
struct Pace {
    tokens: f64,
    at: tokio::time::Instant,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            tokens: ACCEPT_BURST,
            at: tokio::time::Instant::now(),
        }
    }

    /// Waits until one more accept is allowed, and takes it.
    async fn wait(&mut self) {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * ACCEPTS_PER_SECOND;
        self.tokens = (self.tokens + refill).min(ACCEPT_BURST);
        self.at = now;
        if self.tokens < 1.0 {
            let short = (1.0 - self.tokens) / ACCEPTS_PER_SECOND;
            tokio::time::sleep(Duration::from_secs_f64(short)).await;
            self.at = tokio::time::Instant::now();
            self.tokens = 1.0;
        }
        self.tokens -= 1.0;
    }
}

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) accept_json: bool,
}

/// Parses a request head. Returns `None` for anything malformed.
pub(crate) fn parse_head(head: &str) -> Option<Request<'_>> {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let method = parts.next().filter(|m| !m.is_empty())?;
    let target = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    let accept_json = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("accept") && v.contains("application/json")
        })
    });
    Some(Request {
        method,
        path,
        accept_json,
    })
}

/// Chooses the response for a request: status, content type, body.
pub(crate) fn route(
    req: Option<Request<'_>>,
    shared: &Shared,
    cache: &SnapshotCache,
) -> (u16, &'static str, Arc<str>) {
    const JSON: &str = "application/json";
    let Some(req) = req else {
        return (400, TEXT, "bad request\n".into());
    };
    if req.method != "GET" && req.method != "HEAD" {
        return (405, TEXT, "only GET and HEAD are served\n".into());
    }
    match req.path {
        "/metrics" => (
            200,
            super::text::CONTENT_TYPE,
            cache.body(shared, Body::Metrics),
        ),
        "/doctor" if !req.accept_json => (
            200,
            super::page::CONTENT_TYPE,
            cache.body(shared, Body::Page),
        ),
        "/doctor" | "/doctor.json" => (200, JSON, cache.body(shared, Body::Json)),
        "/" => (
            200,
            TEXT,
            "tokio-doctor\n  /metrics      Prometheus metrics\n  /doctor       findings report (HTML page)\n  \
             /doctor.json  findings report (JSON)\n"
                .into(),
        ),
        _ => (404, TEXT, "not found; try /metrics or /doctor\n".into()),
    }
}

/// Whether the allow-list (if any) admits `peer`.
fn admitted(shared: &Shared, peer: SocketAddr) -> bool {
    shared
        .config
        .allow
        .as_ref()
        .is_none_or(|l| l.allows(peer.ip()))
}

async fn handle(
    mut socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    cache: Arc<SnapshotCache>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_HEAD];
    let Ok(len) = tokio::time::timeout(HEAD_DEADLINE, read_head(&mut socket, &mut buf)).await
    else {
        return Ok(()); // too slow to send a head: the slot goes to others
    };
    let len = len?;
    if len == 0 {
        return Ok(());
    }
    buf.truncate(len);
    if !admitted(&shared, peer) {
        // Answered only after the request is read: closing on a client
        // still writing would reset the connection before it sees the 403.
        let body = "forbidden: this address is not in the allow-list (TOKIO_DOCTOR_ALLOW)\n";
        socket.write_all(&response(403, TEXT, body)).await?;
        return socket.shutdown().await;
    }
    // This thread is the endpoint's own: a render that takes a while
    // holds up other scrapers (who then share its snapshot), never the
    // service.
    let (head, body) = answer(&buf, &shared, &cache);
    socket.write_all(&head).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await
}

/// Reads up to the blank line that ends a request head, or [`MAX_HEAD`]
/// bytes; 0 when the client closed first.
async fn read_head(socket: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        let n = socket.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(0);
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Ok(len)
}

const TEXT: &str = "text/plain; charset=utf-8";

/// The whole response to `request`, the bytes a client sent up to and
/// including the blank line after its head (or the first [`MAX_HEAD`]
/// bytes). Pure apart from reading the doctor's state: the fuzz target
/// drives it with arbitrary bytes.
pub(crate) fn respond(request: &[u8], shared: &Shared, cache: &SnapshotCache) -> Vec<u8> {
    let (mut out, body) = answer(request, shared, cache);
    out.extend_from_slice(body.as_bytes());
    out
}

/// The response head, and the body to send after it (empty for `HEAD`).
/// The body is the snapshot's own: many clients write the same bytes, none
/// gets a copy.
fn answer(request: &[u8], shared: &Shared, cache: &SnapshotCache) -> (Vec<u8>, Arc<str>) {
    let head = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|end| std::str::from_utf8(&request[..end]).ok());
    let req = head.and_then(parse_head);
    let is_head = req.as_ref().is_some_and(|r| r.method == "HEAD");
    let (status, content_type, body) = route(req, shared, cache);
    let head = response_head(status, content_type, body.len());
    (head, if is_head { "".into() } else { body })
}

fn response(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    let mut out = response_head(status, content_type, body.len());
    out.extend_from_slice(body.as_bytes());
    out
}

fn response_head(status: u16, content_type: &str, body_len: usize) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let csp = if content_type == super::page::CONTENT_TYPE {
        format!(
            "Content-Security-Policy: {}\r\n",
            super::page::CONTENT_SECURITY_POLICY
        )
    } else {
        String::new()
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {body_len}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n{csp}Connection: close\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_are_parsed_strictly() {
        let r =
            parse_head("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/json").unwrap();
        assert_eq!((r.method, r.path, r.accept_json), ("GET", "/metrics", true));
        assert!(parse_head("GET /metrics").is_none());
        assert!(parse_head("GET metrics HTTP/1.1").is_none());
        assert!(parse_head("GET / HTTP/2 extra").is_none());
        assert!(parse_head(" / HTTP/1.1").is_none());
        assert!(parse_head("").is_none());
    }
}
