//! The relay: the events table is the outbox. Every committed event is published to
//! JetStream from a checkpoint, with the event id as `Nats-Msg-Id` so JetStream drops a
//! re-publish within its duplicate window; the checkpoint moves only after every publish in
//! the batch is acknowledged. Among replicas exactly one relay is active: the one holding a
//! PostgreSQL advisory lock on its own connection. If that connection dies the lock goes with
//! it and a standby takes over.

use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use waymark_event_store::{Checkpoint, Filter, PgEventStore, RecordedEvent};

use crate::jetstream::{StreamOptions, ensure_stream};
use crate::wait::{HELD_BACK_RETRY, POLL, backoff, idle, pause};

#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub stream: StreamOptions,
    pub batch_size: usize,
    /// How often a standby checks whether it can become the active relay.
    pub standby_poll: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            stream: StreamOptions::default(),
            batch_size: 500,
            standby_poll: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Store(#[from] waymark_event_store::StoreError),
    #[error(transparent)]
    JetStream(#[from] crate::jetstream::JetStreamError),
}

/// Runs the relay until shutdown: standby until it holds the lock, then publishes.
pub async fn run(
    store: PgEventStore,
    jetstream: jetstream::Context,
    options: RelayOptions,
    shutdown: CancellationToken,
) {
    let name = format!("relay:{}", options.stream.stream);
    let mut failures = 0;
    while !shutdown.is_cancelled() {
        let outcome = async {
            // A connection of its own: the lock lives exactly as long as it does.
            let mut leader = PgConnection::connect_with(&store.pool().connect_options()).await?;
            let locked: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                    .bind(&name)
                    .fetch_one(&mut leader)
                    .await?;
            if !locked {
                leader.close().await.ok();
                return Ok::<bool, RelayError>(false);
            }
            tracing::info!(relay = %name, "this relay is now the active one");
            lead(&store, &jetstream, &options, &name, &mut leader, &shutdown).await?;
            leader.close().await.ok();
            Ok(true)
        }
        .await;
        let delay = match outcome {
            Ok(true) => Duration::ZERO,
            Ok(false) => options.standby_poll,
            Err(error) => {
                failures += 1;
                tracing::warn!(relay = %name, %error, "relay stopped; starting again");
                backoff(failures)
            }
        };
        if !pause(delay, &shutdown).await {
            break;
        }
    }
}

async fn lead(
    store: &PgEventStore,
    jetstream: &jetstream::Context,
    options: &RelayOptions,
    name: &str,
    leader: &mut PgConnection,
    shutdown: &CancellationToken,
) -> Result<(), RelayError> {
    ensure_stream(jetstream, &options.stream).await?;
    sqlx::query("INSERT INTO bus.checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(&mut *leader)
        .await?;
    let mut checkpoint = Checkpoint {
        position: sqlx::query_scalar("SELECT position FROM bus.checkpoints WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *leader)
            .await?,
    };
    let mut wake = store.changes();
    let mut failures = 0;
    while !shutdown.is_cancelled() {
        wake.borrow_and_update();
        // Read through the lock's connection too: the relay uses nothing of the shared pool,
        // and a dead connection stops it at once.
        let batch = store
            .read_all_in(leader, checkpoint, options.batch_size, &Filter::all())
            .await?;
        if batch.events.is_empty() {
            checkpoint = batch.checkpoint;
            let wait = if batch.held_back {
                HELD_BACK_RETRY
            } else {
                POLL
            };
            idle(&mut wake, wait, shutdown).await;
            continue;
        }
        match publish_all(jetstream, &options.stream, &batch.events).await {
            Ok(duplicates) => {
                failures = 0;
                // Through the lock's own connection: if it has died, so has our leadership.
                sqlx::query(
                    "UPDATE bus.checkpoints SET position = $2, updated_at = now() WHERE name = $1",
                )
                .bind(name)
                .bind(batch.checkpoint.position)
                .execute(&mut *leader)
                .await?;
                checkpoint = batch.checkpoint;
                metrics::counter!("waymark_relay_published_total")
                    .increment(batch.events.len() as u64);
                if duplicates > 0 {
                    tracing::debug!(duplicates, "JetStream already had some of these events");
                }
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "publishing to JetStream failed; retrying the batch");
                metrics::counter!("waymark_relay_publish_failures_total").increment(1);
                if !pause(backoff(failures), shutdown).await {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Publishes the batch, pipelined, and waits for every acknowledgement. Returns how many
/// JetStream reported as duplicates.
async fn publish_all(
    jetstream: &jetstream::Context,
    options: &StreamOptions,
    events: &[RecordedEvent],
) -> Result<usize, String> {
    let mut acks = Vec::with_capacity(events.len());
    for event in events {
        let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(event.event_id.to_string());
        let ack = jetstream
            .send_publish(options.subject(event), message)
            .await
            .map_err(|error| match error.kind() {
                PublishErrorKind::StreamNotFound => "the JetStream stream is missing".to_owned(),
                _ => error.to_string(),
            })?;
        acks.push(ack);
    }
    let mut duplicates = 0;
    for ack in acks {
        let ack = ack.await.map_err(|error| error.to_string())?;
        duplicates += usize::from(ack.duplicate);
    }
    Ok(duplicates)
}
