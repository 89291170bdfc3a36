//! How fast `waymark projections rebuild action-tracking.actions.v1` builds the actions read
//! model again: N action events (default 1,000,000; `WAYMARK_BENCH_EVENTS`) in 50 trusts,
//! six per action (created, started, two progress notes, a due date moved, completed), loaded
//! with COPY; then the rebuild, twice: into empty tables, and replacing the read model the
//! first made (what an operator's rebuild does). Prints events per second.
//!
//! `cargo bench -p waymark-action-tracking --bench rebuild` (needs PostgreSQL; see README).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;
use waymark_domain::action_tracking::action::ActionEvent;
use waymark_domain::agreed::Origin;
use waymark_domain::text::Text;
use waymark_domain::{DomainEvent, SchoolId, StaffId};
use waymark_event_store::PgEventStore;
use waymark_testkit::TestDatabase;

const PER_ACTION: usize = 6;
const TRUSTS: usize = 50;
/// Actions whose events are stored interleaved, as many people working at once would.
const GROUP: usize = 1_000;

#[tokio::main]
async fn main() {
    let wanted: usize = std::env::var("WAYMARK_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let actions = wanted.div_ceil(PER_ACTION);
    let total = actions * PER_ACTION;
    let db = TestDatabase::create().await;
    waymark_event_store::migrate(&db.pool).await.unwrap();
    waymark_bus::migrate(&db.pool).await.unwrap();
    waymark_action_tracking::migrate(&db.pool).await.unwrap();
    let store = PgEventStore::new(db.pool.clone());

    let started = Instant::now();
    load(&db, actions).await;
    sqlx::query("VACUUM ANALYZE event_store.events")
        .execute(&db.pool)
        .await
        .unwrap();
    println!(
        "{total} action events ({actions} actions, {TRUSTS} trusts) loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let projections = waymark_action_tracking::projections();
    let projection = projections
        .iter()
        .find(|p| p.name() == "action-tracking.actions.v1")
        .unwrap();
    println!();
    println!("| rebuild | events | seconds | events/s |");
    println!("|---|---:|---:|---:|");
    for label in ["into empty tables", "replacing a full read model"] {
        let rebuilt = projection.run(&store, &mut |_| {}).await.unwrap();
        assert_eq!(rebuilt.events as usize, total);
        let seconds = rebuilt.elapsed.as_secs_f64();
        println!(
            "| {label} | {total} | {seconds:.1} | {:.0} |",
            total as f64 / seconds
        );
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM action_tracking.actions")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(rows as usize, actions);
    }
}

/// Stores the actions' events with COPY, a group of actions at a time.
async fn load(db: &TestDatabase, actions: usize) {
    let trusts: Vec<Uuid> = (0..TRUSTS).map(|_| Uuid::new_v4()).collect();
    let actor = Uuid::new_v4();
    let correlation = Uuid::new_v4();
    let at = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let due = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    let text = |s: &str| Text::parse(s).unwrap();
    let mut n = 0i64;
    let mut conn = db.pool.acquire().await.unwrap();
    for group in (0..actions).collect::<Vec<_>>().chunks(GROUP) {
        let ids: Vec<Uuid> = group.iter().map(|_| Uuid::new_v4()).collect();
        let mut rows = String::new();
        for version in 1..=PER_ACTION {
            for (i, &action) in group.iter().enumerate() {
                let action_id = ids[i];
                let trust = trusts[action % TRUSTS];
                let event = match version {
                    1 => ActionEvent::ActionCreated {
                        action_id,
                        school_id: SchoolId::from_uuid(trust),
                        origin: Origin::direct(),
                        description: text("Embed retrieval practice in Year 8 science"),
                        owner_id: StaffId::from_uuid(actor),
                        supporter_ids: Vec::new(),
                        due_date: due,
                        success_criteria: Some(text("Starter quizzes in every lesson")),
                        carried_forward_from: None,
                    },
                    2 => ActionEvent::ActionStarted { action_id },
                    3 | 4 => ActionEvent::ProgressNoted {
                        action_id,
                        note: text("Quizzes seen in four of five lessons visited"),
                    },
                    5 => ActionEvent::DueDateChanged {
                        action_id,
                        from: due,
                        to: due + Duration::days(14),
                        reason: text("Moved after the mock exams"),
                    },
                    _ => ActionEvent::ActionCompleted {
                        action_id,
                        impact: text("Recall in end-of-unit tests up from 54% to 68%"),
                    },
                };
                n += 1;
                let payload = serde_json::to_string(&event).unwrap().replace('\\', "\\\\");
                rows.push_str(&format!(
                    "action-{action_id}\t{version}\t{}\t{}\t1\t{trust}\t{actor}\t{correlation}\t{}\t{payload}\n",
                    Uuid::new_v4(),
                    event.event_type(),
                    (at + Duration::microseconds(n)).to_rfc3339(),
                ));
            }
        }
        let mut copy = conn
            .copy_in_raw(
                "COPY event_store.events (stream_id, stream_version, event_id, event_type, \
                 schema_version, trust_id, actor_id, correlation_id, recorded_at, payload) FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(rows.into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
}
