//! One record, not two: a review, meeting or visit scheduled from a planned occurrence holds
//! it. This consumer of review dialogue's events keeps which record holds which occurrence
//! (`scheduling.occurrence_records`), and marks the occurrence held when a review is agreed,
//! a meeting closed, or a visit recorded.
//!
//! A record names an occurrence of its own school and of a kind it can hold: a review a
//! progress review, a meeting a progress meeting, a visit a visit or a planned activity.
//! Anything else is ignored (and logged); so is a second record for the same occurrence. A
//! cancelled record lets go of its occurrence, which shows as planned again.
//!
//! Marking held runs the schedule's decider with a command id made from the event's id, so a
//! delivery seen twice (at least once, from JetStream) appends nothing the second time.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgConnection;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::review_dialogue::meeting::MeetingEvent;
use waymark_domain::review_dialogue::review::ReviewEvent;
use waymark_domain::review_dialogue::visit::VisitEvent;
use waymark_domain::scheduling::schedule::{Schedule, ScheduleCommand, ScheduleRejection};
use waymark_domain::{CommandId, Decider, SchoolId, StreamId, TrustId};
use waymark_event_store::{CommandContext, ExecuteError, RecordedEvent, decode, execute};
use waymark_runtime::Platform;

pub const NAME: &str = "scheduling.occurrence-records.v1";

pub struct Holding {
    pub platform: Arc<Platform>,
}

/// What a review dialogue event means for the occurrence its record holds.
enum Change {
    /// The record was scheduled from `occurrence`.
    Claim {
        occurrence: Uuid,
        school: SchoolId,
        kinds: &'static [&'static str],
    },
    /// The review was agreed, the meeting closed, the visit recorded: its occurrence was held.
    Held,
    /// The record was cancelled: its occurrence is free again.
    Released,
}

impl EventHandler for Holding {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &["review", "meeting", "visit"]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let (kind, record, change) = match event.stream_id.category() {
            "review" => match decode::<ReviewEvent>(event)? {
                ReviewEvent::ReviewScheduled {
                    review_id,
                    school_id,
                    occurrence: Some(occurrence),
                    ..
                } => (
                    "review",
                    review_id,
                    Change::Claim {
                        occurrence,
                        school: school_id,
                        kinds: &["progress_review"],
                    },
                ),
                ReviewEvent::ReviewAgreed { review_id, .. } => ("review", review_id, Change::Held),
                ReviewEvent::ReviewCancelled { review_id, .. } => {
                    ("review", review_id, Change::Released)
                }
                _ => return Ok(()),
            },
            "meeting" => match decode::<MeetingEvent>(event)? {
                MeetingEvent::MeetingScheduled {
                    meeting_id,
                    school_id,
                    occurrence: Some(occurrence),
                    ..
                } => (
                    "meeting",
                    meeting_id,
                    Change::Claim {
                        occurrence,
                        school: school_id,
                        kinds: &["progress_meeting"],
                    },
                ),
                MeetingEvent::MeetingClosed { meeting_id } => ("meeting", meeting_id, Change::Held),
                MeetingEvent::MeetingCancelled { meeting_id, .. } => {
                    ("meeting", meeting_id, Change::Released)
                }
                _ => return Ok(()),
            },
            _ => match decode::<VisitEvent>(event)? {
                VisitEvent::VisitPlanned {
                    visit_id,
                    school_id,
                    occurrence: Some(occurrence),
                    ..
                } => (
                    "visit",
                    visit_id,
                    Change::Claim {
                        occurrence,
                        school: school_id,
                        kinds: &["visit", "activity"],
                    },
                ),
                VisitEvent::VisitRecorded { visit_id, .. } => ("visit", visit_id, Change::Held),
                VisitEvent::VisitCancelled { visit_id, .. } => {
                    ("visit", visit_id, Change::Released)
                }
                _ => return Ok(()),
            },
        };
        let trust = event.trust_id.into_uuid();
        match change {
            Change::Claim {
                occurrence,
                school,
                kinds,
            } => {
                let claimed = sqlx::query(
                    "INSERT INTO scheduling.occurrence_records \
                     (trust_id, occurrence_id, record_kind, record_id) \
                     SELECT $1, o.occurrence_id, $3, $4 FROM scheduling.occurrences o \
                     WHERE o.trust_id = $1 AND o.occurrence_id = $2 AND o.school_id = $5 \
                       AND o.kind = ANY($6) AND o.status <> 'cancelled' \
                     ON CONFLICT DO NOTHING",
                )
                .bind(trust)
                .bind(occurrence)
                .bind(kind)
                .bind(record)
                .bind(school.into_uuid())
                .bind(kinds)
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    tracing::warn!(%occurrence, record = %record, kind,
                        "a record named an occurrence it cannot hold (another school's, another kind, cancelled, or held by another record): not linked");
                }
            }
            Change::Released => {
                sqlx::query(
                    "DELETE FROM scheduling.occurrence_records WHERE trust_id = $1 AND record_id = $2",
                )
                .bind(trust)
                .bind(record)
                .execute(&mut *tx)
                .await?;
            }
            Change::Held => self.hold(tx, event, record).await?,
        }
        Ok(())
    }
}

/// The record (its kind and id) holding each of `occurrences` that has one.
pub(crate) async fn records_of(
    pool: &sqlx::PgPool,
    trust: TrustId,
    occurrences: &[Uuid],
) -> Result<HashMap<Uuid, (String, Uuid)>, waymark_runtime::ServiceError> {
    let rows: Vec<(Uuid, String, Uuid)> = sqlx::query_as(
        "SELECT occurrence_id, record_kind, record_id FROM scheduling.occurrence_records \
         WHERE trust_id = $1 AND occurrence_id = ANY($2)",
    )
    .bind(trust.into_uuid())
    .bind(occurrences)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(occurrence, kind, record)| (occurrence, (kind, record)))
        .collect())
}

impl Holding {
    async fn hold(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
        record: Uuid,
    ) -> Result<(), HandlerError> {
        let held: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT o.occurrence_id, o.schedule_id FROM scheduling.occurrence_records r \
             JOIN scheduling.occurrences o USING (trust_id, occurrence_id) \
             WHERE r.trust_id = $1 AND r.record_id = $2",
        )
        .bind(event.trust_id.into_uuid())
        .bind(record)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((occurrence, schedule)) = held else {
            return Ok(());
        };
        let context = CommandContext {
            trust: event.trust_id,
            actor: event.metadata.actor,
            command_id: CommandId::from_uuid(Uuid::new_v5(
                event.event_id.as_uuid(),
                b"occurrence-held",
            )),
            correlation_id: event.metadata.correlation_id,
            causation_id: Some(event.event_id),
        };
        let stream = StreamId::new(Schedule::CATEGORY, schedule);
        match execute::<Schedule, _>(
            &self.platform.store,
            &context,
            &stream,
            &ScheduleCommand::MarkHeld { occurrence },
        )
        .await
        {
            // Held by hand already, or cancelled since: nothing to do.
            Ok(_)
            | Err(ExecuteError::Rejected(
                ScheduleRejection::NotPlanned(_) | ScheduleRejection::NoSuchOccurrence,
            )) => Ok(()),
            Err(error) => Err(HandlerError::Transient(format!(
                "marking occurrence {occurrence} held: {error}"
            ))),
        }
    }
}
