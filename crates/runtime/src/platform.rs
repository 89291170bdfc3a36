//! The connections a service runs on, built once from the configuration and shared by every
//! service in the process.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waymark_bus::jetstream::{ConsumerOptions, StreamOptions};
use waymark_bus::relay::RelayOptions;
use waymark_bus::{EventHandler, FeedHandle};
use waymark_event_store::PgEventStore;

use crate::auth::{Authenticate, CallAs, Caller, Keys};
use crate::clock::Clock;
use crate::config::Config;

pub struct Platform {
    pub config: Config,
    pub pool: PgPool,
    pub store: PgEventStore,
    /// `None` when NATS is not configured: consumers then read the event store directly.
    pub jetstream: Option<jetstream::Context>,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "auth.internal_key is not set (WAYMARK_AUTH__INTERNAL_KEY); services cannot authenticate each other without it"
    )]
    NoInternalKey,
    #[error("cannot connect to PostgreSQL")]
    Database(#[source] sqlx::Error),
    #[error("cannot migrate the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    #[error("cannot connect to NATS: {0}")]
    Nats(String),
}

impl Platform {
    pub async fn connect(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, PlatformError> {
        // Before any feed, consumer or request records a metric: one recorded earlier is lost.
        crate::telemetry::metrics();
        let key = config
            .auth
            .internal_key
            .as_ref()
            .ok_or(PlatformError::NoInternalKey)?;
        let keys = Keys::new(key, config.auth.token_ttl_seconds);
        let options = PgConnectOptions::from_str(config.database.url.expose())
            .map_err(PlatformError::Database)?
            .options([
                (
                    "statement_timeout",
                    config.database.statement_timeout_ms.to_string(),
                ),
                (
                    "idle_in_transaction_session_timeout",
                    config.database.idle_in_transaction_timeout_ms.to_string(),
                ),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(config.database.max_connections)
            .acquire_timeout(Duration::from_millis(
                config.database.acquire_timeout_ms.max(1),
            ))
            .connect_with(options)
            .await
            .map_err(PlatformError::Database)?;
        let jetstream = match &config.nats.url {
            Some(url) => {
                let client = nats_options(&config.nats)
                    .connect(url.as_str())
                    .await
                    .map_err(|error| PlatformError::Nats(error.to_string()))?;
                Some(jetstream::new(client))
            }
            None => None,
        };
        Ok(Arc::new(Self {
            store: PgEventStore::with_clock(pool.clone(), {
                let clock = clock.clone();
                Arc::new(move || clock.now())
            }),
            pool,
            jetstream,
            keys,
            clock,
            config,
        }))
    }

    /// The event store's and the bus's own tables, migrated or checked (`database.migrate`).
    /// Each service readies its schema itself.
    pub async fn migrate_core(&self) -> Result<(), PlatformError> {
        self.ready_schema(
            waymark_event_store::migrator(),
            waymark_event_store::SCHEMA_HISTORY,
        )
        .await?;
        self.ready_schema(waymark_bus::migrator(), waymark_bus::SCHEMA_HISTORY)
            .await?;
        Ok(())
    }

    /// Migrates a component's schema, or checks it is migrated (`crate::schema`).
    pub async fn ready_schema(
        &self,
        migrator: sqlx::migrate::Migrator,
        history: &str,
    ) -> Result<(), crate::schema::SchemaError> {
        crate::schema::ready(&self.pool, self.config.database.migrate, migrator, history).await
    }

    /// The interceptor that verifies caller tokens on incoming requests.
    pub fn authenticate(&self) -> Authenticate {
        Authenticate::new(self.keys.clone(), self.clock.clone())
    }

    /// The interceptor that signs outgoing requests as `caller`.
    pub fn call_as(&self, caller: Caller) -> CallAs {
        CallAs::new(self.keys.clone(), self.clock.clone(), caller)
    }

    pub fn stream_options(&self) -> StreamOptions {
        let defaults = StreamOptions::default();
        StreamOptions {
            stream: self.config.nats.stream.clone().unwrap_or(defaults.stream),
            subject_prefix: self
                .config
                .nats
                .subject_prefix
                .clone()
                .unwrap_or(defaults.subject_prefix),
            replicas: self.config.nats.replicas.unwrap_or(defaults.replicas),
            max_age: self
                .config
                .nats
                .max_age_days
                .map_or(defaults.max_age, |days| {
                    std::time::Duration::from_secs(days.saturating_mul(24 * 3600))
                }),
            duplicate_window: defaults.duplicate_window,
        }
    }

    /// Runs a consumer of other services' events: a JetStream durable consumer when NATS is
    /// configured, else the in-process feed. Same handler, same exactly-once effect.
    pub fn spawn_consumer<H: EventHandler>(
        &self,
        handler: Arc<H>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        match &self.jetstream {
            Some(jetstream) => tokio::spawn(waymark_bus::jetstream::run_consumer(
                self.pool.clone(),
                jetstream.clone(),
                ConsumerOptions {
                    stream: self.stream_options(),
                    ..ConsumerOptions::default()
                },
                handler,
                shutdown,
            )),
            None => waymark_bus::spawn_feed(self.store.clone(), handler, shutdown).1,
        }
    }

    /// Runs a projection of the service's own events from the store.
    pub fn spawn_projection<H: EventHandler>(
        &self,
        handler: Arc<H>,
        shutdown: CancellationToken,
    ) -> (FeedHandle, JoinHandle<()>) {
        waymark_bus::spawn_feed(self.store.clone(), handler, shutdown)
    }

    /// Runs the relay when NATS is configured (every process may; one is active at a time).
    pub fn spawn_relay(&self, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
        let jetstream = self.jetstream.clone()?;
        let options = RelayOptions {
            stream: self.stream_options(),
            ..RelayOptions::default()
        };
        Some(tokio::spawn(waymark_bus::relay::run(
            self.store.clone(),
            jetstream,
            options,
            shutdown,
        )))
    }
}

/// How the services connect to NATS: signed in and over TLS when configured. The first
/// connection is retried in the background (NATS may start after the services); what goes
/// wrong with it — a refused password, a permission the server denies, a lost connection —
/// is logged.
fn nats_options(config: &crate::config::NatsConfig) -> async_nats::ConnectOptions {
    let mut options = async_nats::ConnectOptions::new()
        .name("waymark")
        .retry_on_initial_connect()
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("connected to NATS"),
                async_nats::Event::ServerError(error) => {
                    tracing::error!(%error, "NATS refused something: check nats.user / nats.password and the server's permissions")
                }
                other => tracing::warn!(event = %other, "NATS connection"),
            }
        });
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.user_and_password(user.clone(), password.expose().clone());
    }
    if let Some(seed) = &config.nkey_seed {
        options = options.nkey(seed.expose().clone());
    }
    if let Some(ca) = &config.ca_file {
        // Two TLS providers may be compiled in; connections use ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        options = options.require_tls(true).add_root_certificates(ca.clone());
    }
    options
}
