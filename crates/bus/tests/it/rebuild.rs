//! `waymark_bus::rebuild`: a projection built again from the start of the store, in one
//! transaction, while readers keep the old one and the live feed waits its turn.

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use waymark_bus::rebuild::{RebuildError, rebuild};
use waymark_bus::{EventHandler, HandlerError, Projection, spawn_feed};
use waymark_event_store::{EventStore, ExpectedVersion, RecordedEvent};
use waymark_testkit::eventually;

use crate::support::*;

const NAME: &str = "rebuild-test";

/// The recorder, stopping at the event numbered `at` until the test lets it go.
struct Paused {
    recorder: Recorder,
    at: u64,
    reached: Arc<Notify>,
    release: Arc<Notify>,
}

impl EventHandler for Paused {
    fn name(&self) -> &str {
        self.recorder.name()
    }

    fn categories(&self) -> &[&'static str] {
        self.recorder.categories()
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        if number(event) == self.at {
            self.reached.notify_one();
            self.release.notified().await;
        }
        self.recorder.handle(tx, event).await
    }
}

impl Projection for Paused {
    fn tables(&self) -> &[&'static str] {
        &["test_effects"]
    }
}

impl Projection for Recorder {
    fn tables(&self) -> &[&'static str] {
        &["test_effects"]
    }
}

fn number(event: &RecordedEvent) -> u64 {
    let value: serde_json::Value = serde_json::from_str(event.payload.get()).unwrap();
    value["n"].as_u64().unwrap()
}

/// The read model as readers see it: rows, rows with a wrong `n`, rows for no event.
async fn seen(pool: &sqlx::PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE n < 0), \
         count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM event_store.events e WHERE e.event_id = t.event_id)) \
         FROM test_effects t WHERE handler = $1",
    )
    .bind(NAME)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A read model gone wrong: 100 rows with a wrong value, 50 rows lost, one row for no event.
async fn spoil(pool: &sqlx::PgPool) {
    for statement in [
        "UPDATE test_effects SET n = -1 WHERE handler = $1 AND n < 100",
        "DELETE FROM test_effects WHERE handler = $1 AND n BETWEEN 200 AND 249",
        "INSERT INTO test_effects (handler, event_id, n) VALUES ($1, gen_random_uuid(), 7)",
    ] {
        sqlx::query(statement)
            .bind(NAME)
            .execute(pool)
            .await
            .unwrap();
    }
}

async fn stored_checkpoint(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT position FROM bus.checkpoints WHERE name = $1")
        .bind(NAME)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `events` events, applied by a live feed (running until `shutdown`), then the read model
/// spoiled.
async fn spoiled_read_model(
    events: u64,
    shutdown: &CancellationToken,
) -> (
    waymark_testkit::TestDatabase,
    waymark_event_store::PgEventStore,
    tokio::task::JoinHandle<()>,
) {
    let (db, store) = setup().await;
    append_many(&store, events, 10, 10).await;
    let (_, live) = spawn_feed(
        store.clone(),
        Arc::new(Recorder::new(NAME)),
        shutdown.clone(),
    );
    eventually(PATIENCE, "the live feed to apply every event", || async {
        seen(&db.pool).await.0 == events as i64
    })
    .await;
    spoil(&db.pool).await;
    (db, store, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_replaces_the_read_model_in_one_step_while_the_old_one_serves() {
    let shutdown = CancellationToken::new();
    let (db, store, live) = spoiled_read_model(1000, &shutdown).await;
    let spoiled = seen(&db.pool).await;
    assert_eq!(spoiled, (951, 100, 1));

    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let paused = Paused {
        recorder: Recorder::new(NAME),
        at: 500,
        reached: reached.clone(),
        release: release.clone(),
    };
    let rebuilding = tokio::spawn({
        let store = store.clone();
        async move {
            let mut batches = 0;
            let rebuilt = rebuild(&store, &paused, &mut |_| batches += 1).await;
            (rebuilt, batches)
        }
    });
    reached.notified().await;
    // Half way through: readers still see the old read model, spoiled as it was.
    assert_eq!(seen(&db.pool).await, spoiled);
    // Events stored meanwhile wait: the live feed does not apply them behind the rebuild.
    let stream = waymark_domain::StreamId::new("counter", uuid::Uuid::new_v4());
    let trust = waymark_domain::TrustId::from_uuid(uuid::Uuid::new_v4());
    let later: Vec<_> = (1000..1010).map(event).collect();
    store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &later,
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(seen(&db.pool).await, spoiled, "the live feed waits");
    release.notify_one();

    let (rebuilt, batches) = rebuilding.await.unwrap();
    let rebuilt = rebuilt.unwrap();
    assert!(
        (1000..=1010).contains(&rebuilt.events),
        "{} events",
        rebuilt.events
    );
    assert!(batches >= 2, "progress after each batch ({batches})");
    assert!(stored_checkpoint(&db.pool).await >= rebuilt.checkpoint.position);
    // The live feed carries on from the rebuild: everything once, nothing spoiled left.
    eventually(
        PATIENCE,
        "all 1010 events in the rebuilt read model",
        || async { seen(&db.pool).await.0 == 1010 },
    )
    .await;
    assert_eq!(seen(&db.pool).await, (1010, 0, 0));
    assert_eq!(effects(&db.pool, NAME).await, (1010, 1), "each event once");
    shutdown.cancel();
    live.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_fails_leaves_the_old_read_model_and_the_live_feed_as_they_were() {
    let shutdown = CancellationToken::new();
    let (db, store, live) = spoiled_read_model(300, &shutdown).await;
    let spoiled = seen(&db.pool).await;
    let checkpoint = stored_checkpoint(&db.pool).await;

    let broken = Recorder {
        poison: Some(150),
        ..Recorder::new(NAME)
    };
    let error = rebuild(&store, &broken, &mut |_| {}).await.unwrap_err();
    assert!(
        matches!(&error, RebuildError::Event { error, .. } if !error.is_transient()),
        "{error}"
    );
    assert_eq!(seen(&db.pool).await, spoiled, "nothing changed");
    assert_eq!(stored_checkpoint(&db.pool).await, checkpoint);

    // The live feed goes on as before.
    let stream = waymark_domain::StreamId::new("counter", uuid::Uuid::new_v4());
    let trust = waymark_domain::TrustId::from_uuid(uuid::Uuid::new_v4());
    store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &[event(300)],
        )
        .await
        .unwrap();
    eventually(
        PATIENCE,
        "the live feed to apply the next event",
        || async { seen(&db.pool).await.0 == spoiled.0 + 1 },
    )
    .await;
    shutdown.cancel();
    live.await.unwrap();
}
