//! With an allow-list, the endpoint answers listed clients and refuses
//! every other one with 403, whatever it asks for.
mod scrape;

use tokio_doctor::Doctor;

fn status_for(allow: &str) -> (u16, u16) {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .allow_clients(allow)
        .unwrap()
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let running = rt.block_on(async { doctor.start() }).unwrap();
    let addr = running.local_addr().unwrap();
    let metrics = scrape::get(addr, "/metrics").unwrap().status;
    let report = scrape::get(addr, "/doctor.json").unwrap().status;
    (metrics, report)
}

#[test]
fn a_listed_client_is_answered() {
    assert_eq!(status_for("127.0.0.1"), (200, 200));
    assert_eq!(status_for("10.0.0.0/8, 127.0.0.0/8, ::1"), (200, 200));
}

#[test]
fn any_other_client_gets_403() {
    assert_eq!(status_for("10.0.0.0/8"), (403, 403));
    assert_eq!(status_for("::1"), (403, 403));
}

#[test]
fn a_malformed_list_is_refused_by_the_builder() {
    let err = Doctor::builder().allow_clients("10.0.0.0/40").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("allow_clients") && msg.contains("CIDR"),
        "{msg}"
    );
}
