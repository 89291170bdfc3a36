//! Append and read throughput of the PostgreSQL event store, beside the raw ceiling: the same
//! rows inserted by plain multi-row SQL into the same table, in the same run. Prints a table.
//!
//! `cargo bench -p waymark-event-store` (needs PostgreSQL; see README).
//! `WAYMARK_BENCH_SECONDS` sets the time per measurement (default 3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::{EventId, EventMetadata, StreamId, TrustId};
use waymark_event_store::{
    Checkpoint, EventStore, ExpectedVersion, Filter, NewEvent, PgEventStore, migrate,
};
use waymark_testkit::TestDatabase;

fn payload(i: u64) -> serde_json::Value {
    json!({
        "type": "ActionProgressNoted",
        "action_id": Uuid::new_v4(),
        "note": "Reviewed the Year 8 books with the department; marking now shows next steps.",
        "n": i,
    })
}

fn batch(size: usize, start: u64) -> Vec<NewEvent> {
    (0..size as u64)
        .map(|i| NewEvent {
            event_id: EventId::from_uuid(Uuid::new_v4()),
            event_type: "ActionProgressNoted".to_owned(),
            schema_version: 1,
            payload: payload(start + i),
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Mode {
    Raw,
    Append,
}

/// Runs `writers` concurrent writers for `duration`, each on its own stream, returning
/// events per second.
async fn measure(
    store: &PgEventStore,
    mode: Mode,
    size: usize,
    writers: usize,
    duration: Duration,
) -> f64 {
    let trust = TrustId::from_uuid(Uuid::new_v4());
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, stop, count) = (store.clone(), stop.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new("bench", Uuid::new_v4());
            let metadata = EventMetadata {
                actor: ActorId::from_uuid(Uuid::new_v4()),
                causation_id: None,
                correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
                command_id: None,
            };
            let mut version = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let events = batch(size, version as u64);
                match mode {
                    Mode::Append => {
                        let outcome = store
                            .append(
                                trust,
                                &stream,
                                ExpectedVersion::from_version(version),
                                &metadata,
                                &events,
                            )
                            .await
                            .unwrap();
                        version = outcome.version;
                    }
                    Mode::Raw => {
                        raw_insert(store.pool(), trust, &stream, version, &metadata, &events).await;
                        version += size as i64;
                    }
                }
                count.fetch_add(size as u64, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The ceiling: one plain multi-row INSERT with versions computed by the client.
async fn raw_insert(
    pool: &PgPool,
    trust: TrustId,
    stream: &StreamId,
    version: i64,
    metadata: &EventMetadata,
    events: &[NewEvent],
) {
    let mut insert = QueryBuilder::new(
        "INSERT INTO event_store.events (stream_id, stream_version, event_id, event_type, \
         schema_version, trust_id, actor_id, correlation_id, payload) ",
    );
    insert.push_values(events.iter().enumerate(), |mut row, (i, event)| {
        row.push_bind(stream.as_str())
            .push_bind(version + 1 + i as i64)
            .push_bind(event.event_id.into_uuid())
            .push_bind(&event.event_type)
            .push_bind(event.schema_version as i32)
            .push_bind(trust.into_uuid())
            .push_bind(metadata.actor.into_uuid())
            .push_bind(metadata.correlation_id.into_uuid())
            .push_bind(sqlx::types::Json(&event.payload));
    });
    insert.build().execute(pool).await.unwrap();
}

#[tokio::main]
async fn main() {
    let seconds: f64 = std::env::var("WAYMARK_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    let db = TestDatabase::create().await;
    migrate(&db.pool).await.unwrap();
    let store = PgEventStore::new(db.new_pool(12).await);

    println!("Append throughput (events/s), best of 3 runs of {seconds} s per cell");
    println!("| batch | writers | raw multi-row INSERT | append | append / raw |");
    println!("|------:|--------:|---------------------:|-------:|-------------:|");
    for size in [1usize, 10, 100] {
        for writers in [1usize, 8] {
            // Alternate the two and keep the best of three runs each, so neither side gets
            // the warm cache or the quiet moment of a shared disk.
            let mut raw: f64 = 0.0;
            let mut append: f64 = 0.0;
            for _ in 0..3 {
                raw = raw.max(measure(&store, Mode::Raw, size, writers, duration).await);
                append = append.max(measure(&store, Mode::Append, size, writers, duration).await);
            }
            println!(
                "| {size} | {writers} | {raw:.0} | {append:.0} | {:.2} |",
                append / raw
            );
        }
    }

    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM event_store.events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut best = 0.0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let mut checkpoint = Checkpoint::START;
        let mut read = 0usize;
        loop {
            let batch = store
                .read_all(checkpoint, 1000, &Filter::all())
                .await
                .unwrap();
            if batch.events.is_empty() {
                break;
            }
            read += batch.events.len();
            checkpoint = batch.checkpoint;
        }
        assert_eq!(read as i64, total);
        best = best.max(read as f64 / started.elapsed().as_secs_f64());
    }
    println!();
    println!("Gap-safe read_all: {total} events in pages of 1000, best of 3: {best:.0} events/s");
}
