//! The read models: each review, meeting, visit and catalogue as one row holding the
//! decider's state (folded with the decider's own `evolve`, so the read model and the
//! decisions can never disagree), plus the columns queries filter on.
//!
//! A row remembers the stream version it has folded in, so an event seen twice (a rebuilt
//! checkpoint) is skipped rather than applied twice.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError, Projection};
use waymark_domain::Decider;
use waymark_domain::review_dialogue::audit::{Audit, AuditState, Framework};
use waymark_domain::review_dialogue::catalogue::Catalogue;
use waymark_domain::review_dialogue::meeting::Meeting;
use waymark_domain::review_dialogue::priority::Priority;
use waymark_domain::review_dialogue::review::{Review, ReviewStatus};
use waymark_domain::review_dialogue::visit::Visit;
use waymark_event_store::{RecordedEvent, decode};

pub const NAME: &str = "review-dialogue.records.v2";

pub struct Records;

impl Projection for Records {
    fn tables(&self) -> &[&'static str] {
        // The evidence index is left: applying its events again changes nothing, and it
        // also records which files the sweep has deleted.
        &[
            "review_dialogue.reviews",
            "review_dialogue.meetings",
            "review_dialogue.visits",
            "review_dialogue.catalogues",
            "review_dialogue.audits",
            "review_dialogue.frameworks",
            "review_dialogue.priorities",
        ]
    }
}

impl EventHandler for Records {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &[
            Review::CATEGORY,
            Meeting::CATEGORY,
            Visit::CATEGORY,
            Catalogue::CATEGORY,
            Audit::CATEGORY,
            Framework::CATEGORY,
            Priority::CATEGORY,
        ]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let id = record_id(event)?;
        // Files on reviews, visits, meetings and audits (other events change nothing there).
        waymark_runtime::evidence::index(tx, crate::EVIDENCE_TABLE, event).await?;
        match event.stream_id.category() {
            Review::CATEGORY => {
                if let Some(state) = fold::<Review>(tx, "reviews", "review_id", id, event).await? {
                    save_review(tx, event, id, &state).await?;
                }
            }
            Meeting::CATEGORY => {
                if let Some(state) =
                    fold::<Meeting>(tx, "meetings", "meeting_id", id, event).await?
                {
                    save_meeting(tx, event, id, &state).await?;
                }
            }
            Visit::CATEGORY => {
                if let Some(state) = fold::<Visit>(tx, "visits", "visit_id", id, event).await? {
                    save_visit(tx, event, id, &state).await?;
                }
            }
            Audit::CATEGORY => {
                if let Some(state) = fold::<Audit>(tx, "audits", "audit_id", id, event).await? {
                    save_audit(tx, event, id, &state).await?;
                }
            }
            Priority::CATEGORY => {
                if let Some(state) =
                    fold::<Priority>(tx, "priorities", "priority_id", id, event).await?
                {
                    let (Some(school), Some(year)) = (state.school_id, state.academic_year) else {
                        return Err(missing("priority"));
                    };
                    sqlx::query!(
                        "INSERT INTO review_dialogue.priorities (trust_id, priority_id, school_id, academic_year, retired, doc, version) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (trust_id, priority_id) DO UPDATE SET retired = $5, doc = $6, version = $7",
                        event.trust_id.into_uuid(),
                        id,
                        school.into_uuid(),
                        year.to_string(),
                        state.retired.is_some(),
                        Json(&state) as _,
                        event.stream_version,
                    )
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Framework::CATEGORY => {
                if let Some(state) =
                    fold::<Framework>(tx, "frameworks", "framework_id", id, event).await?
                {
                    sqlx::query!(
                        "INSERT INTO review_dialogue.frameworks (trust_id, framework_id, doc, version) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (trust_id, framework_id) DO UPDATE SET doc = $3, version = $4",
                        event.trust_id.into_uuid(),
                        id,
                        Json(&state) as _,
                        event.stream_version,
                    )
                    .execute(&mut *tx)
                    .await?;
                }
            }
            _ => {
                if let Some(state) =
                    fold::<Catalogue>(tx, "catalogues", "trust_id", id, event).await?
                {
                    sqlx::query!(
                        "INSERT INTO review_dialogue.catalogues (trust_id, doc, version) VALUES ($1, $2, $3) \
                         ON CONFLICT (trust_id) DO UPDATE SET doc = $2, version = $3",
                        event.trust_id.into_uuid(),
                        Json(&state) as _,
                        event.stream_version,
                    )
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// The record's id: the uuid part of its stream id (`review-<uuid>`).
fn record_id(event: &RecordedEvent) -> Result<Uuid, HandlerError> {
    event
        .stream_id
        .as_str()
        .split_once('-')
        .and_then(|(_, id)| Uuid::parse_str(id).ok())
        .ok_or_else(|| {
            HandlerError::Permanent(format!("stream {} has no record id", event.stream_id))
        })
}

/// The record's state with `event` folded in, or `None` if the row has it already.
async fn fold<D: Decider>(
    tx: &mut PgConnection,
    table: &str,
    key: &str,
    id: Uuid,
    event: &RecordedEvent,
) -> Result<Option<D::State>, HandlerError>
where
    D::State: DeserializeOwned + Serialize,
{
    let sql = format!(
        "SELECT doc, version FROM review_dialogue.{table} WHERE trust_id = $1 AND {key} = $2 FOR UPDATE"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(event.trust_id.into_uuid())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let (state, version) = match row {
        Some(row) => {
            let Json(state): Json<D::State> = row.try_get(0).map_err(|error| {
                HandlerError::Permanent(format!("stored {table} row is unreadable: {error}"))
            })?;
            (state, row.try_get::<i64, _>(1)?)
        }
        None => (D::State::default(), 0),
    };
    if event.stream_version <= version {
        return Ok(None);
    }
    Ok(Some(D::evolve(state, &decode::<D::Event>(event)?)))
}

fn missing(what: &str) -> HandlerError {
    HandlerError::Permanent(format!(
        "a record event arrived before its record was created ({what})"
    ))
}

async fn save_review(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    id: Uuid,
    state: &<Review as Decider>::State,
) -> Result<(), HandlerError> {
    let (Some(school), Some(year), Some(year_group), Some(reviewer), Some(reviewee), Some(window)) = (
        state.school_id,
        state.academic_year,
        state.year_group.as_ref(),
        state.reviewer,
        state.reviewee,
        state.window,
    ) else {
        return Err(missing("review"));
    };
    let awaiting: Vec<Uuid> = state
        .awaiting_agreement()
        .into_iter()
        .map(|id| id.into_uuid())
        .collect();
    let agreed_at = (state.status == ReviewStatus::Agreed).then_some(event.recorded_at);
    sqlx::query!(
        "INSERT INTO review_dialogue.reviews (trust_id, review_id, school_id, academic_year, year_group, \
         reviewer_id, reviewee_id, window_opens, window_closes, slt_line_manager_id, status, version, doc, \
         awaiting_ids, agreed_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (trust_id, review_id) DO UPDATE SET window_opens = $8, window_closes = $9, status = $11, \
         version = $12, doc = $13, awaiting_ids = $14, \
         agreed_at = coalesce(review_dialogue.reviews.agreed_at, $15), updated_at = $16",
        event.trust_id.into_uuid(),
        id,
        school.into_uuid(),
        year.to_string(),
        year_group.as_str(),
        reviewer.into_uuid(),
        reviewee.into_uuid(),
        window.opens,
        window.closes,
        state.slt_line_manager.map(|id| id.into_uuid()),
        state.status.as_str(),
        event.stream_version,
        Json(state) as _,
        &awaiting,
        agreed_at,
        event.recorded_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn save_meeting(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    id: Uuid,
    state: &<Meeting as Decider>::State,
) -> Result<(), HandlerError> {
    let (Some(school), Some(year), Some(teacher), Some(class_group), Some(date)) = (
        state.school_id,
        state.academic_year,
        state.teacher,
        state.class_group.as_ref(),
        state.date,
    ) else {
        return Err(missing("meeting"));
    };
    let leaders: Vec<Uuid> = state.leaders.iter().map(|id| id.into_uuid()).collect();
    sqlx::query!(
        "INSERT INTO review_dialogue.meetings (trust_id, meeting_id, school_id, academic_year, teacher_id, \
         class_group, leader_ids, date, status, previous_meeting_id, doc, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (trust_id, meeting_id) DO UPDATE SET date = $8, status = $9, doc = $11, version = $12, \
         updated_at = $13",
        event.trust_id.into_uuid(),
        id,
        school.into_uuid(),
        year.to_string(),
        teacher.into_uuid(),
        class_group.as_str(),
        &leaders,
        date,
        state.status.as_str(),
        state.previous_meeting,
        Json(state) as _,
        event.stream_version,
        event.recorded_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn save_visit(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    id: Uuid,
    state: &<Visit as Decider>::State,
) -> Result<(), HandlerError> {
    let (Some(school), Some(kind), Some(visitor), Some(teacher), Some(date)) = (
        state.school_id,
        state.kind,
        state.visitor,
        state.teacher,
        state.date,
    ) else {
        return Err(missing("visit"));
    };
    sqlx::query!(
        "INSERT INTO review_dialogue.visits (trust_id, visit_id, school_id, kind, visitor_id, teacher_id, date, \
         status, doc, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (trust_id, visit_id) DO UPDATE SET date = $7, status = $8, doc = $9, version = $10, \
         updated_at = $11",
        event.trust_id.into_uuid(),
        id,
        school.into_uuid(),
        kind.as_str(),
        visitor.into_uuid(),
        teacher.into_uuid(),
        date,
        state.status.as_str(),
        Json(state) as _,
        event.stream_version,
        event.recorded_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn save_audit(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    id: Uuid,
    state: &AuditState,
) -> Result<(), HandlerError> {
    let (Some(school), Some(framework), Some(started)) =
        (state.school_id, state.framework_id, state.started_on)
    else {
        return Err(missing("audit"));
    };
    sqlx::query!(
        "INSERT INTO review_dialogue.audits (trust_id, audit_id, school_id, framework_id, status, started_on, finalised_on, \
         doc, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (trust_id, audit_id) DO UPDATE SET status = $5, finalised_on = $7, doc = $8, version = $9, \
         updated_at = $10",
        event.trust_id.into_uuid(),
        id,
        school.into_uuid(),
        framework,
        if state.finalised_on.is_some() { "finalised" } else { "in_progress" },
        started,
        state.finalised_on,
        Json(state) as _,
        event.stream_version,
        event.recorded_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
