//! An open transaction anywhere in the database holds every reader of the event store back
//! (they wait for the oldest running transaction, so as never to skip its events). The
//! services' own sessions end a transaction left idle (`database.idle_in_transaction_timeout_ms`)
//! rather than let it stall every projection, consumer and read-your-writes wait.

use std::sync::Arc;
use std::time::Duration;

use waymark_domain::directory::DirectoryEvent;
use waymark_event_store::{Checkpoint, EventStore, Filter};
use waymark_testkit::services::{TestPlatform, new_caller, staff};

#[tokio::test]
async fn a_transaction_left_idle_is_ended_and_readers_move_on() {
    let platform = TestPlatform::start_configured(
        None,
        Arc::new(waymark_testkit::time::clock()),
        &[("database.idle_in_transaction_timeout_ms", "1000")],
    )
    .await;
    let metrics = waymark_runtime::telemetry::metrics().expect("the metrics recorder");
    let store = platform.platform.store.clone();
    // A session of the service's pool takes a transaction id, then waits (as a handler
    // waiting on a slow network call would).
    let mut stalled = platform.platform.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *stalled)
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
    let directory = Filter::categories(["directory"]);
    let now = store
        .read_all(Checkpoint::START, 100, &directory)
        .await
        .unwrap();
    assert!(
        now.events.is_empty() && now.held_back,
        "the committed event waits behind the open transaction"
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
