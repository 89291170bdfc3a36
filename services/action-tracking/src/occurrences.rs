//! Learns the planned occurrences of each school's monitoring year from scheduling's events,
//! so that an action agreed at one (a work scrutiny, a learning walk) can name it as its
//! origin. Each occurrence becomes a row of `action_tracking.origins`, labelled with its
//! title (not its date, which can move; the occurrence's page shows it); `CreateAction` accepts only an occurrence found there, of the action's
//! own school.
//!
//! Idempotent: both writes are `ON CONFLICT DO NOTHING`, so a redelivered event changes
//! nothing.

use sqlx::PgConnection;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::agreed::OriginKind;
use waymark_domain::scheduling::schedule::ScheduleEvent;
use waymark_event_store::{RecordedEvent, decode};

pub const NAME: &str = "action-tracking.occurrences.v1";

pub struct Occurrences;

impl EventHandler for Occurrences {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &["schedule"]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let trust = event.trust_id.into_uuid();
        let stream = event.stream_id.as_str();
        match event.event_type.as_str() {
            "ScheduleGenerated" => {
                let ScheduleEvent::ScheduleGenerated { school_id, .. } = decode(event)? else {
                    return Ok(());
                };
                sqlx::query(
                    "INSERT INTO action_tracking.occurrence_schedules (trust_id, stream_id, school_id) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(trust)
                .bind(stream)
                .bind(school_id.into_uuid())
                .execute(&mut *tx)
                .await?;
            }
            "OccurrencePlanned" => {
                let ScheduleEvent::OccurrencePlanned { occurrence } = decode(event)? else {
                    return Ok(());
                };
                let label = occurrence.title.to_string();
                let stored = sqlx::query(
                    "INSERT INTO action_tracking.origins (trust_id, origin_id, kind, school_id, label) \
                     SELECT $1, $2, $3, school_id, $4 FROM action_tracking.occurrence_schedules \
                      WHERE trust_id = $1 AND stream_id = $5 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(trust)
                .bind(occurrence.id)
                .bind(OriginKind::Occurrence.as_str())
                .bind(label)
                .bind(stream)
                .execute(&mut *tx)
                .await?;
                if stored.rows_affected() == 0 {
                    tracing::debug!(occurrence = %occurrence.id, "occurrence already known, or its year is not");
                }
            }
            _ => {}
        }
        Ok(())
    }
}
