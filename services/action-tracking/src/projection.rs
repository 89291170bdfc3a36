//! Projects the `action` streams into the read models (actions, notes) and appends each event
//! to its trust's audit chain, all in the feed's transaction.

use serde_json::value::RawValue;
use sqlx::PgConnection;
use sqlx::types::Json;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::Decider;
use waymark_domain::action_tracking::action::{Action, ActionEvent, ActionStatus};
use waymark_domain::agreed::OriginKind;
use waymark_domain::school_year::long_date;
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
        let (summary, reason) = apply(tx, event, &action).await?;
        append_to_chain(tx, event, &action, &summary, reason.as_deref()).await
    }
}

/// Updates the read models; returns what changed in words, and why.
async fn apply(
    tx: &mut PgConnection,
    recorded: &RecordedEvent,
    event: &ActionEvent,
) -> Result<(String, Option<String>), HandlerError> {
    use ActionEvent as E;
    let trust = recorded.trust_id.into_uuid();
    let (at, version) = (recorded.recorded_at, recorded.stream_version);
    let status = |status: ActionStatus| status.as_str().to_owned();
    Ok(match event {
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
            (format!("Action agreed, due {}", long_date(*due_date)), None)
        }
        E::ActionStarted { action_id } => {
            set_status(tx, trust, *action_id, ActionStatus::InProgress, recorded).await?;
            ("Work started".to_owned(), None)
        }
        E::ProgressNoted { action_id, note } => {
            add_note(tx, recorded, *action_id, "progress", note.as_str()).await?;
            touch(tx, trust, *action_id, recorded).await?;
            // The trail says what was written, not only that something was.
            (format!("Progress noted: {note}"), None)
        }
        E::EvidenceRecorded {
            action_id,
            evidence,
        } => {
            add_note(tx, recorded, *action_id, "evidence", evidence.as_str()).await?;
            touch(tx, trust, *action_id, recorded).await?;
            (format!("Evidence of impact recorded: {evidence}"), None)
        }
        E::DueDateChanged {
            action_id,
            from,
            to,
            reason,
        } => {
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
            (
                format!(
                    "Due date moved from {} to {}",
                    long_date(*from),
                    long_date(*to)
                ),
                Some(reason.to_string()),
            )
        }
        E::ActionReassigned {
            action_id,
            to_owner_id,
            reason,
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
            ("Given to a new owner".to_owned(), Some(reason.to_string()))
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
            (format!("Done. Impact: {impact}"), None)
        }
        E::ActionCarriedForward {
            action_id,
            next_action_id,
            due_date,
            note,
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
            (
                format!(
                    "Carried forward to a new action due {}",
                    long_date(*due_date)
                ),
                note.as_ref().map(ToString::to_string),
            )
        }
        E::ActionDropped { action_id, reason } => {
            set_status(tx, trust, *action_id, ActionStatus::Dropped, recorded).await?;
            ("Dropped".to_owned(), Some(reason.to_string()))
        }
        E::ActionReopened { action_id, reason } => {
            set_status(tx, trust, *action_id, ActionStatus::InProgress, recorded).await?;
            ("Reopened".to_owned(), Some(reason.to_string()))
        }
    })
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

async fn append_to_chain(
    tx: &mut PgConnection,
    recorded: &RecordedEvent,
    event: &ActionEvent,
    summary: &str,
    reason: Option<&str>,
) -> Result<(), HandlerError> {
    let action_id = action_id(event);
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
    let (seq, previous) = chain::head(tx, recorded.trust_id).await?;
    let hash = chain::link(&previous, recorded);
    sqlx::query!(
        "INSERT INTO action_tracking.audit_chain (trust_id, seq, event_id, action_id, school_id, actor_id, \
         recorded_at, event_type, summary, reason, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        recorded.trust_id.into_uuid(),
        seq + 1,
        recorded.event_id.into_uuid(),
        action_id,
        school,
        recorded.metadata.actor.into_uuid(),
        recorded.recorded_at,
        recorded.event_type,
        summary,
        reason,
        Json(&recorded.payload) as Json<&Box<RawValue>>,
        &previous[..],
        &hash[..],
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn action_id(event: &ActionEvent) -> uuid::Uuid {
    use ActionEvent as E;
    match event {
        E::ActionCreated { action_id, .. }
        | E::ActionStarted { action_id }
        | E::ProgressNoted { action_id, .. }
        | E::EvidenceRecorded { action_id, .. }
        | E::DueDateChanged { action_id, .. }
        | E::ActionReassigned { action_id, .. }
        | E::ActionCompleted { action_id, .. }
        | E::ActionCarriedForward { action_id, .. }
        | E::ActionDropped { action_id, .. }
        | E::ActionReopened { action_id, .. } => *action_id,
    }
}
