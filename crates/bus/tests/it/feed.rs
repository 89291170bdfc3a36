use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use waymark_bus::spawn_feed;
use waymark_event_store::{EventStore, ExpectedVersion};
use waymark_testkit::eventually;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_and_restarts_apply_every_event_exactly_once() {
    let (db, store) = setup().await;
    let handler = Arc::new(Recorder::new("feed-test"));
    let first = CancellationToken::new();
    let second = CancellationToken::new();
    let (_, one) = spawn_feed(store.clone(), handler.clone(), first.clone());
    let (_, two) = spawn_feed(store.clone(), handler.clone(), second.clone());

    let writing = tokio::spawn({
        let store = store.clone();
        async move { append_many(&store, 2000, 7, 20).await }
    });
    // Stop one replica part way, as a crash or a deploy would, and start another.
    eventually(PATIENCE, "some events handled", || async {
        effects(&db.pool, "feed-test").await.0 > 300
    })
    .await;
    first.cancel();
    one.await.unwrap();
    let third = CancellationToken::new();
    let (_, three) = spawn_feed(store.clone(), handler.clone(), third.clone());

    writing.await.unwrap();
    eventually(PATIENCE, "all 2000 events handled", || async {
        effects(&db.pool, "feed-test").await.0 == 2000
    })
    .await;
    let (count, most) = effects(&db.pool, "feed-test").await;
    assert_eq!((count, most), (2000, 1), "an event was applied twice");
    second.cancel();
    third.cancel();
    two.await.unwrap();
    three.await.unwrap();
}

/// A handler that breaks a unique constraint on one event (a bug, or data it did not expect)
/// does not loop on it as if the database had hiccuped, and does not skip it either: the feed
/// stops at that event, says where and why, applies nothing after it, and moves on once a fixed
/// handler is deployed — every event then applied once.
#[tokio::test]
async fn an_event_its_handler_cannot_handle_stops_the_feed_until_it_is_fixed() {
    let (db, store) = setup().await;
    let broken = Arc::new(Recorder {
        name: "poison-test".to_owned(),
        poison: Some(5),
        slow: false,
    });
    let shutdown = CancellationToken::new();
    let (_, task) = spawn_feed(store.clone(), broken, shutdown.clone());
    let trust = waymark_domain::TrustId::from_uuid(uuid::Uuid::new_v4());
    let stream = waymark_domain::StreamId::new("counter", uuid::Uuid::new_v4());
    let mut positions = Vec::new();
    for n in 0..10 {
        let outcome = store
            .append(
                trust,
                &stream,
                ExpectedVersion::Any,
                &metadata(),
                &[event(n)],
            )
            .await
            .unwrap();
        positions.push(outcome.positions[0]);
    }
    eventually(PATIENCE, "the feed reports itself stuck", || async {
        stuck(&db.pool, "poison-test").await.is_some()
    })
    .await;
    let (position, error) = stuck(&db.pool, "poison-test").await.unwrap();
    assert_eq!(
        position,
        Some(positions[5]),
        "stuck at the event it cannot handle"
    );
    assert!(error.contains("duplicate key"), "{error}");
    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT n FROM test_effects WHERE handler = 'poison-test' AND n >= 5")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        applied.is_empty(),
        "nothing from the failing event on was applied"
    );
    shutdown.cancel();
    task.await.unwrap();

    // The fix is deployed.
    let shutdown = CancellationToken::new();
    let (_, task) = spawn_feed(
        store.clone(),
        Arc::new(Recorder::new("poison-test")),
        shutdown.clone(),
    );
    eventually(PATIENCE, "all ten events handled", || async {
        effects(&db.pool, "poison-test").await.0 == 10
    })
    .await;
    assert_eq!(effects(&db.pool, "poison-test").await, (10, 1));
    eventually(PATIENCE, "the stuck record cleared", || async {
        stuck(&db.pool, "poison-test").await.is_none()
    })
    .await;
    shutdown.cancel();
    task.await.unwrap();
}

async fn stuck(pool: &sqlx::PgPool, name: &str) -> Option<(Option<i64>, String)> {
    sqlx::query_as("SELECT position, error FROM bus.stuck_feeds WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_writer_can_wait_until_the_feed_has_its_event() {
    let (db, store) = setup().await;
    let shutdown = CancellationToken::new();
    let (feed, task) = spawn_feed(
        store.clone(),
        Arc::new(Recorder::new("wait-test")),
        shutdown.clone(),
    );
    let trust = waymark_domain::TrustId::from_uuid(uuid::Uuid::new_v4());
    let stream = waymark_domain::StreamId::new("counter", uuid::Uuid::new_v4());
    for n in 0..5 {
        let outcome = store
            .append(
                trust,
                &stream,
                ExpectedVersion::Any,
                &metadata(),
                &[event(n)],
            )
            .await
            .unwrap();
        assert!(
            feed.wait_for(outcome.checkpoint, Duration::from_secs(10))
                .await
        );
        // Read-your-writes: the effect is there the moment wait_for returns.
        assert_eq!(effects(&db.pool, "wait-test").await.0, n as i64 + 1);
    }
    shutdown.cancel();
    task.await.unwrap();
}
