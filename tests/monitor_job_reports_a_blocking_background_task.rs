//! `Doctor::monitor_job`: a named background task shows up beside the
//! routes, and one that blocks its worker becomes a finding by its name,
//! with the function it is stuck in (its polls are marked on the worker,
//! so the watchdog captures the stack while it stalls). The same work on
//! the blocking pool is silent.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;

#[test]
fn a_blocking_consumer_is_named_and_a_patient_one_is_not() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        // Bad: handles each message with 15 ms of CPU on the worker.
        let greedy = doctor.monitor_job("thumbnail-consumer", async {
            for _ in 0..8 {
                support::spin_for(Duration::from_millis(15));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        // Fixed: the same work on the blocking pool.
        let patient = doctor.monitor_job("email-consumer", async {
            for _ in 0..8 {
                tokio::task::spawn_blocking(|| support::spin_for(Duration::from_millis(15)))
                    .await
                    .unwrap();
            }
        });
        let (a, b) = tokio::join!(tokio::spawn(greedy), tokio::spawn(patient));
        a.unwrap();
        b.unwrap();
    });
    let found: Vec<_> = support::of_kind(&doctor, FindingKind::BlockingPoll)
        .into_iter()
        .filter(|f| f.target == "route")
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "thumbnail-consumer");
    assert!(found[0].location.starts_with(file!()));
    let text = doctor.render_prometheus();
    assert!(
        text.contains("tokio_doctor_route_requests_total{route=\"email-consumer\"} 1"),
        "{text}"
    );
    // The route's monitor counts slow polls on the wall clock (tokio-metrics'
    // model), so a preempted poll of the patient job can count on a loaded
    // host; it must stay well below the greedy job's, which blocks in every
    // one of its 8 messages.
    let slow = |route: &str| -> f64 {
        let prefix = format!("tokio_doctor_route_slow_polls_total{{route=\"{route}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{route}: {text}"))
    };
    let (greedy, patient) = (slow("thumbnail-consumer"), slow("email-consumer"));
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let frame = format!("span=\"thumbnail-consumer\",location=\"{}:", file!());
        // The innermost frame of the test's own code: `spin_for`, or the
        // clock-reading function nested in it (a syscall, where a capture
        // often finds the thread), as the stack-capture test accepts.
        let function = format!("function=\"{}::support::spin_for", module_path!());
        // The stacks thread names the captures off the watchdog: wait for it.
        let captured = |text: &str| {
            text.lines().any(|l| {
                l.starts_with("tokio_doctor_blocking_frames_total{")
                    && l.contains(&frame)
                    && l.contains(&function)
            })
        };
        let start = std::time::Instant::now();
        while !captured(&doctor.render_prometheus()) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = doctor.render_prometheus();
        assert!(
            captured(&text),
            "the job's stall was captured at its culprit: {text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("tokio_doctor_blocking_frames_total{")
                    && l.contains("span=\"email-consumer\"")),
            "{text}"
        );
    }
    assert!(greedy >= 6.0, "greedy {greedy}");
    assert!(
        patient <= 2.0 && patient < greedy,
        "patient {patient}, greedy {greedy}"
    );
}
