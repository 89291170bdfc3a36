//! Consumes the events of the services where actions are agreed (review dialogue): records
//! where actions come from, creates exactly one action per agreed item, and applies outcomes
//! agreed for earlier actions.
//!
//! Exactly once holds twice over: the consumer records each event it applied (JetStream) or
//! moves its checkpoint (feed) in the same transaction, and every command it sends has an id
//! derived from the event's, so even a replay after a crash between the two changes nothing.

use sqlx::PgConnection;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::action_tracking::action::{ActionCommand, ActionRejection, NewAction};
use waymark_domain::agreed::OriginKind;
use waymark_domain::agreed::{
    ACTION_OUTCOMES_AGREED, ACTIONS_AGREED, ActionOutcomesAgreed, ActionsAgreed, Origin, Outcome,
    agreed_action_id,
};
use waymark_domain::review_dialogue::audit::AuditEvent;
use waymark_domain::review_dialogue::meeting::MeetingEvent;
use waymark_domain::review_dialogue::review::ReviewEvent;
use waymark_domain::review_dialogue::visit::VisitEvent;
use waymark_domain::school_year::long_date;
use waymark_domain::{CommandId, EventId};
use waymark_event_store::{CommandContext, ExecuteError, RecordedEvent, decode};
use waymark_runtime::{ErrorKind, ServiceError};

use crate::commands::Commands;

pub const NAME: &str = "action-tracking.agreements";

pub struct Agreements {
    pub commands: Commands,
}

impl EventHandler for Agreements {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &["review", "meeting", "visit", "audit"]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            ACTIONS_AGREED => {
                let agreed: ActionsAgreed = payload(event)?;
                self.create_actions(event, &agreed).await
            }
            ACTION_OUTCOMES_AGREED => {
                let outcomes: ActionOutcomesAgreed = payload(event)?;
                self.apply_outcomes(event, &outcomes).await
            }
            "ReviewScheduled" | "MeetingScheduled" | "VisitPlanned" | "AuditStarted" => {
                record_origin(tx, event).await
            }
            _ => Ok(()),
        }
    }
}

fn payload<T: serde::de::DeserializeOwned>(event: &RecordedEvent) -> Result<T, HandlerError> {
    serde_json::from_str(event.payload.get()).map_err(|error| {
        HandlerError::Permanent(format!(
            "{} does not match its contract: {error}",
            event.event_type
        ))
    })
}

/// The context for the `n`-th command caused by `event`, acting for whoever agreed it.
fn caused_by(event: &RecordedEvent, step: &str) -> CommandContext {
    CommandContext {
        trust: event.trust_id,
        actor: event.metadata.actor,
        command_id: CommandId::from_uuid(Uuid::new_v5(event.event_id.as_uuid(), step.as_bytes())),
        correlation_id: event.metadata.correlation_id,
        causation_id: Some(EventId::from_uuid(event.event_id.into_uuid())),
    }
}

/// Outages and lost races are worth retrying; a refusal (the action is closed already, say)
/// is final and only logged; anything else is a bug and set aside as a dead letter.
fn settle(event: &RecordedEvent, error: ServiceError) -> Result<(), HandlerError> {
    match error.kind {
        ErrorKind::Unavailable | ErrorKind::Conflict => {
            Err(HandlerError::Transient(error.to_string()))
        }
        ErrorKind::Internal => Err(HandlerError::Permanent(error.to_string())),
        _ => {
            tracing::info!(event_id = %event.event_id, %error, "agreement not applied");
            Ok(())
        }
    }
}

impl Agreements {
    async fn create_actions(
        &self,
        event: &RecordedEvent,
        agreed: &ActionsAgreed,
    ) -> Result<(), HandlerError> {
        for item in &agreed.actions {
            let action_id = agreed_action_id(agreed.origin_id, item.item);
            let command = ActionCommand::Create(NewAction {
                action_id,
                school_id: agreed.school_id,
                origin: Origin {
                    kind: agreed.origin_kind,
                    id: Some(agreed.origin_id),
                },
                description: item.description.clone(),
                owner: item.owner_id,
                supporters: item.supporter_ids.clone(),
                due: item.due_date,
                success_criteria: item.success_criteria.clone(),
                carried_forward_from: None,
            });
            let context = caused_by(event, &format!("create/{}", item.item));
            match self.commands.run(&context, action_id, &command).await {
                Ok(_) | Err(ExecuteError::Rejected(ActionRejection::AlreadyExists)) => {}
                Err(error) => settle(event, error.into())?,
            }
        }
        Ok(())
    }

    async fn apply_outcomes(
        &self,
        event: &RecordedEvent,
        agreed: &ActionOutcomesAgreed,
    ) -> Result<(), HandlerError> {
        let origin = Origin {
            kind: agreed.origin_kind,
            id: Some(agreed.origin_id),
        };
        for outcome in &agreed.outcomes {
            let context = caused_by(event, &format!("outcome/{}", outcome.action_id));
            let result = match &outcome.outcome {
                Outcome::Done { impact } => self
                    .commands
                    .run(
                        &context,
                        outcome.action_id,
                        &ActionCommand::Complete {
                            impact: impact.clone(),
                        },
                    )
                    .await
                    .map(drop)
                    .map_err(ServiceError::from),
                Outcome::Dropped { reason } => self
                    .commands
                    .run(
                        &context,
                        outcome.action_id,
                        &ActionCommand::Drop {
                            reason: reason.clone(),
                        },
                    )
                    .await
                    .map(drop)
                    .map_err(ServiceError::from),
                Outcome::CarriedForward { due_date, note } => self
                    .commands
                    .carry_forward(
                        &context,
                        outcome.action_id,
                        *due_date,
                        note.clone(),
                        Some(origin),
                    )
                    .await
                    .map(drop),
            };
            if let Err(error) = result {
                settle(event, error)?;
            }
        }
        Ok(())
    }
}

/// Remembers a review, meeting or visit as a place actions come from, with a label to show.
async fn record_origin(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let (origin_id, kind, school_id, label) = match event.event_type.as_str() {
        "ReviewScheduled" => match decode::<ReviewEvent>(event)? {
            ReviewEvent::ReviewScheduled {
                review_id,
                school_id,
                academic_year,
                year_group,
                ..
            } => (
                review_id,
                OriginKind::ProgressReview,
                school_id,
                format!("Progress review: {year_group}, {academic_year}"),
            ),
            _ => return Ok(()),
        },
        "MeetingScheduled" => match decode::<MeetingEvent>(event)? {
            MeetingEvent::MeetingScheduled {
                meeting_id,
                school_id,
                class_group,
                assessment_point,
                ..
            } => (
                meeting_id,
                OriginKind::ProgressMeeting,
                school_id,
                format!("Progress meeting: {class_group}, {assessment_point}"),
            ),
            _ => return Ok(()),
        },
        "VisitPlanned" => match decode::<VisitEvent>(event)? {
            VisitEvent::VisitPlanned {
                visit_id,
                school_id,
                date,
                ..
            } => (
                visit_id,
                OriginKind::Visit,
                school_id,
                format!("Visit, {}", long_date(date)),
            ),
            _ => return Ok(()),
        },
        "AuditStarted" => match decode::<AuditEvent>(event)? {
            AuditEvent::AuditStarted {
                audit_id,
                school_id,
                title,
                ..
            } => (
                audit_id,
                OriginKind::Audit,
                school_id,
                format!("Self-evaluation audit: {title}"),
            ),
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    sqlx::query!(
        "INSERT INTO action_tracking.origins (trust_id, origin_id, kind, school_id, label) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        event.trust_id.into_uuid(),
        origin_id,
        kind.as_str(),
        school_id.into_uuid(),
        label,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
