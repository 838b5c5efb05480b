//! A server holding many open keep-alive connections, one task each from
//! one accept loop, is tokio's design, not a task per item: `excess_tasks`
//! and `unbounded_fanout` stay silent, through `tokio_doctor::spawn` and
//! plain `tokio::spawn`, while the connections open, while they are held
//! and serve requests, and after they close. (The bad shapes, a burst of
//! tasks per item and a join over a whole list, fire in their own tests.)
//!
//! The clients run in a child process (this test binary again, its ignored
//! `client_process` test), so the server's process holds one descriptor
//! per connection. The 20,000-connection tests raise the soft descriptor
//! limit to the hard one and hold as many connections as that allows,
//! printing the number when the host allows fewer than 20,000.
mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_doctor::{Doctor, FindingKind};
use tracing::{info_span, Instrument};

/// One test at a time: they share the process's descriptors.
static SERIAL: Mutex<()> = Mutex::new(());

const CLIENT_ENV: &str = "TOKIO_DOCTOR_TEST_CONNECTION_CLIENT";

fn doctor() -> Doctor {
    // The sampling the bad-shape tests use, so the rules are as sensitive.
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .task_window(Duration::from_millis(1_000))
        .build()
        .unwrap()
}

/// Raises the soft descriptor limit to the hard one; returns the new soft.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid resource and out pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: a valid resource and a limit no higher than the hard one.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    // `rlim_t` is not `u64` on every target.
    #[allow(clippy::unnecessary_cast)]
    let soft = lim.rlim_cur as u64;
    soft
}

/// One connection: a request per line, a reply per request, until the
/// client closes it (keep-alive).
async fn connection(socket: TcpStream) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if write.write_all(b"+PONG\n").await.is_err() {
                    return;
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Spawn {
    Doctor,
    Tokio,
}

/// The accept loop: one task per connection, in a span per connection
/// under the loop's span, as a traced server does.
async fn accept_loop(listener: TcpListener, spawn: Spawn, accepted: Arc<AtomicU64>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        accepted.fetch_add(1, Relaxed);
        let task = connection(socket).instrument(info_span!("connection"));
        match spawn {
            Spawn::Doctor => drop(tokio_doctor::spawn(task)), // MARK: doctor spawn
            Spawn::Tokio => drop(tokio::spawn(task)),         // MARK: tokio spawn
        }
    }
}

fn held_connections_are_silent(wanted: u64, spawn: Spawn) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let limit = raise_fd_limit();
    // The server's side only (the clients are another process), less what
    // the runtime, the harness and the listener hold.
    let n = wanted.min(limit.saturating_sub(200));
    if n < wanted {
        eprintln!(
            "descriptor limit {limit}: holding {n} connections, not {wanted} (raise the hard \
             limit, `ulimit -Hn`, to run the full size)"
        );
    }
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let server = tokio::spawn(
            accept_loop(listener, spawn, accepted.clone()).instrument(info_span!("accept_loop")),
        );
        let mut client = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "client_process",
                "--include-ignored",
                "--nocapture",
            ])
            .env(CLIENT_ENV, format!("{addr} {n}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let opened = Instant::now();
        let all_in =
            support::eventually(Duration::from_secs(60), || accepted.load(Relaxed) >= n).await;
        assert!(
            all_in,
            "{} of {n} connections accepted",
            accepted.load(Relaxed)
        );
        eprintln!("{n} connections open in {:?}", opened.elapsed());
        // Held, serving requests: longer than the task window, many samples.
        for kind in [FindingKind::ExcessTasks, FindingKind::UnboundedFanout] {
            support::expect_none(kind)
                .during(Duration::from_millis(1_500))
                .on_async(&doctor)
                .await;
        }
        // The client says how many requests it got answered while held.
        drop(client.stdin.take());
        let mut out = String::new();
        client
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(client.wait().unwrap().success(), "client failed: {out}");
        assert!(out.contains("answered"), "{out}");
        // All closed at once: completions, not spawns.
        for kind in [FindingKind::ExcessTasks, FindingKind::UnboundedFanout] {
            support::expect_none(kind)
                .during(Duration::from_millis(1_000))
                .on_async(&doctor)
                .await;
        }
        server.abort();
    });
    // Counted where the detectors look: the sites did see every task.
    let text = doctor.render_prometheus();
    let site = match spawn {
        Spawn::Doctor => Some(support::line_of(
            include_str!("a_task_per_connection_is_neither_excess_tasks_nor_unbounded_fanout.rs"),
            "MARK: doctor spawn",
        )),
        Spawn::Tokio if cfg!(tokio_unstable) => Some(support::line_of(
            include_str!("a_task_per_connection_is_neither_excess_tasks_nor_unbounded_fanout.rs"),
            "MARK: tokio spawn",
        )),
        Spawn::Tokio => None,
    };
    if let Some(line) = site {
        let spawned = format!(
            "tokio_doctor_spawn_site_spawned_total{{span=\"runtime.spawn\",location=\"{}:{line}\"}} {n}",
            file!()
        );
        assert!(text.contains(&spawned), "{spawned} in\n{text}");
    }
}

#[test]
fn a_thousand_connections_through_tokio_doctor_spawn_are_silent() {
    held_connections_are_silent(1_000, Spawn::Doctor);
}

#[test]
fn a_thousand_connections_through_tokio_spawn_are_silent() {
    held_connections_are_silent(1_000, Spawn::Tokio);
}

#[test]
fn twenty_thousand_connections_through_tokio_doctor_spawn_are_silent() {
    held_connections_are_silent(20_000, Spawn::Doctor);
}

#[test]
fn twenty_thousand_connections_through_tokio_spawn_are_silent() {
    held_connections_are_silent(20_000, Spawn::Tokio);
}

/// The clients, run by the tests above in a child process: opens the
/// connections as fast as it can, then sends a request on each in turn
/// until its stdin closes (at most 60 s), and prints how many were
/// answered.
#[test]
#[ignore = "the client half of the connection tests, which run it in a child process"]
fn client_process() {
    let Ok(spec) = std::env::var(CLIENT_ENV) else {
        return;
    };
    raise_fd_limit();
    let (addr, n) = spec.split_once(' ').unwrap();
    let n: usize = n.parse().unwrap();
    // One descriptor per connection: no clone for the writing half.
    let connect = |_| {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Close with a reset: 20,000 closes in TIME_WAIT would take the
        // loopback's ephemeral ports from the next test (or next run).
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and option of the right size.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        s
    };
    // Clients arrive in waves of 256 (a backlog drained back to back, as a
    // busy server sees it), each wave answered once before the next: the
    // kernel completes a handshake before the server accepts it, so
    // without that a slow host overflows the accept queue and resets the
    // newest connections, which is the host's limit, not the doctor's.
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        let wave: Vec<std::net::TcpStream> = (conns.len()..n.min(conns.len() + 256))
            .map(connect)
            .collect();
        for mut s in wave.iter() {
            s.write_all(b"PING\n").unwrap();
            let mut reply = [0u8; 6];
            s.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"+PONG\n");
        }
        conns.extend(wave);
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        d.store(true, Relaxed);
    });
    let (until, mut answered) = (Instant::now() + Duration::from_secs(60), 0u64);
    'outer: while Instant::now() < until {
        for mut s in conns.iter() {
            if done.load(Relaxed) {
                break 'outer;
            }
            s.write_all(b"PING\n").unwrap();
            let mut reply = [0u8; 6];
            s.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"+PONG\n");
            answered += 1;
            // Keep-alive, mostly idle: a few thousand requests a second
            // across all connections.
            if answered % 64 == 0 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    println!("answered {answered}");
}
