//! JetStream: the stream the relay publishes to, and durable consumers that apply each event
//! exactly once in effect.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_event_store::{PgEventStore, RecordedEvent};

use crate::handler::{EventHandler, HandlerError};
use crate::stuck::Stuck;
use crate::wait::{backoff, pause};

/// Where events go on NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// The JetStream stream, `WAYMARK_EVENTS` by default.
    pub stream: String,
    /// Subjects are `<prefix>.<trust>.<category>.<event type>`.
    pub subject_prefix: String,
    /// How long JetStream keeps events. PostgreSQL keeps them forever; JetStream can be
    /// refilled from it by resetting the relay checkpoint.
    pub max_age: Duration,
    /// Copies JetStream keeps of each message: 3 on a three-node NATS cluster (the deploy
    /// files), 1 on a single server.
    pub replicas: usize,
    /// How long JetStream remembers a message id to drop a second publish of it (two
    /// minutes). A repeat after that is stored twice; consumers still apply it once.
    pub duplicate_window: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            stream: "WAYMARK_EVENTS".to_owned(),
            subject_prefix: "waymark.events".to_owned(),
            max_age: Duration::from_secs(90 * 24 * 3600),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
        }
    }
}

impl StreamOptions {
    pub fn subject(&self, event: &RecordedEvent) -> String {
        format!(
            "{}.{}.{}.{}",
            self.subject_prefix,
            event.trust_id,
            event.stream_id.category(),
            event.event_type
        )
    }

    /// The subject filter for a handler's categories (JetStream before 2.10 takes one).
    fn filter(&self, categories: &[&str]) -> String {
        match categories {
            [one] => format!("{}.*.{one}.*", self.subject_prefix),
            _ => format!("{}.>", self.subject_prefix),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    #[error("cannot set up the JetStream stream: {0}")]
    Stream(String),
    #[error("cannot set up the JetStream consumer: {0}")]
    Consumer(String),
}

/// Creates the stream if it does not exist. Every publisher and consumer calls this with the
/// same options, so start-up order does not matter.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    options: &StreamOptions,
) -> Result<stream::Stream, JetStreamError> {
    jetstream
        .get_or_create_stream(stream::Config {
            name: options.stream.clone(),
            subjects: vec![format!("{}.>", options.subject_prefix)],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: options.duplicate_window,
            max_age: options.max_age,
            num_replicas: options.replicas,
            ..Default::default()
        })
        .await
        .map_err(|error| JetStreamError::Stream(error.to_string()))
}

/// How a consumer reads.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    pub stream: StreamOptions,
    /// Messages delivered but not yet acknowledged: bounds the work in flight.
    pub max_ack_pending: i64,
    /// Redelivery after this long without an acknowledgement.
    pub ack_wait: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            stream: StreamOptions::default(),
            max_ack_pending: 256,
            ack_wait: Duration::from_secs(30),
        }
    }
}

/// Runs `handler` as a durable pull consumer until shutdown. Each event is applied in one
/// transaction that also records it in `bus.processed`; a redelivered event finds that row
/// and is only acknowledged. Events are handled one at a time, in stream order.
pub async fn run_consumer<H: EventHandler>(
    pool: PgPool,
    jetstream: jetstream::Context,
    options: ConsumerOptions,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let mut failures = 0;
    while !shutdown.is_cancelled() {
        match consume(&pool, &jetstream, &options, &handler, &shutdown).await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures += 1;
                tracing::warn!(consumer = handler.name(), %error, "consumer cannot start; retrying");
            }
        }
        if !pause(backoff(failures), &shutdown).await {
            break;
        }
    }
}

async fn consume<H: EventHandler>(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    options: &ConsumerOptions,
    handler: &Arc<H>,
    shutdown: &CancellationToken,
) -> Result<(), JetStreamError> {
    let stream = ensure_stream(jetstream, &options.stream).await?;
    let durable = durable_name(handler.name());
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(
            &durable,
            pull::Config {
                durable_name: Some(durable.clone()),
                filter_subject: options.stream.filter(handler.categories()),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::All,
                ack_wait: options.ack_wait,
                max_ack_pending: options.max_ack_pending,
                ..Default::default()
            },
        )
        .await
        .map_err(|error| JetStreamError::Consumer(error.to_string()))?;
    let store = PgEventStore::new(pool.clone());
    let mut stuck = Stuck::new(handler.name());
    let mut messages = consumer
        .messages()
        .await
        .map_err(|error| JetStreamError::Consumer(error.to_string()))?;
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => {
                hand_back(&mut messages).await;
                return Ok(());
            }
            next = messages.next() => next,
        };
        match next {
            None => return Ok(()),
            // Heartbeat gaps and reconnections surface here; the stream carries on.
            Some(Err(error)) => {
                tracing::debug!(consumer = handler.name(), %error, "consumer stream hiccup")
            }
            Some(Ok(message)) => {
                handle_message(
                    pool,
                    &store,
                    handler.as_ref(),
                    &message,
                    &mut stuck,
                    shutdown,
                )
                .await
            }
        }
    }
}

/// At shutdown, gives back the messages already pulled but not handled, so another replica
/// (or this one, restarted) gets them now rather than after the acknowledgement timeout.
async fn hand_back(messages: &mut pull::Stream) {
    // A short delay on each, or JetStream would deliver them straight back to this stream.
    let mut budget = 1000;
    while budget > 0
        && let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(50), messages.next()).await
    {
        let _ = message
            .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await;
        budget -= 1;
    }
}

/// JetStream names appear inside API subjects, so they cannot hold `.`, `*`, `>` or spaces.
fn durable_name(handler: &str) -> String {
    handler
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn handle_message<H: EventHandler>(
    pool: &PgPool,
    store: &PgEventStore,
    handler: &H,
    message: &jetstream::Message,
    stuck: &mut Stuck,
    shutdown: &CancellationToken,
) {
    let published: RecordedEvent = match serde_json::from_slice(&message.payload) {
        Ok(event) => event,
        Err(error) => {
            let id = message
                .headers
                .as_ref()
                .and_then(|headers| headers.get("Nats-Msg-Id"))
                .and_then(|id| Uuid::parse_str(id.as_str()).ok())
                .unwrap_or_default();
            tracing::error!(consumer = handler.name(), %id, %error, "malformed event message");
            record_dead_letter(
                pool,
                handler.name(),
                id,
                &format!("malformed message: {error}"),
            )
            .await;
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    // Only the event's id is taken from the message. What is applied is the event as the
    // store holds it, so whoever can publish to NATS can make a consumer apply nothing the
    // store does not hold, and nothing other than what it holds.
    let event = loop {
        match store.read_by_ids(&[published.event_id]).await {
            Ok(mut found) => match found.pop() {
                Some(stored) => break stored,
                None => {
                    tracing::error!(consumer = handler.name(), event_id = %published.event_id, "a message for an event the store does not hold: not applied");
                    record_dead_letter(
                        pool,
                        handler.name(),
                        published.event_id.into_uuid(),
                        "the event store holds no event with this id: the message was not the relay's",
                    )
                    .await;
                    let _ = message.ack_with(AckKind::Term).await;
                    return;
                }
            },
            Err(error) => {
                tracing::warn!(consumer = handler.name(), %error, "cannot read the event the message names; retrying");
                let _ = message.ack_with(AckKind::Progress).await;
                if !pause(backoff(1), shutdown).await {
                    return;
                }
            }
        }
    };
    if event.payload.get() != published.payload.get() || event.trust_id != published.trust_id {
        tracing::warn!(consumer = handler.name(), event_id = %event.event_id, "a message differs from the stored event: the stored one is applied");
    }
    if handler.categories().contains(&event.stream_id.category()) {
        // An event the handler cannot handle is never skipped: the consumer stops at it, is
        // reported stuck, and tries again (with backoff) until a fix lets it through.
        let mut failures = 0;
        // How often JetStream has delivered this message: a message that keeps arriving before
        // its stream's previous event is applied at last (see `apply_once`).
        let delivered = message.info().map_or(1, |info| info.delivered);
        let patient = delivered < ORDER_PATIENCE;
        loop {
            match apply_once(pool, handler, &event, patient).await {
                Ok(Applied::NotYet) => {
                    // Another replica holds the stream's previous event: give this one back
                    // for a moment, and take the next message meanwhile.
                    let _ = message.ack_with(AckKind::Nak(Some(ORDER_RETRY))).await;
                    return;
                }
                Ok(Applied::Now | Applied::Already) => {
                    stuck.cleared(pool).await;
                    break;
                }
                Err(error) => {
                    failures += 1;
                    stuck
                        .failed(
                            pool,
                            Some((event.event_id, event.position)),
                            &error,
                            failures,
                        )
                        .await;
                    // Keep the message ours while retrying, so order is kept.
                    let _ = message.ack_with(AckKind::Progress).await;
                    if !pause(backoff(failures), shutdown).await {
                        return; // not acknowledged: redelivered after restart
                    }
                }
            }
        }
    }
    if let Err(error) = message.ack().await {
        // A lost ack means a redelivery, which bus.processed turns into a no-op.
        tracing::debug!(consumer = handler.name(), %error, "acknowledgement not sent");
    }
}

/// How long a message that came before its stream's previous event waits to be delivered again.
const ORDER_RETRY: Duration = Duration::from_millis(200);
/// After this many deliveries (about half a minute) such a message is applied anyway (the
/// previous event may be gone from JetStream, older than its `max_age`), later than its
/// predecessor's turn but never lost: a late predecessor is still applied when it comes.
const ORDER_PATIENCE: i64 = 150;

enum Applied {
    Now,
    Already,
    /// The stream's previous event has not been applied yet (it is with another replica).
    NotYet,
}

/// Applies `event` unless this consumer already has, and — while `patient` — only after the
/// previous event of its stream: replicas of a consumer take messages in parallel, so one can
/// be handed version 2 of a stream while another still works on version 1.
async fn apply_once<H: EventHandler>(
    pool: &PgPool,
    handler: &H,
    event: &RecordedEvent,
    patient: bool,
) -> Result<Applied, HandlerError> {
    let mut tx = pool.begin().await?;
    // Applied already if this consumer recorded it, or if the in-process feed of the same
    // name got past it before NATS was configured (its checkpoint says how far): switching
    // to NATS replays the stream from its start, and none of that history runs again.
    let fresh = sqlx::query(
        "INSERT INTO bus.processed (consumer, event_id) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM bus.checkpoints c \
                           WHERE c.name = $1 AND c.position >= $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(handler.name())
    .bind(event.event_id.into_uuid())
    .bind(event.position)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let applied = sqlx::query_scalar::<_, i64>(
        "SELECT version FROM bus.consumer_streams WHERE consumer = $1 AND stream_id = $2 FOR UPDATE",
    )
    .bind(handler.name())
    .bind(event.stream_id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0);
    if fresh && patient && event.stream_version > applied + 1 {
        tx.rollback().await?;
        return Ok(Applied::NotYet);
    }
    if fresh {
        let span = crate::handler::event_span(handler.name(), event);
        tracing::Instrument::instrument(handler.handle(&mut tx, event), span).await?;
    }
    sqlx::query(
        "INSERT INTO bus.consumer_streams (consumer, stream_id, version) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer, stream_id) \
         DO UPDATE SET version = greatest(bus.consumer_streams.version, excluded.version)",
    )
    .bind(handler.name())
    .bind(event.stream_id.as_str())
    .bind(event.stream_version)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    metrics::counter!("waymark_consumer_events_total", "consumer" => handler.name().to_owned(), "fresh" => fresh.to_string())
        .increment(1);
    Ok(if fresh {
        Applied::Now
    } else {
        Applied::Already
    })
}

async fn record_dead_letter(pool: &PgPool, consumer: &str, event_id: Uuid, error: &str) {
    let recorded = sqlx::query(
        "WITH dead AS (INSERT INTO bus.dead_letters (consumer, event_id, error) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING) \
         INSERT INTO bus.processed (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .bind(error)
    .execute(pool)
    .await;
    if let Err(error) = recorded {
        tracing::error!(consumer, %event_id, %error, "could not record a dead letter");
    }
}
