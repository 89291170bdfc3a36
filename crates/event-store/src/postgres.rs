//! The PostgreSQL adapter.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::types::Json;
use sqlx::{Acquire, PgConnection, PgPool, Row};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_domain::envelope::Envelope;
use waymark_domain::ids::{ActorId, CommandId, CorrelationId};
use waymark_domain::{EventId, EventMetadata, StreamId, TrustId};

use crate::error::{AppendError, StoreError, VersionConflict};
use crate::subscription::Subscription;
use crate::types::{
    AppendOutcome, Checkpoint, ExpectedVersion, Filter, NewEvent, ReadBatch, RecordedEvent,
};
use crate::{EventStore, MAX_EVENT_BYTES};

/// The NOTIFY channel that wakes subscribers in other processes.
const CHANNEL: &str = "waymark_events";
/// Appends within this window share one NOTIFY. Other processes poll as well, so this only
/// bounds how quickly they usually hear of new events.
const NOTIFY_COALESCE: Duration = Duration::from_millis(10);

/// One statement per batch: the declaration that this transaction appends, the stream head,
/// the expected-version check and the insert. Two writers racing for the same version both
/// pass the check; the unique (stream, version) index then lets exactly one commit and the
/// other fails, which we report as a conflict.
///
/// `event_store.begin_append()` (migration 0002) must run before the first position is taken:
/// the rows are produced from its result, so it has run before anything is inserted.
/// A stream's versions are in position order: an append reads the stream's head committed,
/// so it takes its positions after the head's.
const APPEND_SQL: &str = r#"
WITH declared AS MATERIALIZED (
    SELECT event_store.begin_append()
), head AS (
    SELECT stream_version FROM event_store.events
    WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1
), base AS (
    SELECT coalesce((SELECT stream_version FROM head), 0) AS version
)
INSERT INTO event_store.events
    (stream_id, stream_version, event_id, event_type, schema_version, trust_id,
     actor_id, causation_id, correlation_id, command_id, recorded_at, payload)
SELECT $1, base.version + e.ord, e.event_id, e.event_type, e.schema_version, $3,
       $8, $9, $10, $11, $12, e.payload
FROM declared, base, unnest($4::uuid[], $5::text[], $6::int4[], $7::jsonb[])
    WITH ORDINALITY AS e(event_id, event_type, schema_version, payload, ord)
WHERE ($2::int8 IS NULL OR base.version = $2)
RETURNING position, stream_version
"#;

const EVENT_COLUMNS: &str = "position, tx_id, stream_id, stream_version, event_id, event_type, \
     schema_version, trust_id, actor_id, causation_id, correlation_id, command_id, recorded_at, payload";

/// The gap-safe global read, up to a horizon read by an earlier statement (so that this
/// statement's snapshot is younger than it): no event at or below the horizon can still
/// commit. The LEFT JOIN returns the head even when no event is readable.
const READ_ALL_SQL: &str = r#"
SELECT h.head,
       e.position, e.tx_id, e.stream_id, e.stream_version, e.event_id, e.event_type,
       e.schema_version, e.trust_id, e.actor_id, e.causation_id, e.correlation_id,
       e.command_id, e.recorded_at, e.payload
FROM (SELECT (SELECT max(position) FROM event_store.events) AS head) h
LEFT JOIN LATERAL (
    SELECT * FROM event_store.events
    WHERE position > $1 AND position <= $2
      AND ($4::text[] IS NULL OR split_part(stream_id, '-', 1) = ANY($4))
    ORDER BY position
    LIMIT $3
) e ON true
"#;

/// The PostgreSQL event store. Cheap to clone.
#[derive(Clone)]
pub struct PgEventStore {
    shared: Arc<Shared>,
}

/// Where the store reads the time it stamps on events (`recorded_at`).
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

struct Shared {
    pool: PgPool,
    now: Now,
    /// Bumped whenever new events may be readable: local appends and NOTIFYs from others.
    wake: watch::Sender<u64>,
    /// Asks the notifier task to tell other processes.
    notify_others: Arc<Notify>,
    notifier: OnceLock<()>,
    listener: OnceLock<()>,
    cancel: CancellationToken,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl std::fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEventStore").finish_non_exhaustive()
    }
}

impl PgEventStore {
    /// A store that stamps events with the system time.
    pub fn new(pool: PgPool) -> Self {
        Self::with_clock(pool, Arc::new(Utc::now))
    }

    /// A store that stamps events with the application's clock, so that `recorded_at`
    /// agrees with every other time the services reason about.
    pub fn with_clock(pool: PgPool, now: Now) -> Self {
        let (wake, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                pool,
                now,
                wake,
                notify_others: Arc::new(Notify::new()),
                notifier: OnceLock::new(),
                listener: OnceLock::new(),
                cancel: CancellationToken::new(),
            }),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// Follows the global log from `from`: catches up, then waits for new events.
    pub fn subscribe(&self, from: Checkpoint, filter: Filter) -> Subscription {
        Subscription::new(self.clone(), from, filter)
    }

    /// A receiver that changes whenever new events may be readable (a hint: poll as well).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.start_listener();
        self.shared.wake.subscribe()
    }

    /// [`EventStore::read_all`] on a connection the caller holds — inside its transaction,
    /// say, so that a reader never needs a second connection while it holds one. The
    /// transaction must be READ COMMITTED (the default), where each statement sees what has
    /// committed before it starts.
    pub async fn read_all_in(
        &self,
        conn: &mut PgConnection,
        after: Checkpoint,
        limit: usize,
        filter: &Filter,
    ) -> Result<ReadBatch, StoreError> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        // Two statements on purpose: the read's snapshot must be taken after the horizon.
        let horizon: i64 = sqlx::query_scalar("SELECT event_store.read_horizon()")
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(READ_ALL_SQL)
            .bind(after.position)
            .bind(horizon)
            .bind(limit)
            .bind(filter.categories.as_deref())
            .fetch_all(&mut *conn)
            .await?;
        let first = rows
            .first()
            .ok_or_else(|| corrupt("read query returned no row"))?;
        let head: Option<i64> = first.try_get(0)?;
        let mut events = Vec::with_capacity(rows.len());
        if first.try_get::<Option<i64>, _>(1)?.is_some() {
            for row in &rows {
                events.push(event_from_row(row, 1)?);
            }
        }
        let last_read = events.last().map(Checkpoint::of);
        let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= limit;
        // A short page means every readable event up to the horizon has been seen, so the
        // next read may start there: nothing at or below it can still commit.
        let checkpoint = if full {
            last_read.unwrap_or(after)
        } else {
            after.max(Checkpoint { position: horizon })
        };
        Ok(ReadBatch {
            events,
            checkpoint,
            held_back: head.is_some_and(|head| head > horizon),
        })
    }

    /// The stored events with these ids (in position order); ids not stored are left out.
    pub async fn read_by_ids(&self, ids: &[EventId]) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM event_store.events WHERE event_id = ANY($1) ORDER BY position"
        );
        let ids: Vec<Uuid> = ids.iter().map(|id| id.into_uuid()).collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ids)
            .fetch_all(&self.shared.pool)
            .await?;
        rows.iter().map(|row| event_from_row(row, 0)).collect()
    }

    /// Starts many new streams with one event each, in one statement inside the caller's
    /// transaction: how timers fire thousands of reminders at once. A stream that exists
    /// already makes the whole statement fail (a conflict), so nothing fires twice.
    pub async fn start_streams_in(
        &self,
        conn: &mut PgConnection,
        metadata: &EventMetadata,
        streams: &[(TrustId, StreamId, NewEvent)],
    ) -> Result<Vec<i64>, AppendError> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        check_sizes(streams.iter().map(|(.., event)| event))?;
        let trusts: Vec<Uuid> = streams
            .iter()
            .map(|(trust, ..)| trust.into_uuid())
            .collect();
        let ids: Vec<&str> = streams
            .iter()
            .map(|(_, stream, _)| stream.as_str())
            .collect();
        let event_ids: Vec<Uuid> = streams
            .iter()
            .map(|(.., e)| e.event_id.into_uuid())
            .collect();
        let types: Vec<&str> = streams
            .iter()
            .map(|(.., e)| e.event_type.as_str())
            .collect();
        let versions: Vec<i32> = streams
            .iter()
            .map(|(.., e)| i32::try_from(e.schema_version).unwrap_or(i32::MAX))
            .collect();
        let payloads: Vec<Json<&serde_json::Value>> =
            streams.iter().map(|(.., e)| Json(&e.payload)).collect();
        let inserted = sqlx::query_scalar::<_, i64>(
            "WITH declared AS MATERIALIZED (SELECT event_store.begin_append()) \
             INSERT INTO event_store.events (stream_id, stream_version, event_id, event_type, schema_version, \
             trust_id, actor_id, causation_id, correlation_id, command_id, recorded_at, payload) \
             SELECT s.stream_id, 1, s.event_id, s.event_type, s.schema_version, s.trust_id, $7, $8, $9, $10, $11, s.payload \
             FROM declared, unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::int4[], $6::jsonb[]) \
                 AS s(stream_id, trust_id, event_id, event_type, schema_version, payload) \
             RETURNING position",
        )
        .bind(ids)
        .bind(trusts)
        .bind(event_ids)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata.actor.into_uuid())
        .bind(metadata.causation_id.map(EventId::into_uuid))
        .bind(metadata.correlation_id.into_uuid())
        .bind(metadata.command_id.map(CommandId::into_uuid))
        .bind((self.shared.now)())
        .fetch_all(&mut *conn)
        .await;
        match inserted {
            Ok(positions) => {
                self.appended();
                Ok(positions)
            }
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(AppendError::StreamExists)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Appends inside the caller's transaction, so the events commit (or not) together with
    /// the caller's own changes: a timer marked fired and its event, for example.
    pub async fn append_in(
        &self,
        conn: &mut PgConnection,
        trust: TrustId,
        stream: &StreamId,
        expected: ExpectedVersion,
        metadata: &EventMetadata,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, AppendError> {
        check_sizes(events)?;
        if expected == ExpectedVersion::Any {
            lock_stream(conn, stream).await?;
        }
        // A savepoint keeps the caller's transaction usable when the insert fails, so the
        // failure can be told apart (retry, conflict) and reported.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut savepoint = conn.begin().await?;
            let at = (self.shared.now)();
            let inserted = insert(
                &mut savepoint,
                trust,
                stream,
                expected,
                metadata,
                events,
                at,
            )
            .await;
            match inserted {
                Ok(Some(outcome)) => {
                    savepoint.commit().await?;
                    self.appended();
                    return Ok(outcome);
                }
                Ok(None) | Err(Insert::Unique) => {
                    savepoint.rollback().await?;
                    match explain_refusal(conn, trust, stream, expected, events).await {
                        Err(AppendError::Conflict(_)) if retry_any(expected, attempt) => continue,
                        result => return result,
                    }
                }
                Err(Insert::Failed(error)) => return Err(error),
            }
        }
    }

    /// Called after every successful append.
    fn appended(&self) {
        self.shared.wake.send_modify(|n| *n = n.wrapping_add(1));
        self.start_notifier();
        self.shared.notify_others.notify_one();
    }

    /// Tells subscribers in other processes, coalescing bursts. NOTIFY is kept out of the
    /// append's own transaction on purpose: PostgreSQL serialises the commits of notifying
    /// transactions, which would throttle concurrent writers.
    fn start_notifier(&self) {
        self.shared.notifier.get_or_init(|| {
            let pool = self.shared.pool.clone();
            let cancel = self.shared.cancel.clone();
            let wanted = self.shared.notify_others.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = wanted.notified() => {}
                    }
                    tokio::time::sleep(NOTIFY_COALESCE).await;
                    if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
                        .bind(CHANNEL)
                        .execute(&pool)
                        .await
                    {
                        tracing::debug!(%error, "could not notify other processes of new events");
                    }
                }
            });
        });
    }

    /// Listens for other processes' appends. Notifications are hints: subscribers poll too,
    /// because NOTIFYs sent while the listener reconnects are lost.
    fn start_listener(&self) {
        self.shared.listener.get_or_init(|| {
            let pool = self.shared.pool.clone();
            let cancel = self.shared.cancel.clone();
            let shared: Weak<Shared> = Arc::downgrade(&self.shared);
            tokio::spawn(async move {
                let bump = |shared: &Weak<Shared>| match shared.upgrade() {
                    Some(shared) => {
                        shared.wake.send_modify(|n| *n = n.wrapping_add(1));
                        true
                    }
                    None => false,
                };
                loop {
                    let mut listener = match PgListener::connect_with(&pool).await {
                        Ok(listener) => listener,
                        Err(error) => {
                            tracing::debug!(%error, "event listener cannot connect; retrying");
                            tokio::select! {
                                () = cancel.cancelled() => return,
                                () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            }
                        }
                    };
                    if let Err(error) = listener.listen(CHANNEL).await {
                        tracing::debug!(%error, "event listener cannot LISTEN; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    loop {
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            received = listener.recv() => {
                                if let Err(error) = received {
                                    tracing::debug!(%error, "event listener lost its connection");
                                    break;
                                }
                                if !bump(&shared) {
                                    return;
                                }
                            }
                        }
                    }
                }
            });
        });
    }
}

/// An append at "any version" that lost a race for the next version simply takes the one
/// after; it gives up (and reports the conflict) only if it keeps losing. Appends at any
/// version queue for the stream (see [`lock_stream`]), so only an append that names a version
/// can still beat one, and the retry then wins.
fn retry_any(expected: ExpectedVersion, attempt: usize) -> bool {
    expected == ExpectedVersion::Any && attempt < 10
}

/// Queues this transaction behind any other that appends to the stream at "any version",
/// until it ends. The insert that follows is a new statement, so it reads the stream's head
/// as the one before left it; without the queue, writers racing for one stream could each
/// lose the next version several times in a row.
async fn lock_stream(conn: &mut PgConnection, stream: &StreamId) -> Result<(), AppendError> {
    sqlx::query("SELECT pg_advisory_xact_lock(1463897395, hashtext($1))")
        .bind(stream.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

enum Insert {
    Unique,
    Failed(AppendError),
}

async fn insert(
    conn: &mut PgConnection,
    trust: TrustId,
    stream: &StreamId,
    expected: ExpectedVersion,
    metadata: &EventMetadata,
    events: &[NewEvent],
    at: DateTime<Utc>,
) -> Result<Option<AppendOutcome>, Insert> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id.into_uuid()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<i32> = events
        .iter()
        .map(|e| i32::try_from(e.schema_version).unwrap_or(i32::MAX))
        .collect();
    let payloads: Vec<Json<&serde_json::Value>> = events.iter().map(|e| Json(&e.payload)).collect();
    let rows = sqlx::query(APPEND_SQL)
        .bind(stream.as_str())
        .bind(expected.as_sql())
        .bind(trust.into_uuid())
        .bind(ids)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata.actor.into_uuid())
        .bind(metadata.causation_id.map(EventId::into_uuid))
        .bind(metadata.correlation_id.into_uuid())
        .bind(metadata.command_id.map(CommandId::into_uuid))
        .bind(at)
        .fetch_all(&mut *conn)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Err(Insert::Unique);
        }
        Err(error) => return Err(Insert::Failed(error.into())),
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let mut appended = Vec::with_capacity(rows.len());
    for row in &rows {
        let position: i64 = row.try_get(0).map_err(|e| Insert::Failed(e.into()))?;
        let version: i64 = row.try_get(1).map_err(|e| Insert::Failed(e.into()))?;
        appended.push((version, position));
    }
    // Inserted, not yet committed: an append inside a caller's transaction that later rolls
    // back still counts. What operators compare with the relay's publishing.
    metrics::counter!("waymark_event_store_appended_total").increment(appended.len() as u64);
    Ok(Some(outcome(stream, appended, false)))
}

fn outcome(stream: &StreamId, mut rows: Vec<(i64, i64)>, replayed: bool) -> AppendOutcome {
    rows.sort_unstable();
    let (version, position) = rows.last().copied().unwrap_or_default();
    AppendOutcome {
        stream_id: stream.clone(),
        version,
        positions: rows.iter().map(|&(_, position)| position).collect(),
        checkpoint: Checkpoint { position },
        replayed,
    }
}

/// The insert stored nothing: either these events are stored already (a retry, answered
/// with the first attempt's outcome), or the stream moved on (a conflict).
async fn explain_refusal(
    conn: &mut PgConnection,
    trust: TrustId,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<AppendOutcome, AppendError> {
    if let Some(outcome) = find_existing(conn, trust, stream, events).await? {
        return Ok(outcome);
    }
    let actual = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT max(stream_version) FROM event_store.events WHERE stream_id = $1",
    )
    .bind(stream.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Err(AppendError::Conflict(VersionConflict {
        stream: stream.clone(),
        expected,
        actual: actual.unwrap_or(0),
    }))
}

/// If every event of the batch is stored already, in this stream of this trust, this is a
/// retry: return what the first attempt returned.
async fn find_existing(
    conn: &mut PgConnection,
    trust: TrustId,
    stream: &StreamId,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, AppendError> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id.into_uuid()).collect();
    let rows = sqlx::query(
        "SELECT event_id, stream_id, trust_id, stream_version, position \
         FROM event_store.events WHERE event_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let event_id = EventId::from_uuid(row.try_get(0)?);
        let same_place = row.try_get::<&str, _>(1)? == stream.as_str()
            && row.try_get::<Uuid, _>(2)? == trust.into_uuid();
        if !same_place {
            return Err(AppendError::EventIdReused(event_id));
        }
        found.push((row.try_get(3)?, row.try_get(4)?));
    }
    if found.len() != events.len() {
        let missing = ids
            .iter()
            .find(|id| {
                rows.iter()
                    .all(|row| row.try_get::<Uuid, _>(0).ok().as_ref() != Some(*id))
            })
            .copied()
            .unwrap_or_default();
        return Err(AppendError::EventIdReused(EventId::from_uuid(missing)));
    }
    Ok(Some(outcome(stream, found, true)))
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Decodes the event columns starting at `at` (in `EVENT_COLUMNS` order).
fn event_from_row(row: &PgRow, at: usize) -> Result<RecordedEvent, StoreError> {
    let schema_version: i32 = row.try_get(at + 6)?;
    Ok(Envelope {
        position: row.try_get(at)?,
        tx_id: row.try_get(at + 1)?,
        stream_id: StreamId::parse(row.try_get::<&str, _>(at + 2)?).map_err(corrupt)?,
        stream_version: row.try_get(at + 3)?,
        event_id: EventId::from_uuid(row.try_get(at + 4)?),
        event_type: row.try_get(at + 5)?,
        schema_version: u32::try_from(schema_version).map_err(corrupt)?,
        trust_id: TrustId::from_uuid(row.try_get(at + 7)?),
        metadata: EventMetadata {
            actor: ActorId::from_uuid(row.try_get(at + 8)?),
            causation_id: row
                .try_get::<Option<Uuid>, _>(at + 9)?
                .map(EventId::from_uuid),
            correlation_id: CorrelationId::from_uuid(row.try_get(at + 10)?),
            command_id: row
                .try_get::<Option<Uuid>, _>(at + 11)?
                .map(CommandId::from_uuid),
        },
        recorded_at: row.try_get(at + 12)?,
        payload: row.try_get::<Json<Box<RawValue>>, _>(at + 13)?.0,
    })
}

/// Refuses an event whose payload, as stored and published, is over [`MAX_EVENT_BYTES`].
fn check_sizes<'a>(events: impl IntoIterator<Item = &'a NewEvent>) -> Result<(), AppendError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    for event in events {
        let mut count = Count(0);
        serde_json::to_writer(&mut count, &event.payload)
            .map_err(|error| StoreError::Corrupt(format!("event does not serialise: {error}")))?;
        if count.0 > MAX_EVENT_BYTES {
            return Err(AppendError::TooLarge {
                event_type: event.event_type.clone(),
                bytes: count.0,
                limit: MAX_EVENT_BYTES,
            });
        }
    }
    Ok(())
}

impl EventStore for PgEventStore {
    async fn append(
        &self,
        trust: TrustId,
        stream: &StreamId,
        expected: ExpectedVersion,
        metadata: &EventMetadata,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, AppendError> {
        if events.is_empty() {
            return Err(AppendError::Empty);
        }
        check_sizes(events)?;
        if expected == ExpectedVersion::Any {
            let mut tx = self.shared.pool.begin().await?;
            let outcome = self
                .append_in(&mut tx, trust, stream, expected, metadata, events)
                .await?;
            tx.commit().await?;
            self.appended();
            return Ok(outcome);
        }
        let mut conn = self.shared.pool.acquire().await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match insert(
                &mut conn,
                trust,
                stream,
                expected,
                metadata,
                events,
                (self.shared.now)(),
            )
            .await
            {
                Ok(Some(outcome)) => {
                    self.appended();
                    return Ok(outcome);
                }
                Ok(None) | Err(Insert::Unique) => {
                    match explain_refusal(&mut conn, trust, stream, expected, events).await {
                        Err(AppendError::Conflict(_)) if retry_any(expected, attempt) => continue,
                        result => return result,
                    }
                }
                Err(Insert::Failed(error)) => return Err(error),
            }
        }
    }

    async fn read_stream(
        &self,
        trust: TrustId,
        stream: &StreamId,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM event_store.events \
             WHERE stream_id = $1 AND trust_id = $2 AND stream_version >= $3 \
             ORDER BY stream_version"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(stream.as_str())
            .bind(trust.into_uuid())
            .bind(from_version)
            .fetch_all(&self.shared.pool)
            .await?;
        rows.iter().map(|row| event_from_row(row, 0)).collect()
    }

    async fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
        filter: &Filter,
    ) -> Result<ReadBatch, StoreError> {
        let mut conn = self.shared.pool.acquire().await?;
        self.read_all_in(&mut conn, after, limit, filter).await
    }

    async fn find_command(
        &self,
        trust: TrustId,
        command: CommandId,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM event_store.events \
             WHERE command_id = $1 AND trust_id = $2 ORDER BY position"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(command.into_uuid())
            .bind(trust.into_uuid())
            .fetch_all(&self.shared.pool)
            .await?;
        rows.iter().map(|row| event_from_row(row, 0)).collect()
    }
}
