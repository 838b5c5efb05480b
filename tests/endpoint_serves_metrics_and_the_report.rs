//! The HTTP endpoint: /metrics in Prometheus text, /doctor as a page or JSON, clear
//! answers to bad requests, and a clear error when the port is taken.
mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use tokio_doctor::export::{MetricType, Source, METRICS};
use tokio_doctor::{Doctor, Error};

fn request(addr: SocketAddr, raw: &str) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    )
}

#[test]
fn metrics_and_report_are_served_and_bad_requests_get_clear_answers() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .sample_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let running = rt.block_on(async { doctor.start() }).unwrap();
    let addr = running.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let again = rt.block_on(async { doctor.start() }).unwrap_err();
    assert!(matches!(again, Error::AlreadyStarted), "{again}");
    std::thread::sleep(Duration::from_millis(300));

    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("tokio_doctor_build_info{version=\""));
    assert!(body.contains("tokio_doctor_runtime_workers 2"), "{body}");
    // Every family the table lists for this build is rendered with its
    // HELP and TYPE, and nothing is rendered that the table does not list.
    for m in METRICS {
        let expected = match m.source {
            Source::Doctor | Source::Runtime => true,
            Source::RuntimeUnstable => cfg!(tokio_unstable),
            Source::Alloc => cfg!(feature = "alloc"),
        };
        let type_line = format!("# TYPE {} {}\n", m.name, m.kind.as_str());
        assert_eq!(body.contains(&type_line), expected, "{}", m.name);
    }
    for line in body.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(
            METRICS.iter().any(|m| m.name == name),
            "{name} is not in the table"
        );
    }
    for m in METRICS.iter().filter(|m| {
        // Labelled histograms have series only once their site is seen.
        m.kind == MetricType::Histogram && m.source == Source::Doctor && m.labels.is_empty()
    }) {
        assert!(
            body.contains(&format!("{}_bucket{{le=\"+Inf\"}}", m.name)),
            "{}",
            m.name
        );
    }

    let (status, head, body) = get(addr, "/doctor.json");
    assert_eq!(status, 200);
    assert!(head.contains("application/json"));
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(report["findings"].is_array());
    assert!(
        report["event_loop_lag"]["samples"].as_u64().unwrap() > 0,
        "{body}"
    );
    assert!(report["lag_history"].is_array(), "{body}");
    assert!(report["trends"].is_array(), "{body}");
    let (status, _, body2) = request(
        addr,
        "GET /doctor?x=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(body2.contains("\"findings\""));
    // Without asking for JSON, /doctor is the page.
    let (status, head, page) = get(addr, "/doctor");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"), "{head}");
    assert!(
        head.contains("Content-Security-Policy: default-src 'none'"),
        "{head}"
    );
    assert!(page.contains("<h1>tokio-doctor</h1>") && page.contains("Event-loop lag"));

    assert_eq!(get(addr, "/nope").0, 404);
    assert_eq!(request(addr, "POST /metrics HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(request(addr, "garbage\r\n\r\n").0, 400);
    let (status, head, body) = request(addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(head.contains("Content-Length:"));

    // A second doctor on the same port: a clear error naming the address...
    let other = Doctor::builder().listen(addr).build().unwrap();
    let err = rt.block_on(async { other.start() }).unwrap_err();
    assert!(matches!(err, Error::Bind { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&addr.to_string()) && msg.contains("require_endpoint"),
        "{msg}"
    );
    // ...or, if the user chooses, a doctor that runs without its endpoint.
    let tolerant = Doctor::builder()
        .listen(addr)
        .require_endpoint(false)
        .build()
        .unwrap();
    let running2 = rt.block_on(async { tolerant.start() }).unwrap();
    assert_eq!(running2.local_addr(), None);

    drop(running);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "dropping Running closes the endpoint"
    );
}

#[test]
fn start_outside_a_runtime_is_a_clear_error() {
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let err = doctor.start().unwrap_err();
    assert!(matches!(err, Error::NoRuntime));
    assert!(err.to_string().contains("inside a tokio runtime"));
}

#[test]
fn invalid_settings_are_refused_at_build_time_with_the_setting_named() {
    let err = Doctor::builder()
        .blocking_poll_threshold(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("blocking_poll_threshold"), "{err}");
    let err = Doctor::builder().label_cap(0).build().unwrap_err();
    assert!(err.to_string().contains("label_cap"), "{err}");
}
