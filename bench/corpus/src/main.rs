//! The real-world corpus run: public tokio services from crates.io, each
//! with tokio-doctor added in `main()` the way the README says, under a
//! standard load generator on loopback, doctor on vs off.
//!
//! ```text
//! cargo build --release -p tokio-doctor-corpus
//! target/release/corpus --rounds 5     # needs redis-benchmark (redis-tools) and wrk
//! ```
//!
//! | service | crate | load |
//! |---|---|---|
//! | mini-redis | `mini-redis` 0.4 (tokio's example server) | `redis-benchmark -t set,get -n N -c C` |
//! | httpmock | `httpmock` 0.8 standalone server (hyper 1) | `wrk -t1 -cC -dSs` on one mock |
//!
//! Every round starts a fresh server process per mode on 127.0.0.1 with
//! ephemeral ports, the load generator as a second process (bounded in
//! requests or seconds, and killed past `--timeout` seconds), the two modes
//! in alternating order. At the end of each "on" run the doctor's
//! `/doctor.json` is read before the server stops, and every finding is
//! printed with its evidence. Throughput moves a lot between runs on a shared
//! machine, so the verdict uses the median of the per-round paired ratios
//! (on / off of the same round), next to the ratio of the medians.
//!
//! Options: `--rounds N` (5), `--requests N` per redis-benchmark test
//! (200000), `--seconds N` per wrk run (5), `--clients N` (50), `--only NAME`,
//! `--timeout N` seconds per load run (120).
//!
//! Target: zero findings and at least 0.95x throughput on each service.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The run's knobs, from the command line.
struct Options {
    rounds: usize,
    requests: u64,
    seconds: u64,
    clients: u64,
    only: Option<String>,
    timeout: Duration,
}

impl Options {
    fn parse() -> Options {
        let mut o = Options {
            rounds: 5,
            requests: 200_000,
            seconds: 5,
            clients: 50,
            only: None,
            timeout: Duration::from_secs(120),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .unwrap_or_else(|| die(&format!("{arg} needs a value")))
            };
            match arg.as_str() {
                "--rounds" => o.rounds = number(&value()) as usize,
                "--requests" => o.requests = number(&value()),
                "--seconds" => o.seconds = number(&value()),
                "--clients" => o.clients = number(&value()),
                "--only" => o.only = Some(value()),
                "--timeout" => o.timeout = Duration::from_secs(number(&value())),
                _ => die(&format!(
                    "unknown argument {arg}; options: --rounds N --requests N --seconds N \
                     --clients N --only mini-redis|httpmock --timeout SECS"
                )),
            }
        }
        if o.rounds == 0 || o.clients == 0 || o.requests == 0 || o.seconds == 0 {
            die("--rounds, --requests, --seconds and --clients must be at least 1");
        }
        o
    }
}

fn number(s: &str) -> u64 {
    s.parse()
        .unwrap_or_else(|_| die(&format!("not a number: {s}")))
}

fn die(msg: &str) -> ! {
    eprintln!("corpus: {msg}");
    std::process::exit(2)
}

/// One service of the corpus.
struct Service {
    name: &'static str,
    /// The service binary beside this one.
    bin: &'static str,
    /// Arguments besides `--doctor`.
    args: &'static [&'static str],
    load: Load,
}

/// How a service is driven.
#[derive(Clone, Copy)]
enum Load {
    RedisBenchmark,
    Wrk,
}

const SERVICES: &[Service] = &[
    Service {
        name: "mini-redis",
        bin: "corpus-mini-redis",
        args: &["--port", "0"],
        load: Load::RedisBenchmark,
    },
    Service {
        name: "httpmock",
        bin: "corpus-httpmock",
        // The access log is on by default; a benchmark of the logger
        // writing to a pipe is not what is asked here.
        args: &["--port", "0", "--disable-access-log"],
        load: Load::Wrk,
    },
];

/// What one run measured.
struct Run {
    /// Requests per second (for redis-benchmark: over both tests).
    rps: f64,
    /// The server's CPU time per request, in microseconds: steadier than
    /// throughput when other processes take the cores.
    cpu_us: f64,
    /// The load generator's figures, for the log.
    detail: String,
    /// The doctor's findings (on runs only).
    findings: Vec<serde_json::Value>,
    /// What the doctor saw (on runs only): polls timed and the lag, so that
    /// zero findings visibly means "watched and healthy", not "blind".
    watched: String,
}

/// A server process that is killed when dropped, whatever happened.
struct Server {
    child: Child,
    addr: SocketAddr,
    doctor: Option<SocketAddr>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(service: &Service, doctor: bool, log: &std::path::Path) -> Result<Server, String> {
    let dir = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .ok_or("no directory for this binary")?
        .to_path_buf();
    let mut cmd = Command::new(dir.join(service.bin));
    cmd.args(service.args);
    if doctor {
        cmd.args(["--doctor", "0"]);
    }
    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(|e| {
            format!(
                "{}: {e} (build it: cargo build --release -p tokio-doctor-corpus)",
                service.bin
            )
        })?;
    // The server prints "doctor ADDR" (on runs) and "listening ADDR"; the
    // reader thread keeps draining stdout so the pipe never fills.
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        doctor: None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).map_err(|_| {
            format!(
                "{} did not report its address in 30 s (log: {})",
                service.bin,
                log.display()
            )
        })?;
        let parse = |s: &str| {
            s.trim()
                .parse::<SocketAddr>()
                .map_err(|e| format!("{line}: {e}"))
        };
        if let Some(a) = line.strip_prefix("doctor ") {
            server.doctor = Some(parse(a)?);
        } else if let Some(a) = line.strip_prefix("listening ") {
            server.addr = parse(a)?;
            break;
        }
    }
    if doctor && server.doctor.is_none() {
        return Err(format!(
            "{} started without the doctor's endpoint",
            service.bin
        ));
    }
    Ok(server)
}

/// One plain HTTP/1.1 exchange (the doctor's endpoint and httpmock's API
/// both answer `Connection: close`).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    Ok((status, body.to_string()))
}

/// Runs a load generator to its end, or kills it past `timeout`.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<String, String> {
    let name = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: {e} (apt-get install redis-tools wrk)"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{name} ran past {} s and was killed",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(format!("{name} failed ({status}): {err}{out}"));
    }
    Ok(out)
}

/// redis-benchmark's CSV: `"SET","86956.52",...` per test; the combined rate
/// is all requests over all the time (the harmonic mean of the two).
fn redis_benchmark(addr: SocketAddr, o: &Options) -> Result<(f64, u64, String), String> {
    let mut cmd = Command::new("redis-benchmark");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
        "-t",
        "set,get",
    ])
    .args([
        "-n",
        &o.requests.to_string(),
        "-c",
        &o.clients.to_string(),
        "--csv",
    ]);
    let out = run_bounded(cmd, o.timeout)?;
    let mut found = Vec::new();
    let mut detail = Vec::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split(',').map(|c| c.trim_matches('"')).collect();
        if let (Some(test), Some(Ok(rps))) = (cols.first(), cols.get(1).map(|r| r.parse::<f64>())) {
            // Column 7 is p99_latency_ms in redis-benchmark 7's CSV.
            detail.push(format!(
                "{test} {rps:.0}/s p99 {} ms",
                cols.get(6).unwrap_or(&"?")
            ));
            found.push(rps);
        }
    }
    if found.len() != 2 || found.iter().any(|r| *r <= 0.0) {
        return Err(format!("unexpected redis-benchmark output: {out}"));
    }
    let combined = found.len() as f64 / found.iter().map(|r| 1.0 / r).sum::<f64>();
    Ok((combined, 2 * o.requests, detail.join(", ")))
}

/// httpmock answers one mock; wrk asks for it.
fn wrk(addr: SocketAddr, o: &Options) -> Result<(f64, u64, String), String> {
    // The mock's body travels as the bytes of its base64 text (httpmock's
    // own serde format): "aGVsbG8K" is "hello\n".
    let body = serde_json::json!({
        "request": { "method": "GET", "path": "/corpus" },
        "response": { "status": 200, "body": "aGVsbG8K".as_bytes() },
    })
    .to_string();
    let (status, reply) = http(addr, "POST", "/__httpmock__/mocks", &body)?;
    if status != 201 && status != 200 {
        return Err(format!("httpmock refused the mock ({status}): {reply}"));
    }
    let (status, reply) = http(addr, "GET", "/corpus", "")?;
    if status != 200 || reply != "hello\n" {
        return Err(format!("the mock does not answer ({status}): {reply:?}"));
    }
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{}", o.clients),
        &format!("-d{}s", o.seconds),
        "--latency",
    ])
    .arg(format!("http://{addr}/corpus"));
    let out = run_bounded(cmd, o.timeout)?;
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
    };
    let rps: f64 = field("Requests/sec:")
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output: {out}"))?;
    let errors = out
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(|l| format!(", {}", l.trim()))
        .unwrap_or_default();
    let p99 = field("99%").unwrap_or_else(|| "?".into());
    // "  123456 requests in 3.00s, ..."
    let requests = out
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no request count in wrk's output: {out}"))?;
    Ok((rps, requests, format!("{rps:.0} req/s p99 {p99}{errors}")))
}

fn run_once(service: &Service, doctor: bool, o: &Options) -> Result<Run, String> {
    let mode = if doctor { "on" } else { "off" };
    let log = std::env::temp_dir().join(format!("tokio-doctor-corpus-{}-{mode}.log", service.name));
    let server = start(service, doctor, &log)?;
    let (rps, requests, detail) = match service.load {
        Load::RedisBenchmark => redis_benchmark(server.addr, o)?,
        Load::Wrk => wrk(server.addr, o)?,
    };
    // Read before the idle wait below, so it is the load's CPU (plus the
    // start-up's few milliseconds).
    let cpu_us = cpu_seconds(server.child.id())? * 1e6 / requests.max(1) as f64;
    let mut findings = Vec::new();
    let mut watched = String::new();
    if let Some(endpoint) = server.doctor {
        // Past one sampler interval and the scrape's snapshot window, so the
        // report covers the whole load.
        std::thread::sleep(Duration::from_millis(2_100));
        let (status, body) = http(endpoint, "GET", "/doctor.json", "")?;
        if status != 200 {
            return Err(format!("/doctor.json answered {status}: {body}"));
        }
        let report: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("/doctor.json: {e}: {body}"))?;
        findings = report["findings"]
            .as_array()
            .ok_or_else(|| format!("/doctor.json has no findings array: {body}"))?
            .clone();
        let lag = &report["event_loop_lag"];
        watched = format!(
            "polls timed {}, lag p50 {} s p99 {} s, lag samples {}",
            report["polls"], lag["p50_seconds"], lag["p99_seconds"], lag["samples"]
        );
    }
    drop(server);
    Ok(Run {
        rps,
        cpu_us,
        detail,
        findings,
        watched,
    })
}

/// utime + stime of a process, from /proc/PID/stat (fields 14 and 15, in
/// clock ticks of 1/100 s on Linux).
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The command name (field 2) may hold spaces: split after it. What
    // follows is the state (field 3, a letter), then fields 4.. as numbers,
    // so utime and stime (fields 14, 15) are indexes 10 and 11 of those.
    let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    match (f.get(10), f.get(11)) {
        (Some(u), Some(s)) => Ok((u + s) as f64 / 100.0),
        _ => Err(format!("bad /proc/{pid}/stat: {stat}")),
    }
}

fn print_finding(f: &serde_json::Value) {
    let s = |k: &str| f[k].as_str().unwrap_or("?").to_string();
    println!(
        "    FINDING kind={} severity={} span={} target={} location={} count={} cost_seconds={}",
        s("kind"),
        s("severity"),
        s("span"),
        s("target"),
        s("location"),
        f["count"],
        f["cost_seconds"]
    );
    println!("      message: {}", s("message"));
    let evidence: Vec<String> = f["evidence"]
        .as_array()
        .map(|ev| {
            ev.iter()
                .map(|e| {
                    format!(
                        "{}={} {}",
                        e["name"].as_str().unwrap_or("?"),
                        e["value"],
                        e["unit"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    println!("      evidence: {}", evidence.join(", "));
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Everything one service measured over the rounds.
#[derive(Default)]
struct Tally {
    off: Vec<f64>,
    on: Vec<f64>,
    ratios: Vec<f64>,
    /// Server CPU per request, on / off, per round.
    cpu_ratios: Vec<f64>,
    findings: usize,
    failed: usize,
}

fn main() {
    let o = Options::parse();
    let services: Vec<&Service> = SERVICES
        .iter()
        .filter(|s| o.only.as_deref().is_none_or(|n| n == s.name))
        .collect();
    if services.is_empty() {
        die("--only names no service (mini-redis, httpmock)");
    }
    println!(
        "corpus: {} rounds, redis-benchmark -t set,get -n {} -c {}, wrk -t1 -c{} -d{}s",
        o.rounds, o.requests, o.clients, o.clients, o.seconds
    );
    let mut tallies: Vec<Tally> = services.iter().map(|_| Tally::default()).collect();
    for round in 0..o.rounds {
        for (service, tally) in services.iter().zip(&mut tallies) {
            // Alternate which mode goes first, so a drift of the machine
            // within a round does not favour one of them.
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            let mut pair = [None, None];
            for doctor in order {
                let mode = if doctor { "on " } else { "off" };
                match run_once(service, doctor, &o) {
                    Ok(run) => {
                        println!(
                            "round {} {:<10} doctor {mode}: {:>9.0} req/s {:>6.1} server CPU us/req  ({})",
                            round + 1,
                            service.name,
                            run.rps,
                            run.cpu_us,
                            run.detail
                        );
                        if doctor {
                            println!("    doctor saw: {}", run.watched);
                            println!("    findings: {}", run.findings.len());
                            run.findings.iter().for_each(print_finding);
                            tally.findings += run.findings.len();
                        }
                        pair[doctor as usize] = Some((run.rps, run.cpu_us));
                    }
                    Err(e) => {
                        println!(
                            "round {} {:<10} doctor {mode}: FAILED: {e}",
                            round + 1,
                            service.name
                        );
                        tally.failed += 1;
                    }
                }
            }
            if let [Some((off, off_cpu)), Some((on, on_cpu))] = pair {
                tally.off.push(off);
                tally.on.push(on);
                tally.ratios.push(on / off);
                tally.cpu_ratios.push(on_cpu / off_cpu);
                println!(
                    "round {} {:<10} paired ratio on/off {:.3} req/s, {:.3} CPU per request",
                    round + 1,
                    service.name,
                    on / off,
                    on_cpu / off_cpu
                );
            }
        }
    }
    println!();
    println!("| service | load | off req/s (median) | on req/s (median) | ratio of medians | paired ratio (median) | paired min..max | CPU/request on/off (median) | findings | verdict |");
    println!("|---|---|---:|---:|---:|---:|---|---:|---:|---|");
    let mut all_pass = true;
    for (service, t) in services.iter().zip(&tallies) {
        let load = match service.load {
            Load::RedisBenchmark => "redis-benchmark set,get",
            Load::Wrk => "wrk GET one mock",
        };
        if t.ratios.is_empty() {
            println!(
                "| {} | {load} | - | - | - | - | - | - | {} | FAIL (no complete round) |",
                service.name, t.findings
            );
            all_pass = false;
            continue;
        }
        let paired = median(&t.ratios);
        let min = t.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let max = t.ratios.iter().copied().fold(0.0, f64::max);
        let pass = t.findings == 0 && paired >= 0.95 && t.failed == 0;
        all_pass &= pass;
        println!(
            "| {} | {load} | {:.0} | {:.0} | {:.3} | {:.3} | {:.3}..{:.3} | {:.3} | {} | {}{} |",
            service.name,
            median(&t.off),
            median(&t.on),
            median(&t.on) / median(&t.off),
            paired,
            min,
            max,
            median(&t.cpu_ratios),
            t.findings,
            if pass { "PASS" } else { "FAIL" },
            if t.failed > 0 {
                format!(" ({} runs failed)", t.failed)
            } else {
                String::new()
            },
        );
    }
    println!();
    println!(
        "target: zero findings and >= 0.95x (median paired ratio) on each service: {}",
        if all_pass { "met" } else { "NOT met" }
    );
}
