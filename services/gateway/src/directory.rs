//! The directory: trusts, schools, staff, roles and line management, event-sourced (stream
//! `directory-<trust>`), with names and e-mail addresses in `gateway.people` (personal data,
//! never in events). Notifications gets its copy of each person from `contacts`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::directory::{Directory, DirectoryCommand, DirectoryState, Grant};
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::{CommandId, Decider, StaffId, StreamId, TrustId};
use waymark_event_store::{CommandContext, ExecuteError, Executed, RecordedEvent, execute};
use waymark_runtime::{Platform, ServiceError};

use crate::contacts;

pub const NAME: &str = "gateway.directory.v1";

pub use waymark_domain::directory::directory_actor as gateway_actor;

/// Keeps `gateway.directories` (one row per trust: the decider's state) and, with it, the
/// outbox of contacts for notifications (`contacts`).
pub struct DirectoryView {
    /// Wakes the contact sender.
    pub contacts: Arc<Notify>,
}

impl EventHandler for DirectoryView {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &[Directory::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let Some((directory_event, state)) =
            waymark_runtime::directory::fold(tx, "gateway.directories", event).await?
        else {
            return Ok(());
        };
        if let Some(staff) = contacts::changed_by(&directory_event) {
            contacts::enqueue(tx, event.trust_id, &state, staff, event.stream_version).await?;
            self.contacts.notify_one();
        }
        Ok(())
    }
}

pub async fn load(pool: &sqlx::PgPool, trust: TrustId) -> Result<DirectoryState, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    load_in(&mut conn, trust).await
}

async fn load_in(conn: &mut PgConnection, trust: TrustId) -> Result<DirectoryState, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT doc AS "doc: Json<DirectoryState>" FROM gateway.directories WHERE trust_id = $1"#,
        trust.into_uuid()
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| row.doc.0).unwrap_or_default())
}

pub async fn name_of(
    pool: &sqlx::PgPool,
    trust: TrustId,
    staff: StaffId,
) -> Result<String, sqlx::Error> {
    let name = sqlx::query_scalar!(
        "SELECT display_name FROM gateway.people WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        staff.into_uuid()
    )
    .fetch_optional(pool)
    .await?;
    Ok(name.unwrap_or_else(|| "Someone".to_owned()))
}

/// Everyone's name in a trust, for showing ids as people.
pub async fn names(pool: &sqlx::PgPool, trust: TrustId) -> Result<Names, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT staff_id, display_name, email FROM gateway.people WHERE trust_id = $1",
        trust.into_uuid()
    )
    .fetch_all(pool)
    .await?;
    Ok(Names(Arc::new(
        rows.into_iter()
            .map(|row| {
                (
                    row.staff_id.to_string(),
                    (row.display_name, row.email.unwrap_or_default()),
                )
            })
            .collect(),
    )))
}

#[derive(Clone, Default)]
pub struct Names(Arc<HashMap<String, (String, String)>>);

impl Names {
    /// The person's name; "Someone" for an id the directory does not know (or an empty id).
    pub fn of(&self, id: &str) -> String {
        self.0.get(id).map_or_else(
            || {
                if id.is_empty() {
                    String::new()
                } else {
                    "Someone".to_owned()
                }
            },
            |(name, _)| name.clone(),
        )
    }

    pub fn email(&self, id: &str) -> String {
        self.0
            .get(id)
            .map(|(_, email)| email.clone())
            .unwrap_or_default()
    }
}

/// Runs a directory command for `trust` as `actor` and waits until the read model shows it.
pub async fn run(
    platform: &Platform,
    view: &waymark_bus::FeedHandle,
    trust: TrustId,
    actor: ActorId,
    command_id: CommandId,
    command: DirectoryCommand,
) -> Result<Executed<Directory>, ServiceError> {
    let context = CommandContext {
        trust,
        actor,
        command_id,
        correlation_id: CorrelationId::from_uuid(Uuid::now_v7()),
        causation_id: None,
    };
    let stream = StreamId::new(Directory::CATEGORY, trust.into_uuid());
    let executed = execute::<Directory, _>(&platform.store, &context, &stream, &command)
        .await
        .map_err(|error: ExecuteError<_>| ServiceError::from(error))?;
    if let Some(checkpoint) = executed.checkpoint {
        view.wait_for(checkpoint, Duration::from_secs(5)).await;
    }
    Ok(executed)
}

/// Someone to add to the directory.
pub struct NewPerson<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub grants: &'a [Grant],
}

/// Adds a person: their details in `gateway.people`, then `StaffAdded` and their roles.
pub async fn add_person(
    platform: &Platform,
    view: &waymark_bus::FeedHandle,
    trust: TrustId,
    actor: ActorId,
    command_id: CommandId,
    person: NewPerson<'_>,
) -> Result<StaffId, ServiceError> {
    let NewPerson {
        name,
        email,
        grants,
    } = person;
    let staff = StaffId::from_uuid(Uuid::new_v5(command_id.as_uuid(), b"staff"));
    let inserted = sqlx::query!(
        "INSERT INTO gateway.people (trust_id, staff_id, display_name, email) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (trust_id, staff_id) DO UPDATE SET display_name = $3, email = $4",
        trust.into_uuid(),
        staff.into_uuid(),
        name,
        email
    )
    .execute(&platform.pool)
    .await;
    if let Err(sqlx::Error::Database(error)) = &inserted
        && error.is_unique_violation()
    {
        return Err(ServiceError::new(
            waymark_runtime::ErrorKind::AlreadyExists,
            "directory.email_taken",
            "someone already has that e-mail address",
        ));
    }
    inserted?;
    let step = |n: &str| CommandId::from_uuid(Uuid::new_v5(command_id.as_uuid(), n.as_bytes()));
    run(
        platform,
        view,
        trust,
        actor,
        step("add"),
        DirectoryCommand::AddStaff { staff_id: staff },
    )
    .await?;
    for (n, grant) in grants.iter().enumerate() {
        run(
            platform,
            view,
            trust,
            actor,
            step(&format!("grant/{n}")),
            DirectoryCommand::Grant {
                staff_id: staff,
                grant: *grant,
            },
        )
        .await?;
    }
    Ok(staff)
}
