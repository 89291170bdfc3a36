//! Consumes review-dialogue's events to know where actions come from.

use sqlx::PgConnection;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::Decider;
use waymark_domain::review_dialogue::review::{Review, ReviewEvent};
use waymark_event_store::{RecordedEvent, decode};

pub struct Origins;

impl EventHandler for Origins {
    fn name(&self) -> &str {
        "action-tracking.origins"
    }

    fn categories(&self) -> &[&'static str] {
        &[Review::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        match decode::<ReviewEvent>(event)? {
            ReviewEvent::ReviewScheduled {
                review_id,
                school_id,
                academic_year,
                year_group,
                ..
            } => {
                sqlx::query!(
                    "INSERT INTO action_tracking.origins (trust_id, origin_id, kind, school_id, label) \
                     VALUES ($1, $2, 'progress_review', $3, $4) ON CONFLICT DO NOTHING",
                    event.trust_id.into_uuid(),
                    review_id,
                    school_id.into_uuid(),
                    format!("Progress review: {year_group}, {academic_year}"),
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(())
    }
}
