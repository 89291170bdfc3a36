#![allow(dead_code)]

use serde_json::json;
use uuid::Uuid;
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::{EventId, EventMetadata, StreamId, TrustId};
use waymark_event_store::{
    Checkpoint, EventStore, Filter, NewEvent, PgEventStore, RecordedEvent, migrate,
};
use waymark_testkit::TestDatabase;

pub async fn store() -> (TestDatabase, PgEventStore) {
    let db = TestDatabase::create().await;
    migrate(&db.pool).await.expect("migrate");
    let store = PgEventStore::new(db.pool.clone());
    (db, store)
}

pub fn trust() -> TrustId {
    TrustId::from_uuid(Uuid::new_v4())
}

pub fn stream(category: &str) -> StreamId {
    StreamId::new(category, Uuid::new_v4())
}

pub fn metadata() -> EventMetadata {
    EventMetadata {
        actor: ActorId::from_uuid(Uuid::new_v4()),
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    }
}

pub fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: EventId::from_uuid(Uuid::new_v4()),
        event_type: "Counted".to_owned(),
        schema_version: 1,
        payload: json!({ "type": "Counted", "n": n }),
    }
}

pub fn events(range: std::ops::Range<u64>) -> Vec<NewEvent> {
    range.map(event).collect()
}

/// The `n` field of a stored test event.
pub fn n_of(payload: &serde_json::value::RawValue) -> u64 {
    let value: serde_json::Value = serde_json::from_str(payload.get()).unwrap();
    value["n"].as_u64().unwrap()
}

/// Reads from `from` until at least `count` events have shown, and returns them with the
/// checkpoint after them (events of a transaction that is still appending show once it ends).
pub async fn read_at_least(
    store: &PgEventStore,
    from: Checkpoint,
    filter: &Filter,
    count: usize,
) -> (Vec<RecordedEvent>, Checkpoint) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (mut checkpoint, mut read) = (from, Vec::new());
    loop {
        let page = store.read_all(checkpoint, 100, filter).await.unwrap();
        checkpoint = page.checkpoint;
        read.extend(page.events);
        if read.len() >= count || std::time::Instant::now() > deadline {
            return (read, checkpoint);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
