//! How fast each trust's audit chain is checked and anchored: N events chained as the
//! records projection chains them, then `chain::verify` over all of them (the chain alone),
//! anchoring them (Ed25519 signatures, checkpoints of up to 10,000 links written to a local
//! directory), and `verify` again against those anchors. Prints a table.
//!
//! `cargo bench -p waymark-action-tracking --bench audit_chain` (needs PostgreSQL; see
//! README). `WAYMARK_BENCH_LINKS` sets N (default 20,000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use uuid::Uuid;
use waymark_action_tracking::anchors::{Anchored, Anchors};
use waymark_action_tracking::chain::{self, Chain};
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::{EventId, EventMetadata, StreamId, TrustId};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent, PgEventStore};
use waymark_runtime::{Config, SystemClock};
use waymark_testkit::TestDatabase;

#[tokio::main]
async fn main() {
    let links: usize = std::env::var("WAYMARK_BENCH_LINKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let db = TestDatabase::create().await;
    waymark_event_store::migrate(&db.pool).await.unwrap();
    waymark_bus::migrate(&db.pool).await.unwrap();
    waymark_action_tracking::migrate(&db.pool).await.unwrap();
    let store = PgEventStore::new(db.pool.clone());
    let trust = TrustId::from_uuid(Uuid::new_v4());
    let metadata = EventMetadata {
        actor: ActorId::from_uuid(Uuid::new_v4()),
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    };

    // Reviews of ten events each, stored and chained a review at a time.
    let started = Instant::now();
    for review in 0..links.div_ceil(10) {
        let stream = StreamId::new("review", Uuid::new_v4());
        let events: Vec<NewEvent> = (0..10)
            .map(|i| NewEvent {
                event_id: EventId::from_uuid(Uuid::now_v7()),
                event_type: "DialogueHeld".to_owned(),
                schema_version: 1,
                payload: json!({
                    "type": "DialogueHeld",
                    "notes": "Discussed the Year 8 books: feedback is acted on in most lessons.",
                    "n": review * 10 + i,
                }),
            })
            .collect();
        store
            .append(
                trust,
                &stream,
                ExpectedVersion::NoStream,
                &metadata,
                &events,
            )
            .await
            .unwrap();
        let ids: Vec<EventId> = events.iter().map(|e| e.event_id).collect();
        let recorded = store.read_by_ids(&ids).await.unwrap();
        let mut tx = db.pool.begin().await.unwrap();
        for event in &recorded {
            let record = Uuid::parse_str(&event.stream_id.as_str()["review-".len()..]).unwrap();
            chain::append(&mut tx, Chain::Records, event, record, None)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let n = links.div_ceil(10) * 10;
    let rate = |seconds: f64| format!("{:>9.0}", n as f64 / seconds);
    println!(
        "{n} links stored and chained in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("| step | seconds | links/s |");
    println!("|---|---:|---:|");

    // Measured on settled tables, not while autovacuum analyses what was just loaded.
    for table in ["event_store.events", "action_tracking.record_chain"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    // Each step is the best of three runs.
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let report = chain::verify(
            &db.pool,
            &store,
            Chain::Records,
            trust,
            &Anchored::default(),
        )
        .await
        .unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert!(report.problem.is_none(), "{:?}", report.problem);
        assert_eq!(report.events_checked as usize, n);
    }
    println!("| verify, the chain alone | {best:.2} | {} |", rate(best));

    let mut best = f64::MAX;
    let mut checkpoints = 0;
    let mut kept = None;
    for _ in 0..3 {
        // A fresh place each time, and no memory of the last anchoring.
        sqlx::query("DELETE FROM action_tracking.audit_anchors")
            .execute(&db.pool)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let anchors = anchors_in(&db, dir.path());
        let started = Instant::now();
        let anchored = anchors.anchor_all(&db.pool, &store).await.unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert!(anchored.iter().all(|a| a.outcome.is_ok()));
        checkpoints = anchored.len();
        kept = Some((dir, anchors));
    }
    println!(
        "| anchor: check, sign and write ({checkpoints} checkpoints) | {best:.2} | {} |",
        rate(best)
    );

    let (_dir, anchors) = kept.unwrap();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let report =
            chain::verify_with_anchors(&db.pool, &store, Some(&anchors), Chain::Records, trust)
                .await
                .unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert!(report.problem.is_none(), "{:?}", report.problem);
        assert_eq!(report.anchored_through as usize, n);
    }
    println!(
        "| verify against the anchors | {best:.2} | {} |",
        rate(best)
    );
}

/// Anchors with a new key, into `dir`.
fn anchors_in(db: &TestDatabase, dir: &std::path::Path) -> Anchors {
    let (signing, _) = waymark_action_tracking::anchors::new_key();
    let place = format!("file://{}", dir.display());
    let key = "k".repeat(32);
    let config = Config::with(&[
        ("database.url", db.url.as_str()),
        ("auth.internal_key", key.as_str()),
        ("audit.signing_key", signing.as_str()),
        ("audit.anchors.url", place.as_str()),
    ])
    .unwrap();
    Anchors::from_config(&config, Arc::new(SystemClock))
        .unwrap()
        .unwrap()
}
