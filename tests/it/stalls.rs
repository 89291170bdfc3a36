//! Readers of the event store wait only for transactions that append to it: an open
//! transaction elsewhere — a projection's batch, a session of another database on the same
//! server — holds nothing back. A transaction that appended and was then left open does hold
//! readers back (its events may still commit), so the services' own sessions end a
//! transaction left idle (`database.idle_in_transaction_timeout_ms`) rather than let it stall
//! every projection, consumer and read-your-writes wait.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;
use waymark_domain::directory::DirectoryEvent;
use waymark_domain::{CorrelationId, EventId, EventMetadata, StreamId};
use waymark_event_store::{Checkpoint, EventStore, ExpectedVersion, Filter, NewEvent};
use waymark_testkit::TestDatabase;
use waymark_testkit::services::{TestPlatform, new_caller, staff};

#[tokio::test]
async fn a_transaction_that_does_not_append_holds_no_reader_back() {
    let platform = TestPlatform::start(None).await;
    let store = platform.platform.store.clone();
    // A session of the service's pool that took a transaction id and waits (as a handler
    // waiting on a slow network call would)...
    let mut waiting = platform.platform.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *waiting)
        .await
        .unwrap();
    // ...and a write transaction left open in another database on the same server.
    let other = TestDatabase::create().await;
    let mut elsewhere = other.pool.begin().await.unwrap();
    sqlx::raw_sql("CREATE TABLE held (n int); INSERT INTO held VALUES (1)")
        .execute(&mut *elsewhere)
        .await
        .unwrap();

    let caller = new_caller();
    waymark_testkit::directory::append(
        &platform,
        caller,
        &[DirectoryEvent::StaffAdded {
            staff_id: staff(caller),
        }],
    )
    .await;
    let read = store
        .read_all(Checkpoint::START, 100, &Filter::categories(["directory"]))
        .await
        .unwrap();
    assert_eq!(
        read.events.len(),
        1,
        "the committed event is readable at once"
    );
    assert!(!read.held_back);
    waiting.rollback().await.unwrap();
    elsewhere.rollback().await.unwrap();
    platform.stop().await;
}

#[tokio::test]
async fn a_transaction_left_idle_after_appending_is_ended_and_readers_move_on() {
    let platform = TestPlatform::start_configured(
        None,
        Arc::new(waymark_testkit::time::clock()),
        &[("database.idle_in_transaction_timeout_ms", "1000")],
    )
    .await;
    let metrics = waymark_runtime::telemetry::metrics().expect("the metrics recorder");
    let store = platform.platform.store.clone();
    // A session of the service's pool appends, then waits without committing.
    let caller = new_caller();
    let mut stalled = platform.platform.pool.begin().await.unwrap();
    let metadata = EventMetadata {
        actor: caller.actor,
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    };
    let unfinished = NewEvent {
        event_id: EventId::from_uuid(Uuid::new_v4()),
        event_type: "Noted".to_owned(),
        schema_version: 1,
        payload: serde_json::json!({ "type": "Noted" }),
    };
    store
        .append_in(
            &mut stalled,
            caller.trust,
            &StreamId::new("scratch", Uuid::new_v4()),
            ExpectedVersion::NoStream,
            &metadata,
            &[unfinished],
        )
        .await
        .unwrap();

    waymark_testkit::directory::append(
        &platform,
        caller,
        &[DirectoryEvent::StaffAdded {
            staff_id: staff(caller),
        }],
    )
    .await;
    let directory = Filter::categories(["directory"]);
    let now = store
        .read_all(Checkpoint::START, 100, &directory)
        .await
        .unwrap();
    assert!(
        now.events.is_empty() && now.held_back,
        "the committed event waits behind the open append"
    );

    // PostgreSQL ends the idle transaction; the reader then gets the event.
    let mut reader = store.subscribe(Checkpoint::START, directory);
    let batch = tokio::time::timeout(Duration::from_secs(30), reader.next_batch())
        .await
        .expect("the reader moved on once the idle transaction was ended")
        .unwrap();
    assert_eq!(batch.len(), 1);
    // The wait showed in the metrics, under the reader's categories.
    let shown = metrics.render();
    assert!(
        shown.contains(r#"waymark_event_store_held_back_seconds{reader="directory"}"#),
        "{shown}"
    );
    let ended = sqlx::query("SELECT 1").execute(&mut *stalled).await;
    assert!(
        ended.is_err(),
        "the idle transaction was ended by the server"
    );
    drop(stalled);
    platform.stop().await;
}
