//! httpmock's standalone server (crates.io `httpmock` 0.8, the binary its
//! Docker image runs: a hyper 1 server, one task per connection), with
//! tokio-doctor added in `main()`.
//!
//! This is the crate's own `src/main.rs` with two changes: the doctor (the
//! README's "Add it to a service": builder, a registry with `doctor.layer()`
//! and the service's fmt layer, `doctor.start()`), turned on by `--doctor
//! PORT`; and the bound address printed (through the server's own
//! `socket_addr_sender`), so a driver can use `--port 0`. Without `--doctor`
//! it runs as the original does. No `TaskMonitorLayer`: the server's hyper
//! `service_fn` is built inside the library, out of reach of `main()`.
//!
//! ```text
//! corpus-httpmock --port 0 --disable-access-log [--doctor 0]
//! ```

use std::path::PathBuf;

use httpmock::server::HttpMockServerBuilder;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

/// The original's command line (clap there; parsed by hand here so the corpus
/// needs no clap of its own), plus `--doctor PORT`.
#[derive(Debug)]
struct ExecutionParameters {
    port: u16,
    expose: bool,
    mock_files_dir: Option<PathBuf>,
    disable_access_log: bool,
    request_history_limit: usize,
    doctor: Option<u16>,
}

impl ExecutionParameters {
    fn parse() -> ExecutionParameters {
        let mut p = ExecutionParameters {
            port: 5050,
            expose: false,
            mock_files_dir: None,
            disable_access_log: false,
            request_history_limit: 100,
            doctor: None,
        };
        let mut args = std::env::args().skip(1);
        let value = |args: &mut std::iter::Skip<std::env::Args>, name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-p" | "--port" => p.port = value(&mut args, "--port").parse().expect("--port"),
                "-e" | "--expose" => p.expose = true,
                "-m" | "--mock-files-dir" => {
                    p.mock_files_dir = Some(value(&mut args, "--mock-files-dir").into())
                }
                "-d" | "--disable-access-log" => p.disable_access_log = true,
                "-r" | "--request-history-limit" => {
                    p.request_history_limit = value(&mut args, "--request-history-limit")
                        .parse()
                        .expect("--request-history-limit")
                }
                "--doctor" => {
                    p.doctor = Some(value(&mut args, "--doctor").parse().expect("--doctor"))
                }
                other => panic!("unknown argument {other}"),
            }
        }
        p
    }
}

#[tokio::main]
async fn main() {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("httpmock=info"));
    let params: ExecutionParameters = ExecutionParameters::parse();

    // The original: a fmt subscriber with this filter. With the doctor, the
    // same fmt layer keeps the filter to itself, so it hides no span from
    // the doctor.
    let _running = match params.doctor {
        None => {
            tracing_subscriber::fmt().with_env_filter(filter()).init();
            None
        }
        Some(port) => {
            let doctor = tokio_doctor::Doctor::builder()
                .listen(format!("127.0.0.1:{port}").parse().expect("doctor address"))
                .build()
                .expect("tokio-doctor configuration");
            tracing_subscriber::registry()
                .with(doctor.layer())
                .with(tracing_subscriber::fmt::layer().with_filter(filter()))
                .init();
            let running = doctor.start().expect("tokio-doctor start");
            if let Some(addr) = running.local_addr() {
                println!("doctor {addr}");
            }
            Some(running)
        }
    };

    tracing::info!(
        "Starting {} server V{}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );

    tracing::info!("{params:?}");

    let server = HttpMockServerBuilder::new()
        .port(params.port)
        .expose(params.expose)
        .print_access_log(!params.disable_access_log)
        .history_limit(params.request_history_limit)
        .static_mock_dir_option(params.mock_files_dir)
        .build()
        .unwrap();

    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        if let Ok(addr) = addr_rx.await {
            println!("listening {addr}");
        }
    });
    server
        .start_with_signals(Some(addr_tx), shutdown_signal())
        .await
        .expect("an error occurred during mock server execution");
}

async fn shutdown_signal() {
    let mut hangup_stream = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("Cannot install SIGINT signal handler");
    let mut sigint_stream =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("Cannot install SIGINT signal handler");
    let mut sigterm_stream =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("Cannot install SIGINT signal handler");

    tokio::select! {
        _val = hangup_stream.recv() => tracing::trace!("Received SIGINT"),
        _val = sigint_stream.recv() => tracing::trace!("Received SIGINT"),
        _val = sigterm_stream.recv() => tracing::trace!("Received SIGTERM"),
    }
}
