//! The relay: the events table is the outbox. Every committed event is published to
//! JetStream from a checkpoint, with the event id as `Nats-Msg-Id` so JetStream drops a
//! re-publish within its duplicate window; the checkpoint moves only after every publish in
//! the batch is acknowledged. Among replicas exactly one relay is active: the one holding a
//! PostgreSQL advisory lock on its own connection. If that connection dies the lock goes with
//! it and a standby takes over. If it goes silent instead (a network partition, a NAT that
//! forgot it), the active relay's heartbeat stops: a standby that finds it older than
//! `takeover_after` ends that connection on the server, which releases the lock, and takes
//! over. The old relay can then neither read nor move the checkpoint (both go through the
//! dead connection); anything it published meanwhile JetStream drops as a duplicate.

use std::time::{Duration, Instant};

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
    /// How old the active relay's heartbeat may be before a standby ends its connection and
    /// takes over. It beats five times in this time.
    pub takeover_after: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            stream: StreamOptions::default(),
            batch_size: 500,
            standby_poll: Duration::from_secs(2),
            takeover_after: Duration::from_secs(10),
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
                end_silent_leader(&mut leader, &name, options.takeover_after).await?;
                leader.close().await.ok();
                return Ok::<bool, RelayError>(false);
            }
            beat(&mut leader, &name).await?;
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
    let beat_every = options.takeover_after / 5;
    let mut last_beat: Option<Instant> = None;
    while !shutdown.is_cancelled() {
        if last_beat.is_none_or(|at| at.elapsed() >= beat_every) {
            beat(leader, name).await?;
            last_beat = Some(Instant::now());
        }
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
                // Wait in steps no longer than a beat, so the heartbeat goes on.
                if !pause(backoff(failures).min(beat_every), shutdown).await {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Says, through the lock's own connection, that the active relay is alive.
async fn beat(leader: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bus.relay_leases (name, pid, heartbeat_at) \
         VALUES ($1, pg_backend_pid(), clock_timestamp()) \
         ON CONFLICT (name) DO UPDATE SET pid = excluded.pid, heartbeat_at = excluded.heartbeat_at",
    )
    .bind(name)
    .execute(leader)
    .await?;
    Ok(())
}

/// A standby's check: if the lock's holder has not beaten for `takeover_after`, end its
/// connection on the server (which releases the lock). Only a session that still holds an
/// advisory lock is ended, so a heartbeat left by a relay that is gone ends nobody.
async fn end_silent_leader(
    conn: &mut PgConnection,
    name: &str,
    takeover_after: Duration,
) -> Result<(), sqlx::Error> {
    let ended: Option<i32> = sqlx::query_scalar(
        "WITH silent AS MATERIALIZED ( \
             SELECT r.pid FROM bus.relay_leases r \
             WHERE r.name = $1 AND r.heartbeat_at < clock_timestamp() - make_interval(secs => $2) \
               AND EXISTS (SELECT 1 FROM pg_locks l \
                   WHERE l.pid = r.pid AND l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted \
                     AND l.classid::int8 = (hashtextextended($1, 0) >> 32) & 4294967295 \
                     AND l.objid::int8 = hashtextextended($1, 0) & 4294967295)) \
         SELECT pid FROM silent WHERE pg_terminate_backend(pid)",
    )
    .bind(name)
    .bind(takeover_after.as_secs_f64())
    .fetch_optional(conn)
    .await?;
    if let Some(pid) = ended {
        tracing::warn!(relay = %name, pid, "the active relay's heartbeat stopped; its connection was ended to take over");
        metrics::counter!("waymark_relay_takeovers_total").increment(1);
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
