use waymark_event_store::{
    AppendError, Checkpoint, EventStore, ExpectedVersion, Filter, PgEventStore, VersionConflict,
};

use crate::support::*;

#[tokio::test]
async fn appends_and_reads_a_stream_in_version_order() {
    let (_db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    let first = store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..3),
        )
        .await
        .unwrap();
    assert_eq!(first.version, 3);
    assert_eq!(first.positions.len(), 3);
    assert!(!first.replayed);
    let second = store
        .append(
            trust,
            &stream,
            ExpectedVersion::Exact(3),
            &metadata(),
            &events(3..5),
        )
        .await
        .unwrap();
    assert_eq!(second.version, 5);
    assert!(second.positions[0] > first.positions[2]);

    let read = store.read_stream(trust, &stream, 1).await.unwrap();
    let versions: Vec<i64> = read.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    let ns: Vec<u64> = read.iter().map(|e| n_of(&e.payload)).collect();
    assert_eq!(ns, [0, 1, 2, 3, 4]);
    assert!(
        read.iter()
            .all(|e| e.trust_id == trust && e.event_type == "Counted")
    );

    let tail = store.read_stream(trust, &stream, 4).await.unwrap();
    assert_eq!(tail.len(), 2);
}

#[tokio::test]
async fn expected_version_is_enforced_with_a_conflict_error() {
    let (_db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..2),
        )
        .await
        .unwrap();

    let no_stream = store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(2..3),
        )
        .await;
    assert!(matches!(
        no_stream,
        Err(AppendError::Conflict(VersionConflict {
            actual: 2,
            expected: ExpectedVersion::NoStream,
            ..
        }))
    ));

    let stale = store
        .append(
            trust,
            &stream,
            ExpectedVersion::Exact(1),
            &metadata(),
            &events(2..3),
        )
        .await;
    assert!(matches!(
        stale,
        Err(AppendError::Conflict(VersionConflict { actual: 2, .. }))
    ));

    let ahead = store
        .append(
            trust,
            &stream,
            ExpectedVersion::Exact(7),
            &metadata(),
            &events(2..3),
        )
        .await;
    assert!(matches!(
        ahead,
        Err(AppendError::Conflict(VersionConflict { actual: 2, .. }))
    ));

    let any = store
        .append(
            trust,
            &stream,
            ExpectedVersion::Any,
            &metadata(),
            &events(2..3),
        )
        .await
        .unwrap();
    assert_eq!(any.version, 3);
    assert_eq!(store.read_stream(trust, &stream, 1).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_retried_append_returns_the_original_outcome_and_stores_nothing_twice() {
    let (_db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    let batch = events(0..3);
    let original = store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &batch,
        )
        .await
        .unwrap();
    // The retry carries the same expectation, which no longer holds, and the same event ids.
    let retry = store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &batch,
        )
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.version, original.version);
    assert_eq!(retry.positions, original.positions);
    assert_eq!(retry.checkpoint, original.checkpoint);
    // Also when the retry says "any version".
    let any = store
        .append(trust, &stream, ExpectedVersion::Any, &metadata(), &batch)
        .await
        .unwrap();
    assert!(any.replayed);
    assert_eq!(any.positions, original.positions);
    assert_eq!(store.read_stream(trust, &stream, 1).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_event_id_reused_elsewhere_is_refused() {
    let (_db, store) = store().await;
    let trust = trust();
    let batch = events(0..1);
    store
        .append(
            trust,
            &stream("counter"),
            ExpectedVersion::NoStream,
            &metadata(),
            &batch,
        )
        .await
        .unwrap();
    let elsewhere = store
        .append(
            trust,
            &stream("counter"),
            ExpectedVersion::NoStream,
            &metadata(),
            &batch,
        )
        .await;
    assert!(matches!(elsewhere, Err(AppendError::EventIdReused(id)) if id == batch[0].event_id));
    let empty = store
        .append(
            trust,
            &stream("counter"),
            ExpectedVersion::Any,
            &metadata(),
            &[],
        )
        .await;
    assert!(matches!(empty, Err(AppendError::Empty)));
}

#[tokio::test]
async fn another_trust_cannot_read_or_replay_a_stream() {
    let (_db, store) = store().await;
    let (owner, other, stream) = (trust(), trust(), stream("counter"));
    let batch = events(0..2);
    store
        .append(
            owner,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &batch,
        )
        .await
        .unwrap();
    assert!(
        store
            .read_stream(other, &stream, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let replay = store
        .append(other, &stream, ExpectedVersion::Any, &metadata(), &batch)
        .await;
    assert!(matches!(replay, Err(AppendError::EventIdReused(_))));
}

#[tokio::test]
async fn the_store_is_append_only() {
    let (db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
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
    let update = sqlx::query("UPDATE event_store.events SET event_type = 'Forged'")
        .execute(&db.pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM event_store.events")
        .execute(&db.pool)
        .await;
    assert!(delete.is_err());
}

#[tokio::test]
async fn events_read_back_after_a_restart() {
    let (db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    let outcome = store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..4),
        )
        .await
        .unwrap();
    let before = store.read_stream(trust, &stream, 1).await.unwrap();
    drop(store);
    db.pool.close().await;

    // A new process: new pool, new store, same database.
    let store = PgEventStore::new(db.new_pool(2).await);
    let after = store.read_stream(trust, &stream, 1).await.unwrap();
    let summary = |events: &[waymark_event_store::RecordedEvent]| {
        events
            .iter()
            .map(|e| {
                (
                    e.event_id,
                    e.position,
                    e.stream_version,
                    e.payload.get().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&after), summary(&before));
    let (all, checkpoint) =
        read_at_least(&store, Checkpoint::START, &Filter::all(), before.len()).await;
    assert_eq!(summary(&all), summary(&before));
    assert!(checkpoint >= outcome.checkpoint);
}

#[tokio::test]
async fn global_reads_filter_by_category() {
    let (_db, store) = store().await;
    let trust = trust();
    for category in ["review", "action", "review"] {
        store
            .append(
                trust,
                &stream(category),
                ExpectedVersion::NoStream,
                &metadata(),
                &events(0..2),
            )
            .await
            .unwrap();
    }
    let (reviews, checkpoint) = read_at_least(
        &store,
        Checkpoint::START,
        &Filter::categories(["review"]),
        4,
    )
    .await;
    assert_eq!(reviews.len(), 4);
    assert!(reviews.iter().all(|e| e.stream_id.category() == "review"));
    // Nothing of the filtered category is left, so the next read starts past everything.
    let again = store
        .read_all(checkpoint, 100, &Filter::categories(["review"]))
        .await
        .unwrap();
    assert!(again.events.is_empty());
    let (everything, _) = read_at_least(&store, Checkpoint::START, &Filter::all(), 6).await;
    assert_eq!(everything.len(), 6);
    assert!(checkpoint >= Checkpoint::of(everything.last().unwrap()));
}

#[tokio::test]
async fn an_event_too_large_to_publish_is_refused_and_nothing_of_its_batch_is_stored() {
    let (_db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    let mut large = event(1);
    large.payload["note"] =
        serde_json::Value::String("x".repeat(waymark_event_store::MAX_EVENT_BYTES));
    let refused = store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &[event(0), large],
        )
        .await;
    assert!(
        matches!(&refused, Err(AppendError::TooLarge { event_type, bytes, .. })
            if event_type == "Counted" && *bytes > waymark_event_store::MAX_EVENT_BYTES),
        "{refused:?}"
    );
    assert!(
        store
            .read_stream(trust, &stream, 1)
            .await
            .unwrap()
            .is_empty()
    );
    // An ordinary one is stored.
    let mut fits = event(2);
    fits.payload["note"] = serde_json::Value::String("x".repeat(1000));
    store
        .append(
            trust,
            &stream,
            ExpectedVersion::NoStream,
            &metadata(),
            &[fits],
        )
        .await
        .unwrap();
}
