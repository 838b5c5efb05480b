//! A service that already exports through `metrics` gets the doctor's
//! metrics in its own scrape.
mod support;

use std::time::Duration;

use tokio_doctor::Doctor;
use tracing::Instrument;

#[test]
fn the_doctor_records_into_the_recorder_the_service_installed() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();
    metrics::counter!("service_requests_total").increment(3);

    let doctor = Doctor::builder()
        .no_endpoint()
        .use_global_recorder(true)
        .sample_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        tokio::spawn(async {
            async { support::spin_for(Duration::from_millis(30)) }
                .instrument(tracing::info_span!("resize_image"))
                .await
        })
        .await
        .unwrap();
        let ok = support::eventually(Duration::from_secs(5), || {
            handle.render().contains(
                "tokio_doctor_findings_total{kind=\"blocking_poll\",span=\"resize_image\"",
            )
        })
        .await;
        let text = handle.render();
        assert!(ok, "{text}");
        assert!(text.contains("service_requests_total 3"));
        assert!(
            text.contains("tokio_doctor_poll_duration_seconds_bucket{le=\"+Inf\"}"),
            "{text}"
        );
        assert!(text.contains("tokio_doctor_runtime_workers 2"), "{text}");
    });
}
