//! A request handler, an `#[instrument]`ed `async fn` awaited inline by its
//! connection loop, applies a command and writes the reply to a buffered
//! socket writer. The buffer has room, so the write never waits and every
//! call finishes in its first poll, thousands of times a second: the
//! shape of a well-known tokio example server under a standard benchmark.
//! An inline future costs next to nothing (no task, no scheduling), and
//! making a function that does socket I/O synchronous would be wrong:
//! `trivial_async` stays silent.
mod support;

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio_doctor::{Doctor, FindingKind};

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .task_window(Duration::from_millis(1_000))
        .build()
        .unwrap()
}

/// Applies one command and writes its reply; flushes only when the client
/// has nothing more in flight, as a pipelining server does.
#[tracing::instrument(skip_all)]
async fn handle(out: &mut BufWriter<OwnedWriteHalf>, line: &str, flush: bool) -> usize {
    let reply = if line.starts_with("GET") {
        "$1\r\nv\r\n"
    } else {
        "+OK\r\n"
    };
    out.write_all(reply.as_bytes()).await.unwrap();
    if flush {
        out.flush().await.unwrap();
    }
    reply.len()
}

async fn serve(listener: TcpListener) {
    let (socket, _) = listener.accept().await.unwrap();
    let (read, write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut out = BufWriter::new(write);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap() == 0 {
            return;
        }
        let flush = lines.buffer().is_empty();
        handle(&mut out, &line, flush).await;
    }
}

/// A pipelining client: batches of 64 commands, then reads the 64 replies.
async fn load(addr: std::net::SocketAddr, secs: f64) -> u64 {
    let socket = TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = socket.into_split();
    let mut replies = BufReader::new(read);
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let (mut done, mut line) = (0u64, String::new());
    let batch: String = (0..64)
        .map(|i| if i % 2 == 0 { "SET k v\n" } else { "GET k\n" })
        .collect();
    while Instant::now() < until {
        write.write_all(batch.as_bytes()).await.unwrap();
        let mut got = 0;
        while got < 64 {
            line.clear();
            replies.read_line(&mut line).await.unwrap();
            if line.starts_with('+') || line.starts_with('$') {
                got += 1;
            }
        }
        done += 64;
    }
    done
}

#[test]
fn an_instrumented_handler_whose_buffered_write_never_waits_is_silent() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let served = rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener));
        let served = tokio::spawn(load(addr, 2.5)).await.unwrap();
        server.await.unwrap();
        served
    });
    // The shape the finding used to fire on: over the 1,000/s rate.
    assert!(served as f64 / 2.5 >= 2_000.0, "{served} commands");
    support::expect_none(FindingKind::TrivialAsync).on(&doctor);
}
