#![allow(dead_code)]

use std::time::Duration;

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::{EventId, EventMetadata, StreamId, TrustId};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent, PgEventStore, RecordedEvent};
use waymark_testkit::TestDatabase;

pub async fn setup() -> (TestDatabase, PgEventStore) {
    let db = TestDatabase::create().await;
    waymark_event_store::migrate(&db.pool).await.unwrap();
    waymark_bus::migrate(&db.pool).await.unwrap();
    sqlx::query(
        "CREATE TABLE test_effects (handler text, event_id uuid, n bigint, applied int NOT NULL DEFAULT 1, \
         stream_id text, version bigint, turn bigint GENERATED ALWAYS AS IDENTITY, \
         PRIMARY KEY (handler, event_id))",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let store = PgEventStore::new(db.pool.clone());
    (db, store)
}

/// Records each event it handles; a second application of one event shows as `applied = 2`.
pub struct Recorder {
    pub name: String,
    /// An `n` it cannot handle: it breaks a unique constraint on it (a poisoned event).
    pub poison: Option<u64>,
    /// Takes a few milliseconds over each event, so that replicas overlap.
    pub slow: bool,
}

impl Recorder {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            poison: None,
            slow: false,
        }
    }
}

impl EventHandler for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    fn categories(&self) -> &[&'static str] {
        &["counter"]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let value: serde_json::Value = serde_json::from_str(event.payload.get())
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let n = value["n"].as_u64().unwrap_or_default();
        if Some(n) == self.poison {
            sqlx::query(
                "INSERT INTO test_effects (handler, event_id, n) VALUES ($1, $2, $3), ($1, $2, $3)",
            )
            .bind(&self.name)
            .bind(event.event_id.into_uuid())
            .bind(n as i64)
            .execute(&mut *tx)
            .await?;
        }
        if self.slow {
            let pause = rand::random_range(1..4);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        sqlx::query(
            "INSERT INTO test_effects (handler, event_id, n, stream_id, version) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (handler, event_id) DO UPDATE SET applied = test_effects.applied + 1",
        )
        .bind(&self.name)
        .bind(event.event_id.into_uuid())
        .bind(n as i64)
        .bind(event.stream_id.as_str())
        .bind(event.stream_version)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
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

/// Appends `total` events in batches of `batch` over `streams` streams from four writers.
/// Returns when all are stored.
pub async fn append_many(store: &PgEventStore, total: u64, batch: u64, streams: usize) {
    let trust = TrustId::from_uuid(Uuid::new_v4());
    let names: Vec<StreamId> = (0..streams)
        .map(|_| StreamId::new("counter", Uuid::new_v4()))
        .collect();
    let writers = 4u64;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (store, names) = (store.clone(), names.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = writer * total / writers;
            let end = (writer + 1) * total / writers;
            let mut i = writer as usize;
            while n < end {
                let size = batch.min(end - n);
                let events: Vec<NewEvent> = (n..n + size).map(event).collect();
                store
                    .append(
                        trust,
                        &names[i % names.len()],
                        ExpectedVersion::Any,
                        &metadata(),
                        &events,
                    )
                    .await
                    .unwrap();
                n += size;
                i += 1;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

pub async fn effects(pool: &PgPool, handler: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), coalesce(max(applied), 0)::int8 FROM test_effects WHERE handler = $1",
    )
    .bind(handler)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub const PATIENCE: Duration = Duration::from_secs(60);

/// A TCP proxy to PostgreSQL that the test can turn into a black hole: bytes in either
/// direction are then read and dropped, and both connections stay open, as on a network path
/// that died silently.
pub struct Blackhole {
    pub port: u16,
    dropping: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Blackhole {
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dropping = std::sync::Arc::new(AtomicBool::new(false));
        let flag = dropping.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                for (mut from, mut to) in [(client_read, server_write), (server_read, client_write)]
                {
                    let flag = flag.clone();
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buffer = vec![0; 16 * 1024];
                        loop {
                            let read = match from.read(&mut buffer).await {
                                Ok(0) | Err(_) => {
                                    if flag.load(Ordering::SeqCst) {
                                        // Silent: the other side never hears of it.
                                        std::future::pending::<()>().await;
                                    }
                                    return;
                                }
                                Ok(read) => read,
                            };
                            if !flag.load(Ordering::SeqCst)
                                && to.write_all(&buffer[..read]).await.is_err()
                            {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Self { port, dropping }
    }

    pub fn cut(&self) {
        self.dropping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
