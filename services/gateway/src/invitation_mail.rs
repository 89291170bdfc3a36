//! Invitation e-mails, sent through notifications (so they show in the delivery log) by way
//! of an outbox: the page that issues an invitation queues the e-mail and answers at once; the
//! outbox sender ([`crate::contacts::spawn_sender`]) hands it to notifications afterwards,
//! again until notifications takes it. A 500-person import therefore never waits on
//! notifications, and an invitation issued while notifications is down is sent once it is
//! back (at least once; notifications drops a repeat by its command id).

use sqlx::PgPool;
use uuid::Uuid;
use waymark_domain::ids::ActorId;
use waymark_domain::{StaffId, TrustId};
use waymark_proto::notifications::v1 as nt;
use waymark_runtime::auth::Caller;

use crate::contacts::hand_over;
use crate::state::AppState;

const BATCH: i64 = 50;

/// What the e-mail says and where it goes.
pub struct Invitation {
    pub staff: StaffId,
    pub display_name: String,
    pub email: String,
    pub link: String,
    pub trust_name: String,
}

/// Queues the invitation e-mail, replacing any not yet sent to the same person (its link no
/// longer works).
pub async fn queue(
    pool: &PgPool,
    caller: Caller,
    invitation: &Invitation,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "DELETE FROM gateway.invitation_outbox WHERE trust_id = $1 AND staff_id = $2",
        caller.trust.into_uuid(),
        invitation.staff.into_uuid()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO gateway.invitation_outbox (command_id, trust_id, actor_id, staff_id, display_name, email, link, trust_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        Uuid::now_v7(),
        caller.trust.into_uuid(),
        caller.actor.into_uuid(),
        invitation.staff.into_uuid(),
        invitation.display_name,
        invitation.email,
        invitation.link,
        invitation.trust_name
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Hands one batch of queued e-mails to notifications, oldest first; a row is removed once
/// notifications took it, or refused it for what it says.
pub async fn send_round(state: &AppState) -> anyhow::Result<usize> {
    let pool = &state.platform.pool;
    let rows = sqlx::query!(
        "SELECT command_id, trust_id, actor_id, staff_id, display_name, email, link, trust_name \
         FROM gateway.invitation_outbox ORDER BY command_id LIMIT $1",
        BATCH
    )
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let mut client = state
            .clients_for(Caller {
                trust: TrustId::from_uuid(row.trust_id),
                actor: ActorId::from_uuid(row.actor_id),
            })
            .notifications();
        let request = nt::SendInvitationRequest {
            command_id: row.command_id.to_string(),
            staff_id: row.staff_id.to_string(),
            display_name: row.display_name.clone(),
            email: row.email.clone(),
            link: row.link.clone(),
            trust_name: row.trust_name.clone(),
        };
        hand_over(
            "invitation e-mail",
            row.staff_id,
            client.send_invitation(request),
        )
        .await?;
        sqlx::query!(
            "DELETE FROM gateway.invitation_outbox WHERE command_id = $1",
            row.command_id
        )
        .execute(pool)
        .await?;
    }
    Ok(rows.len())
}
