//! `tokio-doctor`: prints a running service's tokio-doctor report in a
//! terminal, and fails when a finding at or above a chosen severity is
//! present, so a load test in CI can gate on it.
//!
//! ```text
//! tokio-doctor [ADDRESS] [--fail-on info|warning|critical] [--json] [--timeout SECS]
//! ```
//!
//! `ADDRESS` is the doctor's endpoint: `HOST:PORT` or `http://HOST:PORT[/PATH]`
//! (default `127.0.0.1:9464`; the report is read from `/doctor.json`).
//!
//! Exit status: `0` the report was read and nothing reached `--fail-on`
//! (always, without `--fail-on`); `1` at least one finding at or above the
//! `--fail-on` severity; `2` bad usage, or the service could not be reached
//! or did not answer with a report.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

const USAGE: &str =
    "usage: tokio-doctor [ADDRESS] [--fail-on info|warning|critical] [--json] [--timeout SECS]

Prints the tokio-doctor report of a running service.

  ADDRESS            the doctor's endpoint, HOST:PORT or http://HOST:PORT[/PATH]
                     (default 127.0.0.1:9464; the report is read from /doctor.json)
  --fail-on LEVEL    exit 1 when a finding of severity LEVEL or above is present
  --json             print the report as JSON instead of a table
  --timeout SECS     give up on a silent service after SECS seconds (default 5)

exit status: 0 ok, 1 findings at or above --fail-on, 2 usage or connection error";

/// Largest report read; a bigger answer is not a tokio-doctor report.
const MAX_RESPONSE: u64 = 32 * 1024 * 1024;

/// Severities in increasing order, as the report spells them.
const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

struct Options {
    host: String,
    path: String,
    fail_on: Option<usize>,
    json: bool,
    timeout: Duration,
}

fn options(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut address = None;
    let mut o = Options {
        host: String::new(),
        path: String::new(),
        fail_on: None,
        json: false,
        timeout: Duration::from_secs(5),
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--json" => o.json = true,
            "--fail-on" => {
                let v = args
                    .next()
                    .ok_or("--fail-on needs a severity: info, warning or critical")?;
                let level = SEVERITIES.iter().position(|s| *s == v).ok_or_else(|| {
                    format!("--fail-on: unknown severity {v:?}; use info, warning or critical")
                })?;
                o.fail_on = Some(level);
            }
            "--timeout" => {
                let v = args.next().ok_or("--timeout needs a number of seconds")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .ok_or_else(|| {
                        format!("--timeout: expected seconds from 0 to 3600, got {v:?}")
                    })?;
                o.timeout = Duration::from_secs_f64(secs);
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option {flag:?}; try --help"));
            }
            addr if address.is_none() => address = Some(addr.to_string()),
            extra => return Err(format!("unexpected argument {extra:?}: give one address")),
        }
    }
    let address = address.unwrap_or_else(|| "127.0.0.1:9464".into());
    let rest = address
        .strip_prefix("http://")
        .unwrap_or(&address)
        .to_string();
    if address.contains("://") && !address.starts_with("http://") {
        return Err(format!(
            "{address:?}: only plain http:// is served by the doctor's endpoint"
        ));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest, String::new()),
    };
    if host.is_empty() || !host.contains(':') {
        return Err(format!(
            "{address:?} is not an address: expected HOST:PORT, such as 127.0.0.1:9464"
        ));
    }
    o.host = host;
    o.path = if path.is_empty() || path == "/" {
        "/doctor.json".into()
    } else {
        path
    };
    Ok(Some(o))
}

/// GETs the report; the error says what went wrong, in words.
fn fetch(o: &Options) -> Result<String, String> {
    let addrs: Vec<_> = o
        .host
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", o.host))?
        .collect();
    let mut last = format!("{} resolved to no address", o.host);
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, o.timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        format!("{last} (is the service running, with its doctor endpoint on this address?)")
    })?;
    let io = |e: std::io::Error| format!("{}: {e}", o.host);
    stream.set_read_timeout(Some(o.timeout)).map_err(io)?;
    stream.set_write_timeout(Some(o.timeout)).map_err(io)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: tokio-doctor-cli/{}\r\n\
         Connection: close\r\n\r\n",
        o.path,
        o.host,
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{} did not answer in time: {e}", o.host))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{} did not answer with HTTP", o.host))?;
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        let first = head.lines().next().unwrap_or("");
        return Err(format!("{}{} answered {first}", o.host, o.path));
    }
    Ok(body.to_string())
}

fn human(secs: f64) -> String {
    if secs <= 0.0 {
        "0 s".into()
    } else if secs < 0.001 {
        format!("{:.0} us", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.3} s")
    }
}

fn figure(e: &Value) -> String {
    let v = e["value"].as_f64().unwrap_or(0.0);
    match e["unit"].as_str().unwrap_or("") {
        "seconds" => human(v),
        "bytes" => format!("{v:.0} B"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.3}"),
    }
}

fn print_report(o: &Options, r: &Value) {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let lag = &r["event_loop_lag"];
    let bound = |v: &Value| {
        v.as_f64()
            .map(|x| format!("<= {}", human(x)))
            .unwrap_or("-".into())
    };
    println!(
        "tokio-doctor {} at {}: up {:.0} s, {} polls timed, {} stalled now",
        s(&r["version"]),
        o.host,
        r["uptime_seconds"].as_f64().unwrap_or(0.0),
        r["polls"].as_u64().unwrap_or(0),
        r["stalled_polls"].as_u64().unwrap_or(0)
    );
    let history = r["lag_history"].as_array().cloned().unwrap_or_default();
    let worst = history
        .iter()
        .filter_map(|p| p["max_seconds"].as_f64())
        .fold(0.0, f64::max);
    let at = |p: Option<&Value>| p.and_then(|p| p["uptime_seconds"].as_f64()).unwrap_or(0.0);
    let window = at(history.last()) - at(history.first());
    print!(
        "event-loop lag: p50 {}, p99 {}, max {} in the last interval",
        bound(&lag["p50_seconds"]),
        bound(&lag["p99_seconds"]),
        human(lag["max_seconds"].as_f64().unwrap_or(0.0)),
    );
    if window >= 1.0 {
        print!(", {} in the last {window:.0} s", human(worst));
    }
    println!();
    let findings = r["findings"].as_array().cloned().unwrap_or_default();
    if findings.is_empty() {
        println!("\nno findings");
        return;
    }
    println!(
        "\n{} finding{}, most severe and costly first:",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    println!(
        "  {:<9} {:<20} {:<24} {:<32} {:>8} {:>10}",
        "severity", "kind", "span", "location", "count", "cost s"
    );
    for f in &findings {
        println!(
            "  {:<9} {:<20} {:<24} {:<32} {:>8} {:>10.3}",
            s(&f["severity"]),
            s(&f["kind"]),
            s(&f["span"]),
            s(&f["location"]),
            f["count"].as_u64().unwrap_or(0),
            f["cost_seconds"].as_f64().unwrap_or(0.0)
        );
    }
    for f in &findings {
        println!(
            "\n[{}] {}: `{}` at {}",
            s(&f["severity"]),
            s(&f["kind"]),
            s(&f["span"]),
            s(&f["location"])
        );
        println!("  {}", s(&f["message"]));
        let evidence: Vec<String> = f["evidence"]
            .as_array()
            .map(|es| {
                es.iter()
                    .map(|e| format!("{} {}", s(&e["name"]), figure(e)))
                    .collect()
            })
            .unwrap_or_default();
        println!("  evidence: {}", evidence.join(", "));
        println!("  fix: {}", s(&f["fix"]));
    }
    if let Some(summary) = r["summary"].as_array() {
        println!("\nsummary:");
        for line in summary {
            println!("  {}", s(line));
        }
    }
}

fn main() -> ExitCode {
    let o = match options(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tokio-doctor: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let body = match fetch(&o) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("tokio-doctor: {e}");
            return ExitCode::from(2);
        }
    };
    let report: Value = match serde_json::from_str(&body) {
        Ok(v @ Value::Object(_)) if v["findings"].is_array() => v,
        _ => {
            eprintln!(
                "tokio-doctor: {}{} did not answer with a tokio-doctor report",
                o.host, o.path
            );
            return ExitCode::from(2);
        }
    };
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_report(&o, &report);
    }
    let Some(level) = o.fail_on else {
        return ExitCode::SUCCESS;
    };
    let failing = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            let sev = f["severity"].as_str().unwrap_or("");
            SEVERITIES
                .iter()
                .position(|s| *s == sev)
                .is_some_and(|i| i >= level)
        })
        .count();
    if failing == 0 {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "tokio-doctor: {failing} finding{} at or above {}",
        if failing == 1 { "" } else { "s" },
        SEVERITIES[level]
    );
    ExitCode::from(1)
}
