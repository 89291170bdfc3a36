//! Starting a Waymark process: configuration, telemetry, connections, core migrations, the
//! relay, and a shutdown token cancelled by Ctrl-C or SIGTERM.

use std::path::Path;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, RunningClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::platform::{Platform, PlatformError};
use crate::telemetry;

pub struct Process {
    pub platform: Arc<Platform>,
    pub shutdown: CancellationToken,
    relay: Option<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

impl Process {
    /// Loads the configuration (from `file`, else `WAYMARK_CONFIG` if set) and connects.
    pub async fn start(file: Option<&Path>) -> Result<Self, StartError> {
        Self::start_as(file, false).await
    }

    /// As [`Process::start`], for `waymark migrate`: run by the schemas' owner, it migrates
    /// whatever `database.migrate` says.
    pub async fn start_as_owner(file: Option<&Path>) -> Result<Self, StartError> {
        Self::start_as(file, true).await
    }

    async fn start_as(file: Option<&Path>, owner: bool) -> Result<Self, StartError> {
        let from_env = std::env::var_os("WAYMARK_CONFIG").map(std::path::PathBuf::from);
        let mut config = Config::load(file.or(from_env.as_deref()))?;
        config.database.migrate |= owner;
        telemetry::init_tracing(&config);
        let clock: Arc<dyn Clock> = match config.clock.start {
            Some(start) => {
                tracing::warn!(%start, "the clock starts at a set moment (clock.start)");
                Arc::new(RunningClock::starting_at(start))
            }
            None => Arc::new(SystemClock),
        };
        let platform = Platform::connect(config, clock).await?;
        platform.migrate_core().await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        let relay = platform.spawn_relay(shutdown.clone());
        if relay.is_none() {
            tracing::info!(
                "NATS not configured: services exchange events through the in-process feed"
            );
        }
        Ok(Self {
            platform,
            shutdown,
            relay,
        })
    }

    /// Waits for the relay to stop after shutdown, and sends the last spans.
    pub async fn finish(self) {
        self.shutdown.cancel();
        if let Some(relay) = self.relay {
            let _ = relay.await;
        }
        let _ = tokio::task::spawn_blocking(telemetry::shutdown_traces).await;
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        () = terminate => {}
        () = shutdown.cancelled() => return,
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
