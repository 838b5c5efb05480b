//! Scenario 7, with real HTTP on loopback: a client created per call opens
//! a connection per request and is reported; a shared client with
//! keep-alive is not.
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio_doctor::{ConnectionLayer, Doctor, FindingKind, OutboundRequestLayer};
use tower_layer::Layer;
use tower_service::Service;

async fn server() -> SocketAddr {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn get<S>(client: &mut S, addr: SocketAddr)
where
    S: Service<http::Request<Empty<Bytes>>, Response = http::Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Debug,
{
    std::future::poll_fn(|cx| client.poll_ready(cx))
        .await
        .unwrap();
    let req = http::Request::get(format!("http://{addr}/"))
        .body(Empty::new())
        .unwrap();
    let resp = client.call(req).await.unwrap();
    assert!(resp.status().is_success());
    resp.into_body().collect().await.unwrap();
}

#[test]
fn a_client_per_call_is_reported_and_a_shared_client_is_not() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .churn_window(Duration::from_secs(3))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let layer_line = support::line_of(
        include_str!("connection_churn_fires_on_a_client_per_call_and_not_on_a_shared_client.rs"),
        "MARK: per-call layer",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let (per_call, shared) = (server().await, server().await);

        // Bad: a new client, hence a new pool and a new connection, per call.
        // The finding names where the peer was first counted: the request
        // layer, which sees each request before its connection opens.
        for _ in 0..30 {
            let connector = ConnectionLayer::new().layer(HttpConnector::new());
            let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
            let mut client = OutboundRequestLayer::new().layer(client); // MARK: per-call layer
            get(&mut client, per_call).await;
        }
        // Fixed: one client, kept alive.
        let connector = ConnectionLayer::new().layer(HttpConnector::new());
        let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
        let mut client = OutboundRequestLayer::new().layer(client);
        for _ in 0..60 {
            get(&mut client, shared).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;

        let found = support::of_kind(&doctor, FindingKind::ConnectionChurn);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.span, per_call.to_string());
        assert_eq!(f.location, format!("{}:{}", file!(), layer_line));
        assert!(f.evidence("new_connections_per_request").unwrap() >= 0.9);
        assert!(f.evidence("handshake_seconds_total").unwrap() > 0.0);
        assert!(f.message.contains(&per_call.to_string()), "{}", f.message);

        let text = doctor.render_prometheus();
        let series = |name: &str, addr: SocketAddr| -> f64 {
            let prefix = format!("{name}{{peer=\"{addr}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(
            series("tokio_doctor_connections_opened_total", per_call),
            30.0
        );
        assert_eq!(
            series("tokio_doctor_outbound_requests_total", per_call),
            30.0
        );
        // hyper's pool returns a connection from a background task, so a
        // request sent at once may open a second one; never one per request.
        assert!(series("tokio_doctor_connections_opened_total", shared) <= 3.0);
        assert_eq!(series("tokio_doctor_outbound_requests_total", shared), 60.0);
    });
}
