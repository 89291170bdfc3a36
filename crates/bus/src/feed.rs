//! The in-process feed: a handler reads the event store directly from its own checkpoint.
//!
//! Each batch runs in one transaction that locks the handler's checkpoint row, applies the
//! events and moves the checkpoint, so an effect and "this event is done" commit together:
//! exactly once in effect, across crashes and across any number of replicas (they queue on
//! the row lock). Projections use this; so do consumers when the services run in one process
//! without NATS.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgPool, Row};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waymark_domain::EventId;
use waymark_event_store::{Checkpoint, EventStore, Filter, PgEventStore};

use crate::handler::{EventHandler, HandlerError};
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
            poisoned: HashMap::new(),
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
    let row = sqlx::query("SELECT tx_id, position FROM bus.checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(Checkpoint {
            tx_id: row.try_get(0)?,
            position: row.try_get(1)?,
        })
    })
    .transpose()
}

struct Feed<H> {
    store: PgEventStore,
    handler: Arc<H>,
    filter: Filter,
    progress: watch::Sender<Checkpoint>,
    /// Events the handler refused permanently, set aside on the next attempt.
    poisoned: HashMap<EventId, String>,
}

enum Step {
    /// Handled a batch; there may be more.
    Busy,
    /// Nothing to read yet; `held_back` says an open transaction is holding events back.
    Idle { held_back: bool },
}

impl<H: EventHandler> Feed<H> {
    async fn run(&mut self, shutdown: CancellationToken) {
        let name = self.handler.name().to_owned();
        let mut wake = self.store.changes();
        let mut failures = 0;
        while !shutdown.is_cancelled() {
            wake.borrow_and_update();
            match self.step().await {
                Ok(Step::Busy) => failures = 0,
                Ok(Step::Idle { held_back }) => {
                    failures = 0;
                    let wait = if held_back { HELD_BACK_RETRY } else { POLL };
                    if !idle(&mut wake, wait, &shutdown).await {
                        break;
                    }
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(feed = %name, %error, failures, "feed batch failed; retrying");
                    if !pause(backoff(failures), &shutdown).await {
                        break;
                    }
                }
            }
        }
    }

    async fn step(&mut self) -> Result<Step, HandlerError> {
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
        let row =
            sqlx::query("SELECT tx_id, position FROM bus.checkpoints WHERE name = $1 FOR UPDATE")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        let from = Checkpoint {
            tx_id: row.try_get(0)?,
            position: row.try_get(1)?,
        };
        // Nothing of ours lies between the stored checkpoint and what this process has
        // already read, unless another replica has moved the checkpoint past it.
        let batch = if from <= known {
            peek
        } else {
            self.store.read_all(from, BATCH, &self.filter).await?
        };
        for event in &batch.events {
            if let Some(error) = self.poisoned.get(&event.event_id) {
                sqlx::query(
                    "INSERT INTO bus.dead_letters (consumer, event_id, error) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(event.event_id.into_uuid())
                .bind(error)
                .execute(&mut *tx)
                .await?;
                tracing::error!(feed = %name, event_id = %event.event_id, %error, "event set aside as a dead letter");
                continue;
            }
            match self.handler.handle(&mut tx, event).await {
                Ok(()) => {}
                Err(HandlerError::Permanent(error)) => {
                    // Undo the whole batch and do it again without this event.
                    self.poisoned.insert(event.event_id, error);
                    drop(tx);
                    return Ok(Step::Busy);
                }
                Err(error) => return Err(error),
            }
        }
        if batch.checkpoint != from {
            sqlx::query(
                "UPDATE bus.checkpoints SET tx_id = $2, position = $3, updated_at = now() WHERE name = $1",
            )
            .bind(name)
            .bind(batch.checkpoint.tx_id)
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
