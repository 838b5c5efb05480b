//! mini-redis server (crates.io `mini-redis` 0.4, tokio's example of an
//! idiomatic tokio application), with tokio-doctor added in `main()`.
//!
//! This is the crate's own `src/bin/server.rs` with two changes: the doctor
//! (the README's "Add it to a service": builder, a registry with
//! `doctor.layer()` and the service's fmt layer, `doctor.start()`), turned on by
//! `--doctor PORT`; and the bound port printed, so a driver can use `--port 0`.
//! Without `--doctor` it runs as the original does.
//!
//! ```text
//! corpus-mini-redis --port 0 [--doctor 0]
//! ```

use mini_redis::{server, DEFAULT_PORT};

use tokio::net::TcpListener;
use tokio::signal;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> mini_redis::Result<()> {
    let cli = Cli::from_args()?;

    // The original: `tracing_subscriber::fmt::try_init()?`, a fmt subscriber
    // filtered by RUST_LOG. With the doctor, the same fmt layer keeps that
    // filter to itself, so RUST_LOG cannot hide spans from the doctor.
    let _running = match cli.doctor {
        None => {
            tracing_subscriber::fmt::try_init()?;
            None
        }
        Some(port) => {
            let doctor = tokio_doctor::Doctor::builder()
                .listen(format!("127.0.0.1:{port}").parse()?)
                .build()?;
            tracing_subscriber::registry()
                .with(doctor.layer())
                .with(tracing_subscriber::fmt::layer().with_filter(EnvFilter::from_default_env()))
                .try_init()?;
            let running = doctor.start()?;
            if let Some(addr) = running.local_addr() {
                println!("doctor {addr}");
            }
            Some(running)
        }
    };

    let port = cli.port.as_deref().unwrap_or(DEFAULT_PORT);

    // Bind a TCP listener
    let listener = TcpListener::bind(&format!("127.0.0.1:{}", port)).await?;
    println!("listening {}", listener.local_addr()?);

    server::run(listener, signal::ctrl_c()).await
}

/// The original's `--port`, plus `--doctor PORT` (parsed by hand: the
/// original's structopt is clap 2, not worth a dependency for two flags).
struct Cli {
    port: Option<String>,
    doctor: Option<u16>,
}

impl Cli {
    fn from_args() -> mini_redis::Result<Cli> {
        let mut cli = Cli {
            port: None,
            doctor: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => cli.port = args.next(),
                "--doctor" => cli.doctor = Some(args.next().ok_or("--doctor PORT")?.parse()?),
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        Ok(cli)
    }
}
