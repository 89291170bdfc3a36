//! The `review_dialogue.reviews` read model.

use sqlx::PgConnection;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::Decider;
use waymark_domain::review_dialogue::review::{Review, ReviewEvent};
use waymark_event_store::{RecordedEvent, decode};

pub struct Reviews;

impl EventHandler for Reviews {
    fn name(&self) -> &str {
        "review-dialogue.reviews.v1"
    }

    fn categories(&self) -> &[&'static str] {
        &[Review::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let trust = event.trust_id.into_uuid();
        match decode::<ReviewEvent>(event)? {
            ReviewEvent::ReviewScheduled {
                review_id,
                school_id,
                academic_year,
                year_group,
                reviewer_id,
                reviewee_id,
                window_opens,
                window_closes,
                slt_line_manager_id,
            } => {
                sqlx::query!(
                    "INSERT INTO review_dialogue.reviews (trust_id, review_id, school_id, academic_year, \
                     year_group, reviewer_id, reviewee_id, window_opens, window_closes, \
                     slt_line_manager_id, status, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'scheduled', $11) \
                     ON CONFLICT DO NOTHING",
                    trust,
                    review_id,
                    school_id.into_uuid(),
                    academic_year.to_string(),
                    year_group.as_str(),
                    reviewer_id.into_uuid(),
                    reviewee_id.into_uuid(),
                    window_opens,
                    window_closes,
                    slt_line_manager_id.map(|id| id.into_uuid()),
                    event.stream_version,
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(())
    }
}
