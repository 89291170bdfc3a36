//! The in-process feed: a handler reads the event store directly from its own checkpoint.
//!
//! Each batch runs in one transaction that locks the handler's checkpoint row, applies the
//! events and moves the checkpoint, so an effect and "this event is done" commit together:
//! exactly once in effect (where the effect is a write to this database), across crashes and
//! across any number of replicas (they queue on the row lock). Projections use this; so do
//! consumers when the services run in one process without NATS. An event the handler cannot
//! handle stops the feed at that event until a fix lets it through; it is never skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waymark_domain::EventId;
use waymark_event_store::{Checkpoint, EventStore, Filter, PgEventStore};

use crate::handler::{EventHandler, HandlerError};
use crate::stuck::Stuck;
use crate::wait::{HELD_BACK_RETRY, POLL, backoff, idle, pause};

const BATCH: usize = 500;

/// Starts `handler` on the feed. The task ends at shutdown.
pub fn spawn_feed<H: EventHandler>(
    store: PgEventStore,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> (FeedHandle, JoinHandle<()>) {
    let (progress, watcher) = watch::channel(Checkpoint::START);
    let handle = FeedHandle {
        name: handler.name().to_owned(),
        pool: store.pool().clone(),
        progress: watcher,
    };
    let task = tokio::spawn(async move {
        let mut feed = Feed {
            filter: Filter::categories(handler.categories().iter().copied()),
            store,
            handler,
            progress,
        };
        feed.run(shutdown).await;
    });
    (handle, task)
}

/// Lets others know how far a feed has got.
#[derive(Clone)]
pub struct FeedHandle {
    name: String,
    pool: PgPool,
    progress: watch::Receiver<Checkpoint>,
}

impl FeedHandle {
    /// Waits until the feed has handled everything up to `target` (for read-your-writes after
    /// a command). Another replica may be the one doing the work, so the stored checkpoint is
    /// polled too. Returns false if `timeout` passed first.
    pub async fn wait_for(&self, target: Checkpoint, timeout: Duration) -> bool {
        let mut progress = self.progress.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if *progress.borrow_and_update() >= target {
                return true;
            }
            if let Ok(Some(stored)) = load_checkpoint(&self.pool, &self.name).await
                && stored >= target
            {
                return true;
            }
            let wait = tokio::time::timeout_at(deadline, async {
                let _ = tokio::time::timeout(Duration::from_millis(25), progress.changed()).await;
            });
            if wait.await.is_err() {
                return false;
            }
        }
    }

    /// The checkpoint this process last moved the feed to.
    pub fn local_progress(&self) -> Checkpoint {
        *self.progress.borrow()
    }
}

async fn load_checkpoint(pool: &PgPool, name: &str) -> Result<Option<Checkpoint>, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM bus.checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(position.map(|position| Checkpoint { position }))
}

struct Feed<H> {
    store: PgEventStore,
    handler: Arc<H>,
    filter: Filter,
    progress: watch::Sender<Checkpoint>,
}

enum Step {
    /// Handled a batch; there may be more.
    Busy,
    /// Nothing to read yet; `held_back` says an open transaction is holding events back.
    Idle { held_back: bool },
}

/// A batch that failed, and the event it failed on (if it got as far as one).
struct Failure {
    event: Option<(EventId, i64)>,
    error: HandlerError,
}

impl From<HandlerError> for Failure {
    fn from(error: HandlerError) -> Self {
        Self { event: None, error }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        HandlerError::from(error).into()
    }
}

impl From<waymark_event_store::StoreError> for Failure {
    fn from(error: waymark_event_store::StoreError) -> Self {
        HandlerError::from(error).into()
    }
}

impl<H: EventHandler> Feed<H> {
    /// Handles batches until shutdown. An event the handler cannot handle stops the feed
    /// there — it is never skipped, so nothing after it is applied to a state missing it — and
    /// the feed is reported stuck (`bus.stuck_feeds`, the `waymark_feed_stuck` gauge) until a
    /// later attempt gets past it. Transient failures are retried with backoff.
    async fn run(&mut self, shutdown: CancellationToken) {
        let name = self.handler.name().to_owned();
        let mut wake = self.store.changes();
        let mut failures = 0;
        let mut stuck = Stuck::new(&name);
        let mut behind_since: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            wake.borrow_and_update();
            let step = self.step().await;
            if step.is_ok() {
                stuck.cleared(self.store.pool()).await;
            }
            match step {
                Ok(Step::Busy) => {
                    failures = 0;
                    let since = *behind_since.get_or_insert_with(Instant::now);
                    metrics::gauge!("waymark_feed_behind_seconds", "feed" => name.clone())
                        .set(since.elapsed().as_secs_f64());
                }
                Ok(Step::Idle { held_back }) => {
                    failures = 0;
                    if behind_since.take().is_some() {
                        metrics::gauge!("waymark_feed_behind_seconds", "feed" => name.clone())
                            .set(0.0);
                    }
                    let wait = if held_back { HELD_BACK_RETRY } else { POLL };
                    if !idle(&mut wake, wait, &shutdown).await {
                        break;
                    }
                }
                Err(failure) => {
                    failures += 1;
                    stuck
                        .failed(self.store.pool(), failure.event, &failure.error, failures)
                        .await;
                    if !pause(backoff(failures), &shutdown).await {
                        break;
                    }
                }
            }
        }
    }

    async fn step(&mut self) -> Result<Step, Failure> {
        let name = self.handler.name();
        // Look before locking: an idle feed then costs one read and no transaction.
        let mut known = *self.progress.borrow();
        if known == Checkpoint::START {
            known = load_checkpoint(self.store.pool(), name)
                .await?
                .unwrap_or_default();
        }
        let peek = self.store.read_all(known, BATCH, &self.filter).await?;
        if peek.events.is_empty() {
            self.progress.send_replace(peek.checkpoint.max(known));
            return Ok(Step::Idle {
                held_back: peek.held_back,
            });
        }

        let mut tx = self.store.pool().begin().await?;
        sqlx::query("INSERT INTO bus.checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // The row lock makes replicas take turns; whoever waited reads the moved checkpoint.
        let from = Checkpoint {
            position: sqlx::query_scalar(
                "SELECT position FROM bus.checkpoints WHERE name = $1 FOR UPDATE",
            )
            .bind(name)
            .fetch_one(&mut *tx)
            .await?,
        };
        // Nothing of ours lies between the stored checkpoint and what this process has
        // already read, unless another replica has moved the checkpoint past it.
        // Read on the transaction's own connection: a feed never holds two at once, so feeds
        // sharing a small pool wait their turn instead of deadlocking.
        let batch = if from <= known {
            peek
        } else {
            self.store
                .read_all_in(&mut tx, from, BATCH, &self.filter)
                .await?
        };
        for event in &batch.events {
            // An error undoes the whole batch (the transaction is dropped).
            let span = crate::handler::event_span(self.handler.name(), event);
            tracing::Instrument::instrument(self.handler.handle(&mut tx, event), span)
                .await
                .map_err(|error| Failure {
                    event: Some((event.event_id, event.position)),
                    error,
                })?;
        }
        if batch.checkpoint != from {
            sqlx::query(
                "UPDATE bus.checkpoints SET position = $2, updated_at = now() WHERE name = $1",
            )
            .bind(name)
            .bind(batch.checkpoint.position)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.progress.send_replace(batch.checkpoint);
        metrics::counter!("waymark_feed_events_total", "feed" => name.to_owned())
            .increment(batch.events.len() as u64);
        if batch.events.is_empty() {
            Ok(Step::Idle {
                held_back: batch.held_back,
            })
        } else {
            Ok(Step::Busy)
        }
    }
}
