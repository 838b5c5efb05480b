//! Issue 16, polls without spans: behind `TaskMonitorLayer`, a request's
//! poll is marked on its worker, so the watchdog sees a route's handler
//! stall while it runs, though the handler opens no span, and names the
//! function of the service's own code it is stuck in at its `file:line`,
//! under the route. The healthy route beside it gets no frame. Linux only.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use tokio_doctor::{FindingKind, TaskMonitorLayer};

/// This crate's path prefix, as demangled function names start.
const CRATE: &str = module_path!();

const HASH_FIRST: u32 = line!();
/// The service's own function: ~60 ms of CPU (the standard library's
/// sort) without yielding.
#[inline(never)]
fn hash_password() -> u64 {
    let mut input: Vec<u64> = (0..20_000).rev().collect();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(60) {
        input.sort_unstable();
        input.reverse();
    }
    std::hint::black_box(input[0])
}
const HASH_LAST: u32 = line!();

fn get(addr: SocketAddr, path: &str) -> u16 {
    support::http_get_status(addr, path)
}

#[test]
fn a_stalled_request_is_named_at_the_line_of_its_route_handler() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        // Long enough for the lag probe to give the workers their state.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (layer, layer_line) = (TaskMonitorLayer::new(&doctor), line!());
        let app = axum::Router::new()
            .route(
                "/login",
                axum::routing::get(|| async { format!("{}", hash_password()) }),
            )
            .route("/health", axum::routing::get(|| async { "ok" }))
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        tokio::task::spawn_blocking(move || {
            for _ in 0..4 {
                assert_eq!(get(addr, "/login"), 200);
                for _ in 0..5 {
                    assert_eq!(get(addr, "/health"), 200);
                }
            }
        })
        .await
        .unwrap();
        let route_at = format!("span=\"/login\",location=\"{}:{layer_line}\"", file!());
        let function = format!(
            "function=\"{CRATE}::hash_password\",frame_location=\"{}:",
            file!()
        );
        let frame_line = || {
            let text = doctor.render_prometheus();
            let line = text
                .lines()
                .filter(|l| l.starts_with("tokio_doctor_blocking_frames_total{"))
                .find(|l| l.contains(&route_at) && l.contains(&function))?
                .to_string();
            let at = line.find(&function)? + function.len();
            line[at..].split('"').next()?.parse::<u32>().ok()
        };
        assert!(
            support::eventually(Duration::from_secs(5), || frame_line().is_some()).await,
            "{}",
            doctor.render_prometheus()
        );
        let line = frame_line().unwrap();
        assert!(
            (HASH_FIRST..=HASH_LAST).contains(&line),
            "line {line} is not in hash_password ({HASH_FIRST}..={HASH_LAST})"
        );
        let text = doctor.render_prometheus();
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("tokio_doctor_blocking_frames_total{")
                    && l.contains("span=\"/health\"")),
            "the healthy route has no frame: {text}"
        );
        // The route's finding carries the culprit, and the span view has no
        // finding of its own for the route's site.
        let found = support::expect(FindingKind::BlockingPoll)
            .span("/login")
            .within(Duration::from_secs(5))
            .on_async(&doctor)
            .await;
        assert_eq!(found.target, "route", "{found:?}");
        assert!(found.message.contains("hash_password"), "{}", found.message);
        let for_login = support::of_kind(&doctor, FindingKind::BlockingPoll)
            .into_iter()
            .filter(|f| f.span == "/login")
            .count();
        assert_eq!(for_login, 1, "{:?}", doctor.findings());
    });
}
