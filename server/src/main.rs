//! `keyrate-server`: the reference server. `--help` lists every flag.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use keyrate::time::MonotonicClock;
use keyrate_server::config::{Flags, ServerConfig};
use keyrate_server::store::MemoryStore;
use keyrate_server::{App, router};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    if let Err(e) = run().await {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let flags = Flags::parse();
    let config = ServerConfig::load(&flags)?;
    let listen = config.listen;
    let store = Arc::new(MemoryStore::new(config.capacity));
    let entropy = Arc::new(|buf: &mut [u8]| {
        // The OS's generator; without it no key may be minted.
        if getrandom::fill(buf).is_err() {
            std::process::abort();
        }
    });
    let app = Arc::new(App::new(
        config,
        store,
        Arc::new(MonotonicClock::new()),
        entropy,
    )?);

    // End expired authorization requests every few seconds.
    let sweeper = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            sweeper.sweep();
        }
    });

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(
        %listen,
        dev = app.config.dev,
        enforce = app.config.enforce,
        "keyrate-server listening"
    );
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
