//! Who may do what to an action, decided by the policies (`waymark-policy`) with this
//! service's own read models: the action as projected, and its copy of the directory.

use sqlx::PgPool;
use waymark_domain::agreed::ActionId;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_policy::{ActionFacts, ActionVerb};

/// The service's copy of the directory.
pub const DIRECTORY_TABLE: &str = "action_tracking.directories";

/// The facts the policies read about one action; `None` if the trust has no such action.
pub async fn facts(
    pool: &PgPool,
    trust: TrustId,
    action: ActionId,
) -> Result<Option<ActionFacts>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT school_id, owner_id, supporter_ids, agreed_by, status FROM action_tracking.actions \
         WHERE trust_id = $1 AND action_id = $2",
        trust.into_uuid(),
        action
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| {
        facts_of(
            row.school_id,
            row.owner_id,
            &row.supporter_ids,
            row.agreed_by,
            &row.status,
        )
    }))
}

/// The facts the policies read, from an action's row in the read model.
pub fn facts_of(
    school: uuid::Uuid,
    owner: uuid::Uuid,
    supporters: &[uuid::Uuid],
    agreed_by: Option<uuid::Uuid>,
    status: &str,
) -> ActionFacts {
    ActionFacts {
        school: SchoolId::from_uuid(school),
        owner: StaffId::from_uuid(owner),
        supporters: supporters.iter().copied().map(StaffId::from_uuid).collect(),
        agreed_by: agreed_by.map(StaffId::from_uuid),
        live: matches!(status, "open" | "in_progress"),
    }
}

/// What the person is told, in the words of the rule that refused them.
pub fn refusal(verb: ActionVerb) -> &'static str {
    match verb {
        ActionVerb::Read => "you may not see this action",
        ActionVerb::Create => {
            "an action for someone else is set by a leader of the school or their line manager"
        }
        ActionVerb::Start | ActionVerb::Complete => "only the action's owner can do this",
        ActionVerb::NoteProgress | ActionVerb::RecordEvidence => {
            "only the action's owner and supporters add progress and evidence"
        }
        ActionVerb::ChangeDue
        | ActionVerb::Reassign
        | ActionVerb::Drop
        | ActionVerb::Reopen
        | ActionVerb::CarryForward => {
            "only the owner's line manager or the leader who agreed the action can do this"
        }
    }
}
