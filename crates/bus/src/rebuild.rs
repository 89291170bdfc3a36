//! Rebuilding a projection from the start of the store (`waymark projections rebuild`).
//!
//! A rebuild is one transaction. It locks the projection's checkpoint row, so the live feed
//! (in this process or in any replica) waits for it instead of applying anything twice. It
//! empties the projection's tables with `DELETE`, replays every event of the projection's
//! categories from the start of the store through the projection's own handler, moves the
//! checkpoint to where the replay stopped, and commits.
//!
//! Until the commit, everyone else reads the old tables as they were (PostgreSQL's
//! snapshots): the old read model keeps serving while the new one is built, and the commit
//! swaps them in one step. If the rebuild fails or is stopped, it rolls back and nothing has
//! changed. Meanwhile the live feed does not move, so commands made during a rebuild show
//! in the read model once it commits. After that the live feed carries on from the
//! rebuild's checkpoint.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use waymark_event_store::{Checkpoint, Filter, PgEventStore, RecordedEvent, StoreError};

use crate::handler::{EventHandler, HandlerError};

/// Events read per statement during a rebuild.
const BATCH: usize = 10_000;

/// A handler whose effect is a read model that can be built again from the store alone.
pub trait Projection: EventHandler {
    /// The tables the projection alone fills from events, emptied before a rebuild replays
    /// the store into them. Applying every event in order to these tables, empty, must give
    /// the whole read model, with no effect outside them that may not happen twice.
    fn tables(&self) -> &[&'static str];

    /// Applies `events`, in order, as [`EventHandler::handle`] would one at a time: a
    /// rebuild hands it each batch it reads. A projection may override it to do a batch in
    /// a few statements (a round trip to PostgreSQL per event is what a rebuild spends its
    /// time on). On error: the index of the event it failed on, when known.
    fn handle_batch(
        &self,
        tx: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> impl Future<Output = Result<(), (Option<usize>, HandlerError)>> + Send {
        async move {
            for (i, event) in events.iter().enumerate() {
                self.handle(tx, event)
                    .await
                    .map_err(|error| (Some(i), error))?;
            }
            Ok(())
        }
    }
}

/// How far a rebuild has got: after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events applied so far.
    pub events: u64,
    /// The store position read up to.
    pub position: i64,
}

/// What a finished rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct Rebuilt {
    pub events: u64,
    /// Where the live feed carries on from.
    pub checkpoint: Checkpoint,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("database error during the rebuild: {0}")]
    Database(#[from] sqlx::Error),
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    #[error("event {event_id} at position {position} cannot be applied: {error}")]
    Event {
        event_id: waymark_domain::EventId,
        position: i64,
        error: HandlerError,
    },
    #[error("the events after position {after} cannot be applied: {error}")]
    Batch { after: i64, error: HandlerError },
}

/// Rebuilds `projection` (see the module's documentation). `progress` is told after each
/// batch, inside the transaction.
pub async fn rebuild<P: Projection>(
    store: &PgEventStore,
    projection: &P,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Rebuilt, RebuildError> {
    let started = Instant::now();
    let name = projection.name();
    let filter = Filter::categories(projection.categories().iter().copied());
    let mut tx = store.pool().begin().await?;
    // One operator command: however long its statements take is fine.
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO bus.checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT position FROM bus.checkpoints WHERE name = $1 FOR UPDATE")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    for table in projection.tables() {
        // Not TRUNCATE: it would lock readers out until the commit.
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *tx)
            .await?;
    }
    let mut checkpoint = Checkpoint::START;
    let mut events = 0;
    loop {
        let batch = store
            .read_all_in(&mut tx, checkpoint, BATCH, &filter)
            .await?;
        projection
            .handle_batch(&mut tx, &batch.events)
            .await
            .map_err(|(at, error)| match at.and_then(|i| batch.events.get(i)) {
                Some(event) => RebuildError::Event {
                    event_id: event.event_id,
                    position: event.position,
                    error,
                },
                None => RebuildError::Batch {
                    after: checkpoint.position,
                    error,
                },
            })?;
        events += batch.events.len() as u64;
        checkpoint = batch.checkpoint;
        progress(Progress {
            events,
            position: checkpoint.position,
        });
        // Caught up: whatever comes later is the live feed's.
        if batch.events.is_empty() {
            break;
        }
    }
    sqlx::query("UPDATE bus.checkpoints SET position = $2, updated_at = now() WHERE name = $1")
        .bind(name)
        .bind(checkpoint.position)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Rebuilt {
        events,
        checkpoint,
        elapsed: started.elapsed(),
    })
}

/// A projection the command line can find by name and rebuild.
pub trait Rebuild: Send + Sync {
    fn name(&self) -> &str;

    fn run<'a>(
        &'a self,
        store: &'a PgEventStore,
        progress: &'a mut (dyn FnMut(Progress) + Send),
    ) -> Pin<Box<dyn Future<Output = Result<Rebuilt, RebuildError>> + Send + 'a>>;
}

impl<P: Projection> Rebuild for P {
    fn name(&self) -> &str {
        EventHandler::name(self)
    }

    fn run<'a>(
        &'a self,
        store: &'a PgEventStore,
        progress: &'a mut (dyn FnMut(Progress) + Send),
    ) -> Pin<Box<dyn Future<Output = Result<Rebuilt, RebuildError>> + Send + 'a>> {
        Box::pin(rebuild(store, self, progress))
    }
}
