//! A connection task that reads frames one after another, each read in its
//! own span, is how every protocol server is written: each read waits for
//! the peer's next frame, so the reads depend on the peer and cannot run
//! concurrently. `serial_awaits` must stay silent, even with one client on
//! one keep-alive connection (no pool of siblings to excuse it).
mod support;

use std::io::Write;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_doctor::FindingKind;
use tracing::{info_span, Instrument};

/// One length-prefixed frame, or `None` when the peer closed.
async fn read_frame(sock: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    sock.read_exact(&mut body).await.ok()?;
    Some(body)
}

#[test]
fn reading_frames_one_after_another_on_one_connection_is_silent() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut frames = 0u32;
            async {
                while let Some(frame) = read_frame(&mut sock)
                    .instrument(info_span!("read_frame")) // MARK: read frame
                    .await
                {
                    std::hint::black_box(frame);
                    frames += 1;
                }
            }
            .instrument(info_span!("connection"))
            .await;
            frames
        });
        // The peer: 60 frames, one every 5 ms, on one connection.
        let client = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            for i in 0..60u32 {
                let body = i.to_be_bytes();
                s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
                s.write_all(&body).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        support::expect_none(FindingKind::SerialAwaits)
            .during(Duration::from_millis(500))
            .on_async(&doctor)
            .await;
        client.await.unwrap();
        assert_eq!(server.await.unwrap(), 60);
    });
    support::expect_none(FindingKind::SerialAwaits).on(&doctor);
}
