//! The route middleware, with a real axum router on loopback: per-route
//! metrics for a route that blocks and one that does not; the blocking one
//! becomes a finding, the other does not; a flood of distinct URIs keeps
//! the route labels at the cap.
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind, TaskMonitorLayer};

fn get(addr: SocketAddr, path: &str) -> u16 {
    support::http_get_status(addr, path)
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[test]
fn the_blocking_route_is_a_finding_and_the_other_is_not() {
    let doctor = Doctor::builder().no_endpoint().build().unwrap();
    let rt = support::runtime(&doctor);
    let layer_line = rt.block_on(async {
        let _load = support::unrelated_load();
        // The layer and the line it is created on, which findings name.
        let (layer, line) = (TaskMonitorLayer::new(&doctor), line!());
        let app = axum::Router::new()
            .route(
                "/report/{id}",
                axum::routing::get(|| async {
                    // CPU work on the worker: 20 ms per request.
                    format!("{}", support::spin_for(Duration::from_millis(20)))
                }),
            )
            .route("/health/{id}", axum::routing::get(|| async { "ok" }))
            .layer(layer);
        let addr = serve(app).await;
        tokio::task::spawn_blocking(move || {
            for i in 0..10 {
                assert_eq!(get(addr, &format!("/report/{i}")), 200);
                for j in 0..5 {
                    assert_eq!(get(addr, &format!("/health/{i}-{j}")), 200);
                }
            }
        })
        .await
        .unwrap();
        line
    });

    let text = doctor.render_prometheus();
    let value = |name: &str, route: &str| -> f64 {
        let prefix = format!("{name}{{route=\"{route}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{prefix}\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("tokio_doctor_route_requests_total", "/report/{id}"),
        10.0
    );
    assert_eq!(
        value("tokio_doctor_route_requests_total", "/health/{id}"),
        50.0
    );
    assert_eq!(
        value("tokio_doctor_route_requests_in_flight", "/health/{id}"),
        0.0
    );
    assert!(value("tokio_doctor_route_slow_polls_total", "/report/{id}") >= 10.0);
    assert_eq!(
        value("tokio_doctor_route_slow_polls_total", "/health/{id}"),
        0.0
    );
    assert!(value("tokio_doctor_route_polls_total", "/health/{id}") >= 50.0);
    assert!(
        !text.contains("route=\"/report/3\""),
        "raw URIs never become labels"
    );

    let routes: Vec<_> = support::of_kind(&doctor, FindingKind::BlockingPoll)
        .into_iter()
        .filter(|f| f.target == "route")
        .collect();
    assert_eq!(routes.len(), 1, "{routes:#?}");
    assert_eq!(routes[0].span, "/report/{id}");
    assert_eq!(routes[0].location, format!("{}:{}", file!(), layer_line));
    assert!(routes[0].evidence("slow_poll_ratio").unwrap() > 0.5);
    let summary = doctor.report().summary;
    assert!(
        summary.iter().any(|s| s.contains("1 route blocked")),
        "{summary:?}"
    );
}

#[test]
fn a_flood_of_distinct_uris_keeps_route_labels_at_the_cap() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .label_cap(20)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        // A plain tower service named by a careless namer that returns the
        // raw path: the cap must still hold.
        let app = axum::Router::new().fallback(|| async { "fallback" }).layer(
            TaskMonitorLayer::new(&doctor).route_fn(|r| Some(r.uri.path().to_string().into())),
        );
        let addr = serve(app).await;
        tokio::task::spawn_blocking(move || {
            for i in 0..300 {
                assert_eq!(get(addr, &format!("/item/{i}")), 200);
            }
        })
        .await
        .unwrap();
    });
    let text = doctor.render_prometheus();
    let labels = text
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_route_requests_total{"))
        .count();
    assert_eq!(labels, 21, "20 routes + other:\n{text}");
    let other: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tokio_doctor_route_requests_total{route=\"other\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(other, 280.0);
}
