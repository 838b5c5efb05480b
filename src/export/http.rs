//! The HTTP endpoint: `/metrics` (Prometheus text), `/doctor` (the report
//! as an HTML page, or JSON when asked with `Accept: application/json`) and
//! `/doctor.json` (the report as JSON).
//!
//! A deliberately small HTTP/1.1 server: one request per connection, a
//! bounded request head, a deadline per connection and a cap on concurrent
//! connections, so a slow or hostile scraper costs the service a socket,
//! never a worker. Past the cap, connections wait in the kernel's accept
//! queue until a slot frees. Responses are built on the blocking pool, so a
//! crowd of scrapers never takes the runtime's workers from the service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::state::Shared;

/// Longest request head we read; anything longer is refused.
const MAX_HEAD: usize = 8 * 1024;
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send its request and read the answer.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (socket, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(_) => {
                // Out of file descriptors and the like: back off, retry.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, handle(socket, peer, shared)).await;
        });
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
pub(crate) fn route(req: Option<Request<'_>>, shared: &Shared) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    let Some(req) = req else {
        return (400, TEXT, "bad request\n".into());
    };
    if req.method != "GET" && req.method != "HEAD" {
        return (405, TEXT, "only GET and HEAD are served\n".into());
    }
    match req.path {
        "/metrics" => (200, super::text::CONTENT_TYPE, super::render_prometheus(shared)),
        "/doctor" if !req.accept_json => {
            let report = super::report::build(shared);
            (200, super::page::CONTENT_TYPE, super::page::render(&report))
        }
        "/doctor" | "/doctor.json" => {
            let report = super::report::build(shared);
            let body = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into());
            (200, JSON, body + "\n")
        }
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
) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        if len == buf.len() {
            break;
        }
        let n = socket.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    buf.truncate(len);
    if !admitted(&shared, peer) {
        // Answered only after the request is read: closing on a client
        // still writing would reset the connection before it sees the 403.
        let body = "forbidden: this address is not in the allow-list (TOKIO_DOCTOR_ALLOW)\n";
        socket.write_all(&response(403, TEXT, body, false)).await?;
        return socket.shutdown().await;
    }
    // Rendering walks every site: keep it off the service's workers.
    let out = match tokio::task::spawn_blocking(move || respond(&buf, &shared)).await {
        Ok(out) => out,
        // The runtime is shutting down.
        Err(_) => return Ok(()),
    };
    socket.write_all(&out).await?;
    socket.shutdown().await
}

const TEXT: &str = "text/plain; charset=utf-8";

/// The whole response to `request`, the bytes a client sent up to and
/// including the blank line after its head (or the first [`MAX_HEAD`]
/// bytes). Pure apart from reading the doctor's state: the fuzz target
/// drives it with arbitrary bytes.
pub(crate) fn respond(request: &[u8], shared: &Shared) -> Vec<u8> {
    let head = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|end| std::str::from_utf8(&request[..end]).ok());
    let req = head.and_then(parse_head);
    let is_head = req.as_ref().is_some_and(|r| r.method == "HEAD");
    let (status, content_type, body) = route(req, shared);
    response(status, content_type, &body, is_head)
}

fn response(status: u16, content_type: &str, body: &str, is_head: bool) -> Vec<u8> {
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
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n{csp}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
    out
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
