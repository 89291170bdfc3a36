use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Barrier;
use waymark_event_store::{AppendError, EventStore, ExpectedVersion};

use crate::support::*;

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_racing_for_one_version_one_wins_the_rest_conflict() {
    let (_db, store) = store().await;
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

    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS as u64 {
        let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .append(
                    trust,
                    &stream,
                    ExpectedVersion::Exact(1),
                    &metadata(),
                    &events(100 + writer..101 + writer),
                )
                .await
        }));
    }
    let mut winners = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(outcome) => {
                assert_eq!(outcome.version, 2);
                winners += 1;
            }
            Err(AppendError::Conflict(conflict)) => {
                assert_eq!(conflict.actual, 2);
                conflicts += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((winners, conflicts), (1, WRITERS - 1));
    assert_eq!(store.read_stream(trust, &stream, 1).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_retrying_on_conflict_lose_no_update() {
    const PER_WRITER: u64 = 12;
    let (_db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS as u64 {
        let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut conflicts = 0;
            for i in 0..PER_WRITER {
                let n = writer * 1000 + i;
                loop {
                    // Read the version, then append expecting it: the usual command cycle.
                    let version = store.read_stream(trust, &stream, 1).await.unwrap().len() as i64;
                    match store
                        .append(
                            trust,
                            &stream,
                            ExpectedVersion::from_version(version),
                            &metadata(),
                            &[event(n)],
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(AppendError::Conflict(_)) => conflicts += 1,
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let stored = store.read_stream(trust, &stream, 1).await.unwrap();
    let total = WRITERS as u64 * PER_WRITER;
    assert_eq!(stored.len() as u64, total);
    let versions: Vec<i64> = stored.iter().map(|e| e.stream_version).collect();
    assert_eq!(
        versions,
        (1..=total as i64).collect::<Vec<_>>(),
        "every version exactly once"
    );
    let ns: BTreeSet<u64> = stored.iter().map(|e| n_of(&e.payload)).collect();
    assert_eq!(ns.len() as u64, total, "no update lost or duplicated");
    assert!(conflicts > 0, "the writers should have raced");
}

/// Appends at "any version" queue for the stream, so however many writers race, every
/// append lands, in one unbroken run of versions: none reports a conflict after losing the
/// race for a version several times in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_appending_at_any_version_all_land() {
    const ROUNDS: u64 = 20;
    let (_db, store) = store().await;
    let (trust, stream) = (trust(), stream("counter"));
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS as u64 {
        let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            for round in 0..ROUNDS {
                let n = 1000 * writer + round;
                store
                    .append(
                        trust,
                        &stream,
                        ExpectedVersion::Any,
                        &metadata(),
                        &events(n..n + 1),
                    )
                    .await
                    .unwrap_or_else(|error| panic!("writer {writer}, round {round}: {error}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stored = store.read_stream(trust, &stream, 1).await.unwrap();
    let versions: Vec<i64> = stored.iter().map(|e| e.stream_version).collect();
    let expected: Vec<i64> = (1..=(WRITERS as i64) * ROUNDS as i64).collect();
    assert_eq!(versions, expected);
}
