//! A service's own copy of the directory (people, roles, line managers), folded from the
//! directory's events (stream `directory-<trust>`), so that the service can decide who may
//! do what with its own data without asking the gateway. Names and e-mail addresses are
//! not in events and so are not here.

use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use waymark_bus::{EventHandler, HandlerError, Projection};
use waymark_domain::directory::{Directory, DirectoryEvent, DirectoryState};
use waymark_domain::{Decider, TrustId};
use waymark_event_store::{RecordedEvent, decode};

/// Keeps `table` (`trust_id uuid PRIMARY KEY, doc jsonb, version bigint`, made by the
/// service's migrations) as the directory of each trust.
pub struct DirectoryCopy {
    pub name: &'static str,
    pub table: &'static str,
}

impl EventHandler for DirectoryCopy {
    fn name(&self) -> &str {
        self.name
    }

    fn categories(&self) -> &[&'static str] {
        &[Directory::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        fold(tx, self.table, event).await?;
        Ok(())
    }
}

impl Projection for DirectoryCopy {
    fn tables(&self) -> &[&'static str] {
        std::slice::from_ref(&self.table)
    }
}

/// Folds one directory event into `table`; returns the event and the directory after it,
/// or `None` when the row has it already (a redelivery).
pub async fn fold(
    tx: &mut PgConnection,
    table: &str,
    event: &RecordedEvent,
) -> Result<Option<(DirectoryEvent, DirectoryState)>, HandlerError> {
    let trust = event.trust_id.into_uuid();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT doc, version FROM {table} WHERE trust_id = $1 FOR UPDATE"
    )))
    .bind(trust)
    .fetch_optional(&mut *tx)
    .await?;
    let (state, version) = match row {
        Some(row) => {
            let doc: Json<DirectoryState> = row.try_get("doc")?;
            (doc.0, row.try_get::<i64, _>("version")?)
        }
        None => (DirectoryState::default(), 0),
    };
    if event.stream_version <= version {
        return Ok(None);
    }
    let directory_event = decode::<DirectoryEvent>(event)?;
    let state = Directory::evolve(state, &directory_event);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (trust_id, doc, version) VALUES ($1, $2, $3) \
         ON CONFLICT (trust_id) DO UPDATE SET doc = $2, version = $3"
    )))
    .bind(trust)
    .bind(Json(&state))
    .bind(event.stream_version)
    .execute(&mut *tx)
    .await?;
    Ok(Some((directory_event, state)))
}

/// The directory of `trust` as `table` has it (empty if it has none yet), through a pool or
/// a connection.
pub async fn load<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    table: &str,
    trust: TrustId,
) -> Result<DirectoryState, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT doc FROM {table} WHERE trust_id = $1"
    )))
    .bind(trust.into_uuid())
    .fetch_optional(executor)
    .await?;
    match row {
        Some(row) => Ok(row.try_get::<Json<DirectoryState>, _>("doc")?.0),
        None => Ok(DirectoryState::default()),
    }
}
