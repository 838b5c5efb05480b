//! Arbitrary bytes as an HTTP request to the endpoint (request line, path,
//! query string, headers): never a panic, always a well-formed response
//! whose Content-Length is its body's length.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static ENDPOINT: OnceLock<tokio_doctor::fuzz::Endpoint> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let endpoint = ENDPOINT.get_or_init(tokio_doctor::fuzz::Endpoint::new);
    // The server reads at most 8 KiB of head.
    let out = endpoint.respond(&data[..data.len().min(8 * 1024)]);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = std::str::from_utf8(&out[..split]).expect("an ASCII head");
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let body = out.len() - split - 4;
    assert!(body == length || body == 0, "Content-Length {length}, body {body}");
});
