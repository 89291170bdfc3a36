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
async fn a_transaction_that_took_its_id_early_still_appends_in_version_order() {
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
    // ...and the old one appends version 2, behind it in position as in version.
    store
        .append_in(
            &mut old,
            trust,
            &stream,
            ExpectedVersion::Exact(1),
            &metadata(),
            &events(1..2),
        )
        .await
        .unwrap();
    old.commit().await.unwrap();
    let (read, _) = read_at_least(&store, Checkpoint::START, &Filter::all(), 2).await;
    let versions: Vec<i64> = read.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2]);
}

/// Readers wait only for transactions that append. An open transaction that holds a
/// transaction id without appending (a projection's batch, a session of another database on
/// the same server) holds nothing back, however long it stays open.
#[tokio::test]
async fn an_open_transaction_that_does_not_append_holds_no_reader_back() {
    let (db, store) = store().await;
    let trust = trust();
    // One in this database, writing a row of its own...
    let mut here = db.pool.acquire().await.unwrap();
    let mut here_tx = here.begin().await.unwrap();
    sqlx::raw_sql("CREATE TABLE public.scratch (n int); INSERT INTO public.scratch VALUES (1)")
        .execute(&mut *here_tx)
        .await
        .unwrap();
    // ...and one in another database on the same server, both older than the append.
    let other = waymark_testkit::TestDatabase::create().await;
    let mut there = other.pool.acquire().await.unwrap();
    let mut there_tx = there.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *there_tx)
        .await
        .unwrap();

    let appended = store
        .append(
            trust,
            &stream("counter"),
            ExpectedVersion::NoStream,
            &metadata(),
            &events(0..1),
        )
        .await
        .unwrap();
    let read = store
        .read_all(Checkpoint::START, 100, &Filter::all())
        .await
        .unwrap();
    assert_eq!(
        read.events.len(),
        1,
        "the committed event is readable at once"
    );
    assert!(!read.held_back);
    assert_eq!(read.checkpoint, appended.checkpoint);
    here_tx.rollback().await.unwrap();
    there_tx.rollback().await.unwrap();
}

/// A store copied into another database (a dump restored on a new server, whose
/// transaction ids start lower than the old one's) keeps working: appends to its streams are
/// accepted and readers read them, from the start and from a checkpoint kept before the move.
#[tokio::test]
async fn a_store_restored_into_another_database_keeps_its_order() {
    let (db, store) = store().await;
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
    // The old server was further on: its transaction ids are far above this server's.
    sqlx::query(
        "INSERT INTO event_store.events (tx_id, stream_id, stream_version, event_id, event_type, \
         schema_version, trust_id, actor_id, correlation_id, payload) \
         VALUES (9000000000000, $1, 3, gen_random_uuid(), 'Counted', 1, $2, gen_random_uuid(), \
         gen_random_uuid(), '{\"type\": \"Counted\", \"n\": 2}')",
    )
    .bind(stream.as_str())
    .bind(trust.into_uuid())
    .execute(&db.pool)
    .await
    .unwrap();
    let (before, kept) = read_at_least(&store, Checkpoint::START, &Filter::all(), 3).await;
    assert_eq!(before.len(), 3);

    // Dump and restore into a fresh database, as an operator moving servers would.
    let restored = waymark_testkit::TestDatabase::create().await;
    // libpq takes the address without the driver's own options.
    let plain = |url: &str| url.split('?').next().unwrap_or_default().to_owned();
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "--dbname", &plain(&db.url)])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut psql = std::process::Command::new("psql")
        .args([
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "--dbname",
            &plain(&restored.url),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql runs");
    std::io::Write::write_all(&mut psql.stdin.take().unwrap(), &dump.stdout).unwrap();
    assert!(psql.wait().unwrap().success(), "the dump restores");

    let moved = waymark_event_store::PgEventStore::new(restored.pool.clone());
    let appended = moved
        .append(
            trust,
            &stream,
            ExpectedVersion::Exact(3),
            &metadata(),
            &events(3..5),
        )
        .await
        .expect("an existing stream takes new events after the move");
    assert_eq!(appended.version, 5);
    assert!(appended.positions[0] > before[2].position);
    let (after_move, _) = read_at_least(&moved, kept, &Filter::all(), 2).await;
    let ns: Vec<u64> = after_move.iter().map(|e| n_of(&e.payload)).collect();
    assert_eq!(
        ns,
        [3, 4],
        "a reader's old checkpoint still finds what is new"
    );
    let (everything, _) = read_at_least(&moved, Checkpoint::START, &Filter::all(), 5).await;
    let versions: Vec<i64> = everything.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
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
