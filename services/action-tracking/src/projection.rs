//! Projects the `action` streams into the read models (actions, notes) and appends each event
//! to its trust's audit chain, all in the feed's transaction.

use sqlx::PgConnection;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::Decider;
use waymark_domain::action_tracking::action::{Action, ActionEvent, ActionStatus};
use waymark_domain::agreed::OriginKind;
use waymark_event_store::{RecordedEvent, decode};

use crate::chain;

pub const NAME: &str = "action-tracking.actions.v1";

pub struct Actions;

impl EventHandler for Actions {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &[Action::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let action = decode::<ActionEvent>(event)?;
        apply(tx, event, &action).await?;
        append_to_chain(tx, event, &action).await
    }
}

/// Updates the read models.
async fn apply(
    tx: &mut PgConnection,
    recorded: &RecordedEvent,
    event: &ActionEvent,
) -> Result<(), HandlerError> {
    use ActionEvent as E;
    let trust = recorded.trust_id.into_uuid();
    let (at, version) = (recorded.recorded_at, recorded.stream_version);
    let status = |status: ActionStatus| status.as_str().to_owned();
    match event {
        E::ActionCreated {
            action_id,
            school_id,
            origin,
            description,
            owner_id,
            supporter_ids,
            due_date,
            success_criteria,
            carried_forward_from,
        } => {
            let supporters: Vec<uuid::Uuid> =
                supporter_ids.iter().map(|id| id.into_uuid()).collect();
            // Who agreed or set it, for the policies: whoever created it, except an owner
            // whose agreement to a record created it (they do not steer it alone).
            let actor = recorded.metadata.actor.into_uuid();
            let agreed_by = (origin.kind == OriginKind::Direct || actor != owner_id.into_uuid())
                .then_some(actor);
            sqlx::query!(
                "INSERT INTO action_tracking.actions (trust_id, action_id, school_id, origin_kind, origin_id, \
                 description, owner_id, supporter_ids, due_date, success_criteria, status, \
                 carried_forward_from, created_at, updated_at, version, agreed_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15) \
                 ON CONFLICT DO NOTHING",
                trust,
                action_id,
                school_id.into_uuid(),
                origin.kind.as_str(),
                origin.id,
                description.as_str(),
                owner_id.into_uuid(),
                &supporters,
                due_date,
                success_criteria.as_ref().map(|text| text.as_str()),
                status(ActionStatus::Open),
                *carried_forward_from,
                at,
                version,
                agreed_by,
            )
            .execute(&mut *tx)
            .await?;
        }
        E::ActionStarted { action_id } => {
            set_status(tx, trust, *action_id, ActionStatus::InProgress, recorded).await?;
        }
        E::ProgressNoted { action_id, note } => {
            add_note(tx, recorded, *action_id, "progress", note.as_str()).await?;
            touch(tx, trust, *action_id, recorded).await?;
        }
        E::EvidenceRecorded {
            action_id,
            evidence,
        } => {
            add_note(tx, recorded, *action_id, "evidence", evidence.as_str()).await?;
            touch(tx, trust, *action_id, recorded).await?;
        }
        E::DueDateChanged { action_id, to, .. } => {
            sqlx::query!(
                "UPDATE action_tracking.actions SET due_date = $3, updated_at = $4, version = $5 \
                 WHERE trust_id = $1 AND action_id = $2",
                trust,
                action_id,
                to,
                at,
                version
            )
            .execute(&mut *tx)
            .await?;
        }
        E::ActionReassigned {
            action_id,
            to_owner_id,
            ..
        } => {
            sqlx::query!(
                "UPDATE action_tracking.actions SET owner_id = $3, updated_at = $4, version = $5 \
                 WHERE trust_id = $1 AND action_id = $2",
                trust,
                action_id,
                to_owner_id.into_uuid(),
                at,
                version
            )
            .execute(&mut *tx)
            .await?;
        }
        E::ActionCompleted { action_id, impact } => {
            sqlx::query!(
                "UPDATE action_tracking.actions SET status = 'done', impact = $3, updated_at = $4, version = $5 \
                 WHERE trust_id = $1 AND action_id = $2",
                trust,
                action_id,
                impact.as_str(),
                at,
                version
            )
            .execute(&mut *tx)
            .await?;
        }
        E::ActionCarriedForward {
            action_id,
            next_action_id,
            ..
        } => {
            sqlx::query!(
                "UPDATE action_tracking.actions SET status = 'carried_forward', carried_forward_to = $3, \
                 updated_at = $4, version = $5 WHERE trust_id = $1 AND action_id = $2",
                trust,
                action_id,
                next_action_id,
                at,
                version
            )
            .execute(&mut *tx)
            .await?;
        }
        E::ActionDropped { action_id, .. } => {
            set_status(tx, trust, *action_id, ActionStatus::Dropped, recorded).await?;
        }
        E::ActionReopened { action_id, .. } => {
            set_status(tx, trust, *action_id, ActionStatus::InProgress, recorded).await?;
        }
        E::EvidenceAttached { action_id, .. } | E::EvidenceRemoved { action_id, .. } => {
            waymark_runtime::evidence::index(tx, crate::EVIDENCE_TABLE, recorded).await?;
            touch(tx, trust, *action_id, recorded).await?;
        }
    }
    Ok(())
}

async fn set_status(
    tx: &mut PgConnection,
    trust: uuid::Uuid,
    action_id: uuid::Uuid,
    status: ActionStatus,
    recorded: &RecordedEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE action_tracking.actions SET status = $3, updated_at = $4, version = $5 \
         WHERE trust_id = $1 AND action_id = $2",
        trust,
        action_id,
        status.as_str(),
        recorded.recorded_at,
        recorded.stream_version
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn touch(
    tx: &mut PgConnection,
    trust: uuid::Uuid,
    action_id: uuid::Uuid,
    recorded: &RecordedEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE action_tracking.actions SET updated_at = $3, version = $4 WHERE trust_id = $1 AND action_id = $2",
        trust,
        action_id,
        recorded.recorded_at,
        recorded.stream_version
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn add_note(
    tx: &mut PgConnection,
    recorded: &RecordedEvent,
    action_id: uuid::Uuid,
    kind: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO action_tracking.action_notes (event_id, trust_id, action_id, kind, body, author_id, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        recorded.event_id.into_uuid(),
        recorded.trust_id.into_uuid(),
        action_id,
        kind,
        body,
        recorded.metadata.actor.into_uuid(),
        recorded.recorded_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Adds the event to its trust's chain. The chain row keeps only the link and what the trail
/// is looked up by (action, school); the trail is read from the event itself.
async fn append_to_chain(
    tx: &mut PgConnection,
    recorded: &RecordedEvent,
    event: &ActionEvent,
) -> Result<(), HandlerError> {
    let action_id = event.action_id();
    let school = sqlx::query_scalar!(
        "SELECT school_id FROM action_tracking.actions WHERE trust_id = $1 AND action_id = $2",
        recorded.trust_id.into_uuid(),
        action_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        HandlerError::Permanent(format!(
            "{} for an action never created",
            recorded.event_type
        ))
    })?;
    chain::append(tx, chain::Chain::Actions, recorded, action_id, Some(school)).await?;
    Ok(())
}
