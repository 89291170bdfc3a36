//! Read models of scheduling's own streams: calendars, plans and schedules as the deciders'
//! state, the occurrences and visit requests as rows to filter. A calendar change also moves
//! the reminders still pending for that school, in the same transaction. A rebuild
//! ([`ReadModel`]) makes the read models again and leaves the reminders as they are.

use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError, Projection};
use waymark_domain::Decider;
use waymark_domain::scheduling::calendar::{Calendar, SchoolCalendar};
use waymark_domain::scheduling::plan::{Plan, PlanScope, PlanState};
use waymark_domain::scheduling::schedule::{
    OccurrenceKind, Schedule, ScheduleEvent, ScheduleState,
};
use waymark_event_store::{RecordedEvent, decode};

use crate::planner::Planner;

pub const NAME: &str = "scheduling.records.v1";

const CATEGORIES: &[&str] = &[Calendar::CATEGORY, Plan::CATEGORY, Schedule::CATEGORY];

pub struct Records {
    pub planner: Planner,
}

impl EventHandler for Records {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        CATEGORIES
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        project(tx, event, Some(&self.planner)).await
    }
}

/// The same projection without re-planning reminders, for `waymark projections rebuild`:
/// the timers are the planner's record of what was sent and skipped, not a read model.
pub struct ReadModel;

impl EventHandler for ReadModel {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        CATEGORIES
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        project(tx, event, None).await
    }
}

impl Projection for ReadModel {
    fn tables(&self) -> &[&'static str] {
        // The evidence index is left: applying its events again changes nothing, and it
        // also records which files the sweep has deleted.
        &[
            "scheduling.calendars",
            "scheduling.plans",
            "scheduling.schedules",
            "scheduling.occurrences",
            "scheduling.visit_requests",
            "scheduling.checklist_ticks",
        ]
    }
}

/// Applies `event` to the read models; given the `planner`, re-plans a school's reminders
/// after a calendar change and plans its activities' reminders.
async fn project(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    planner: Option<&Planner>,
) -> Result<(), HandlerError> {
    let id = event
        .stream_id
        .as_str()
        .split_once('-')
        .and_then(|(_, id)| Uuid::parse_str(id).ok())
        .ok_or_else(|| HandlerError::Permanent(format!("stream {} has no id", event.stream_id)))?;
    let trust = event.trust_id.into_uuid();
    // Files on occurrences (other events change nothing there).
    waymark_runtime::evidence::index(tx, crate::EVIDENCE_TABLE, event).await?;
    match event.stream_id.category() {
        Calendar::CATEGORY => {
            let Some(state) =
                fold::<Calendar>(tx, "calendars", "school_id", trust, id, event).await?
            else {
                return Ok(());
            };
            sqlx::query!(
                "INSERT INTO scheduling.calendars (trust_id, school_id, doc, version) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (trust_id, school_id) DO UPDATE SET doc = $3, version = $4",
                trust,
                id,
                Json(&state) as _,
                event.stream_version
            )
            .execute(&mut *tx)
            .await?;
            if let Some(planner) = planner {
                planner
                    .replan_school(tx, event.trust_id, id, &state)
                    .await?;
            }
        }
        Plan::CATEGORY => {
            let Some(state) = fold::<Plan>(tx, "plans", "plan_id", trust, id, event).await? else {
                return Ok(());
            };
            save_plan(tx, trust, id, &state, event.stream_version).await?;
        }
        _ => {
            let Some(state) =
                fold::<Schedule>(tx, "schedules", "schedule_id", trust, id, event).await?
            else {
                return Ok(());
            };
            save_schedule(tx, trust, id, &state, event.stream_version).await?;
            if event.event_type == "ChecklistTicked" {
                save_tick(tx, trust, event).await?;
            }
            if let Some(planner) = planner {
                planner
                    .on_schedule(tx, event.trust_id, &state, event)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Who ticked a checklist line and when; unticking removes it.
async fn save_tick(
    tx: &mut PgConnection,
    trust: Uuid,
    event: &RecordedEvent,
) -> Result<(), HandlerError> {
    let ScheduleEvent::ChecklistTicked {
        occurrence,
        list,
        line,
        ticked,
        by,
    } = decode::<ScheduleEvent>(event)?
    else {
        return Ok(());
    };
    let query = if ticked {
        sqlx::query(
            "INSERT INTO scheduling.checklist_ticks \
             (trust_id, occurrence_id, checklist, line, ticked_by, ticked_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (trust_id, occurrence_id, checklist, line) \
             DO UPDATE SET ticked_by = $5, ticked_at = $6",
        )
        .bind(trust)
        .bind(occurrence)
        .bind(list.as_str())
        .bind(line.as_str())
        .bind(by.into_uuid())
        .bind(event.recorded_at)
    } else {
        sqlx::query(
            "DELETE FROM scheduling.checklist_ticks \
             WHERE trust_id = $1 AND occurrence_id = $2 AND checklist = $3 AND line = $4",
        )
        .bind(trust)
        .bind(occurrence)
        .bind(list.as_str())
        .bind(line.as_str())
    };
    query.execute(&mut *tx).await?;
    Ok(())
}

/// The state with `event` folded in, or `None` if the row has it already.
async fn fold<D: Decider>(
    tx: &mut PgConnection,
    table: &str,
    key: &str,
    trust: Uuid,
    id: Uuid,
    event: &RecordedEvent,
) -> Result<Option<D::State>, HandlerError>
where
    D::State: serde::de::DeserializeOwned,
{
    let sql = format!(
        "SELECT doc, version FROM scheduling.{table} WHERE trust_id = $1 AND {key} = $2 FOR UPDATE"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(trust)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let (state, version) = match row {
        Some(row) => {
            let Json(state): Json<D::State> = row
                .try_get(0)
                .map_err(|error| HandlerError::Permanent(format!("stored {table} row: {error}")))?;
            (state, row.try_get::<i64, _>(1)?)
        }
        None => (D::State::default(), 0),
    };
    if event.stream_version <= version {
        return Ok(None);
    }
    Ok(Some(D::evolve(state, &decode::<D::Event>(event)?)))
}

async fn save_plan(
    tx: &mut PgConnection,
    trust: Uuid,
    id: Uuid,
    state: &PlanState,
    version: i64,
) -> Result<(), sqlx::Error> {
    let (school, year) = match state.scope {
        Some(PlanScope::School {
            school_id,
            academic_year,
        }) => (Some(school_id.into_uuid()), Some(academic_year.to_string())),
        _ => (None, None),
    };
    sqlx::query!(
        "INSERT INTO scheduling.plans (trust_id, plan_id, school_id, academic_year, doc, version) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (trust_id, plan_id) DO UPDATE SET doc = $5, version = $6",
        trust,
        id,
        school,
        year,
        Json(state) as _,
        version
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn save_schedule(
    tx: &mut PgConnection,
    trust: Uuid,
    id: Uuid,
    state: &ScheduleState,
    version: i64,
) -> Result<(), HandlerError> {
    let (Some(school), Some(year)) = (state.school_id, state.academic_year) else {
        return Err(HandlerError::Permanent(
            "a schedule event before the schedule was generated".into(),
        ));
    };
    sqlx::query!(
        "INSERT INTO scheduling.schedules (trust_id, schedule_id, school_id, academic_year, doc, version) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (trust_id, schedule_id) DO UPDATE SET doc = $5, version = $6",
        trust,
        id,
        school.into_uuid(),
        year.to_string(),
        Json(state) as _,
        version
    )
    .execute(&mut *tx)
    .await?;
    // The occurrences table mirrors the state; a schedule has at most a few thousand.
    sqlx::query!(
        "DELETE FROM scheduling.occurrences WHERE trust_id = $1 AND schedule_id = $2",
        trust,
        id
    )
    .execute(&mut *tx)
    .await?;
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    let mut titles = Vec::new();
    let mut dates = Vec::new();
    let mut dues = Vec::new();
    let mut owners = Vec::new();
    let mut participants = Vec::new();
    let mut statuses = Vec::new();
    let mut details = Vec::new();
    for occurrence in state.occurrences.values() {
        ids.push(occurrence.id);
        kinds.push(occurrence.kind.name().to_owned());
        titles.push(occurrence.title.to_string());
        dates.push(occurrence.date);
        dues.push(occurrence.due);
        owners.push(occurrence.owner.into_uuid());
        participants.push(serde_json::to_value(&occurrence.participants).unwrap_or_default());
        statuses.push(occurrence.status.as_str().to_owned());
        details.push(match &occurrence.kind {
            OccurrenceKind::Activity { key } => key.clone(),
            OccurrenceKind::ProgressReview { year_group, .. } => year_group.to_string(),
            OccurrenceKind::ProgressMeeting { class_group, .. } => class_group.to_string(),
            OccurrenceKind::Visit { teacher, .. } => teacher.to_string(),
        });
    }
    sqlx::query!(
        "INSERT INTO scheduling.occurrences (trust_id, occurrence_id, schedule_id, school_id, kind, title, date, due, \
         owner_id, participant_ids, status, detail) \
         SELECT $1, o.id, $2, $3, o.kind, o.title, o.date, o.due, o.owner, \
                ARRAY(SELECT jsonb_array_elements_text(o.participants)::uuid), o.status, to_jsonb(o.detail) \
         FROM unnest($4::uuid[], $5::text[], $6::text[], $7::date[], $8::date[], $9::uuid[], $10::jsonb[], $11::text[], $12::text[]) \
             AS o(id, kind, title, date, due, owner, participants, status, detail)",
        trust,
        id,
        school.into_uuid(),
        &ids,
        &kinds,
        &titles,
        &dates,
        &dues,
        &owners,
        &participants,
        &statuses,
        &details,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM scheduling.visit_requests WHERE trust_id = $1 AND schedule_id = $2",
        trust,
        id
    )
    .execute(&mut *tx)
    .await?;
    for request in &state.requests {
        sqlx::query!(
            "INSERT INTO scheduling.visit_requests (trust_id, request_id, schedule_id, school_id, teacher_id, reason, booked_as) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            trust,
            request.request_id,
            id,
            school.into_uuid(),
            request.teacher.into_uuid(),
            request.reason.as_ref().map(|r| r.as_str()),
            request.booked_as
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A school's calendar from the read model; the default (Europe/London, weekdays) without one.
pub async fn calendar(
    conn: &mut PgConnection,
    trust: Uuid,
    school: Uuid,
) -> Result<SchoolCalendar, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT doc AS "doc: Json<SchoolCalendar>" FROM scheduling.calendars WHERE trust_id = $1 AND school_id = $2"#,
        trust,
        school
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| row.doc.0).unwrap_or_default())
}
