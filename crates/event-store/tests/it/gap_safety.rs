use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::Rng;
use sqlx::Connection;
use waymark_domain::{EventId, StreamId};
use waymark_event_store::{AppendError, Checkpoint, EventStore, ExpectedVersion, Filter};

use crate::support::*;

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let (db, store) = store().await;
    let trust = trust();
    let (early, late) = (stream("counter"), stream("counter"));

    // The early transaction takes a lower position and stays open...
    let mut open = db.pool.acquire().await.unwrap();
    let mut open_tx = open.begin().await.unwrap();
    let held = store
        .append_in(
            &mut open_tx,
            trust,
            &early,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..1),
        )
        .await
        .unwrap();
    // ...while a later one commits a higher position.
    let committed = store
        .append(
            trust,
            &late,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(1..2),
        )
        .await
        .unwrap();
    assert!(committed.positions[0] > held.positions[0]);

    // A naive "position > last seen" reader would read the later event now, move its
    // checkpoint past the open one, and never see it. The store holds the later one back.
    let first = store
        .read_all(Checkpoint::START, 100, &Filter::all())
        .await
        .unwrap();
    assert!(
        first.events.is_empty(),
        "nothing is readable while an older transaction is open"
    );
    assert!(first.held_back);

    open_tx.commit().await.unwrap();
    let (read, _) = read_at_least(&store, first.checkpoint, &Filter::all(), 2).await;
    let streams: Vec<&StreamId> = read.iter().map(|e| &e.stream_id).collect();
    assert_eq!(streams, [&early, &late]);
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_trace_and_blocks_nothing() {
    let (db, store) = store().await;
    let trust = trust();
    let mut conn = db.pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    store
        .append_in(
            &mut tx,
            trust,
            &stream("counter"),
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..1),
        )
        .await
        .unwrap();
    let kept = stream("counter");
    store
        .append(
            trust,
            &kept,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(1..2),
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let (read, _) = read_at_least(&store, Checkpoint::START, &Filter::all(), 1).await;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].stream_id, kept);
}

#[tokio::test]
async fn a_transaction_older_than_a_streams_head_cannot_append_behind_it() {
    let (db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    // This transaction gets its id first...
    let mut conn = db.pool.acquire().await.unwrap();
    let mut old = conn.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *old)
        .await
        .unwrap();
    // ...a younger one writes the stream's first event and commits...
    store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..1),
        )
        .await
        .unwrap();
    // ...so appending version 2 from the old one would make readers (who read in
    // transaction order) see version 2 before version 1. It is refused as a conflict.
    let behind = store
        .append_in(
            &mut old,
            trust,
            &stream,
            ExpectedVersion::Exact(1),
            &metadata(),
            &events(1..2),
        )
        .await;
    assert!(
        matches!(behind, Err(AppendError::Conflict(_))),
        "{behind:?}"
    );
    // The savepoint kept the caller's transaction usable.
    sqlx::query("SELECT 1").execute(&mut *old).await.unwrap();
    old.rollback().await.unwrap();
}

/// Many writers on many streams, holding their transactions open for random times (and
/// sometimes taking a transaction id early, sometimes rolling back), while a subscriber
/// follows the log. It must see every committed event exactly once, each stream in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_sees_every_committed_event_once_despite_out_of_order_commits() {
    const WRITERS: usize = 12;
    const TRANSACTIONS: usize = 40;
    const STREAMS: usize = 6;
    let (db, store) = store().await;
    let trust = trust();
    let streams: Vec<StreamId> = (0..STREAMS).map(|_| stream("counter")).collect();

    let mut subscription = store
        .subscribe(Checkpoint::START, Filter::all())
        .poll_interval(Duration::from_millis(50));
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let batch = subscription.next_batch().await.unwrap();
            let done = batch.iter().any(|e| e.event_type == "Done");
            seen.extend(batch.into_iter().filter(|e| e.event_type != "Done"));
            if done {
                return seen;
            }
        }
    });

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (db_pool, store, streams) = (db.pool.clone(), store.clone(), streams.clone());
        writers.push(tokio::spawn(async move {
            let mut committed: Vec<EventId> = Vec::new();
            for t in 0..TRANSACTIONS {
                let (stream, hold, early_id, roll_back, size) = {
                    let mut rng = rand::rng();
                    (
                        streams[rng.random_range(0..STREAMS)].clone(),
                        Duration::from_millis(rng.random_range(0..15)),
                        rng.random_bool(0.3),
                        rng.random_bool(0.1),
                        rng.random_range(1..4u64),
                    )
                };
                let batch = events(0..size);
                loop {
                    let mut conn = db_pool.acquire().await.unwrap();
                    let mut tx = conn.begin().await.unwrap();
                    if early_id {
                        sqlx::query("SELECT pg_current_xact_id()")
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        tokio::time::sleep(hold / 2).await;
                    }
                    let appended = store
                        .append_in(
                            &mut tx,
                            trust,
                            &stream,
                            ExpectedVersion::Any,
                            &metadata(),
                            &batch,
                        )
                        .await;
                    match appended {
                        Ok(_) => {
                            tokio::time::sleep(hold).await;
                            if roll_back {
                                tx.rollback().await.unwrap();
                            } else {
                                tx.commit().await.unwrap();
                                committed.extend(batch.iter().map(|e| e.event_id));
                            }
                            break;
                        }
                        Err(AppendError::Conflict(_)) => {
                            tx.rollback().await.unwrap();
                        }
                        Err(other) => panic!("writer {writer} transaction {t}: {other}"),
                    }
                }
            }
            committed
        }));
    }
    let mut committed = HashSet::new();
    for writer in writers {
        committed.extend(writer.await.unwrap());
    }
    // Tell the reader everything is written.
    let mut done = event(0);
    done.event_type = "Done".to_owned();
    store
        .append(
            trust,
            &stream("done"),
            ExpectedVersion::NoStream,
            &metadata(),
            &[done],
        )
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .unwrap()
        .unwrap();

    let seen_ids: Vec<EventId> = seen.iter().map(|e| e.event_id).collect();
    let unique: HashSet<EventId> = seen_ids.iter().copied().collect();
    assert_eq!(unique.len(), seen_ids.len(), "an event was delivered twice");
    assert_eq!(
        unique, committed,
        "the subscriber missed or invented events"
    );
    let mut last_version: HashMap<&StreamId, i64> = HashMap::new();
    for event in &seen {
        let last = last_version.entry(&event.stream_id).or_insert(0);
        assert_eq!(
            event.stream_version,
            *last + 1,
            "{} out of order",
            event.stream_id
        );
        *last = event.stream_version;
    }
    assert!(committed.len() > WRITERS * TRANSACTIONS / 2);
}
