//! Telling notifications who people are (name, e-mail, line manager, school).
//!
//! The directory projection writes, in the same transaction as the directory state it
//! folds, one outbox row per person whose contact changed: the contact *as of that event*,
//! with the directory's version. A sender drains the outbox outside any transaction and
//! calls `UpsertContact` with that version; notifications keeps the newest version it was
//! given, so replicas sending in any order, or twice, leave the right contact.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_domain::directory::{DirectoryEvent, DirectoryState};
use waymark_domain::{StaffId, TrustId};
use waymark_proto::notifications::v1 as nt;
use waymark_runtime::auth::Caller;

use crate::directory::gateway_actor;
use crate::state::AppState;

/// What notifications is told of a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub display_name: String,
    pub email: String,
    pub line_manager: Option<StaffId>,
    pub school: Option<Uuid>,
}

/// The person whose contact `event` changes, if any.
pub fn changed_by(event: &DirectoryEvent) -> Option<StaffId> {
    match event {
        DirectoryEvent::StaffAdded { staff_id }
        | DirectoryEvent::LineManagerSet { staff_id, .. }
        | DirectoryEvent::RoleGranted { staff_id, .. }
        | DirectoryEvent::RoleRevoked { staff_id, .. } => Some(*staff_id),
        _ => None,
    }
}

/// Queues `staff`'s contact as `state` (the directory at `version`) has it. A newer row
/// already queued for them wins.
pub async fn enqueue(
    tx: &mut PgConnection,
    trust: TrustId,
    state: &DirectoryState,
    staff: StaffId,
    version: i64,
) -> Result<(), sqlx::Error> {
    let person = sqlx::query!(
        "SELECT display_name, email FROM gateway.people WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        staff.into_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(person) = person else {
        return Ok(());
    };
    let record = state.staff.get(&staff).cloned().unwrap_or_default();
    let contact = Contact {
        display_name: person.display_name,
        email: person.email.unwrap_or_default(),
        line_manager: record.line_manager,
        school: record
            .grants
            .iter()
            .find_map(|g| g.school)
            .map(|s| s.into_uuid()),
    };
    sqlx::query!(
        "INSERT INTO gateway.contact_outbox (trust_id, staff_id, version, contact) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (trust_id, staff_id) DO UPDATE SET version = $3, contact = $4 \
         WHERE gateway.contact_outbox.version <= $3",
        trust.into_uuid(),
        staff.into_uuid(),
        version,
        Json(&contact) as _
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sends queued contacts, then queued invitation e-mails ([`crate::invitation_mail`]), until
/// `shutdown`: woken by `wake`, and every second regardless (rows written by another process,
/// e.g. `waymark bootstrap`).
pub fn spawn_sender(
    state: AppState,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = Duration::from_secs(1);
        while !shutdown.is_cancelled() {
            let round = async {
                anyhow::Ok(
                    send_round(&state).await? + crate::invitation_mail::send_round(&state).await?,
                )
            };
            match round.await {
                Ok(n) if n > 0 => {
                    pause = Duration::from_secs(1);
                    continue;
                }
                Ok(_) => pause = Duration::from_secs(1),
                Err(error) => {
                    tracing::warn!(%error, "contacts or invitations not sent to notifications; will retry");
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    })
}

const BATCH: i64 = 50;

/// Waits (up to 10 s) for notifications to take an outbox row's request about `staff`. Taken,
/// or refused for what it says (a name or address notifications will not take: sending it
/// again cannot help, and it must not hold up everyone behind it): the row may go. Anything
/// else is an error, and the row is sent again later.
pub(crate) async fn hand_over<T>(
    what: &str,
    staff: Uuid,
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> anyhow::Result<()> {
    let answer = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .map_err(|_| anyhow::anyhow!("notifications did not answer within 10 s"))?;
    match answer {
        Ok(_) => Ok(()),
        Err(status) if is_refusal(&status) => {
            tracing::error!(%staff, %status, "{what} refused by notifications; dropped from the outbox");
            Ok(())
        }
        Err(status) => Err(status.into()),
    }
}

/// A refusal of the request itself, as opposed to notifications being unreachable or busy.
fn is_refusal(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::InvalidArgument
            | tonic::Code::FailedPrecondition
            | tonic::Code::PermissionDenied
            | tonic::Code::NotFound
            | tonic::Code::AlreadyExists
    )
}

/// Sends one batch; a row is removed only if it was not replaced while being sent.
async fn send_round(state: &AppState) -> anyhow::Result<usize> {
    let pool = &state.platform.pool;
    let rows = sqlx::query!(
        r#"SELECT trust_id, staff_id, version, contact AS "contact: Json<Contact>"
           FROM gateway.contact_outbox ORDER BY version LIMIT $1"#,
        BATCH
    )
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let trust = TrustId::from_uuid(row.trust_id);
        let contact = &row.contact.0;
        let mut client = state
            .clients_for(Caller {
                trust,
                actor: gateway_actor(),
            })
            .notifications();
        let request = nt::Contact {
            staff_id: row.staff_id.to_string(),
            display_name: contact.display_name.clone(),
            email: contact.email.clone(),
            line_manager_id: contact
                .line_manager
                .map(|m| m.to_string())
                .unwrap_or_default(),
            school_id: contact.school.map(|s| s.to_string()).unwrap_or_default(),
            version: row.version,
        };
        hand_over("contact", row.staff_id, client.upsert_contact(request)).await?;
        sqlx::query!(
            "DELETE FROM gateway.contact_outbox WHERE trust_id = $1 AND staff_id = $2 AND version = $3",
            row.trust_id,
            row.staff_id,
            row.version
        )
        .execute(pool)
        .await?;
    }
    Ok(rows.len())
}
