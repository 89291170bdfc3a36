//! Plans reminder timers from the other services' events: an action's due date, a review's
//! window, a meeting's date, a record waiting for someone's agreement; and, from scheduling's
//! own schedule events (through its projection), each planned activity's date. When a due date moves,
//! an owner changes, or the thing is done, the pending timers are cancelled and planned again;
//! timers that already fired stay fired.
//!
//! Everything here runs inside the consumer's transaction, so the timers and "this event is
//! handled" commit together.

use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::action_tracking::action::ActionEvent;
use waymark_domain::review_dialogue::meeting::MeetingEvent;
use waymark_domain::review_dialogue::review::ReviewEvent;
use waymark_domain::review_dialogue::visit::VisitEvent;
use waymark_domain::scheduling::calendar::SchoolCalendar;
use waymark_domain::scheduling::reminders::{
    PlannedReminder, ReminderKind, ReminderSettings, SubjectKind, plan_created, plan_due,
    plan_nudge,
};
use waymark_domain::scheduling::schedule::{
    OccurrenceKind, OccurrenceStatus, ScheduleEvent, ScheduleState,
};
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_event_store::{RecordedEvent, decode};
use waymark_runtime::Clock;

use crate::projection;

pub const NAME: &str = "scheduling.reminders";

/// What a reminder is about.
#[derive(Debug, Clone)]
struct Subject {
    kind: SubjectKind,
    id: Uuid,
    school: SchoolId,
    title: String,
    owner: StaffId,
    /// Told the day before too (a meeting's leaders).
    others: Vec<StaffId>,
    due: NaiveDate,
}

#[derive(Clone)]
pub struct Planner {
    pub settings: ReminderSettings,
    pub clock: Arc<dyn Clock>,
    /// Wakes the timer worker when new timers may be due soon.
    pub wake: Arc<tokio::sync::Notify>,
}

impl EventHandler for Planner {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &["action", "review", "meeting", "visit"]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let trust = event.trust_id;
        match event.stream_id.category() {
            "action" => self.on_action(tx, trust, decode(event)?).await?,
            "review" => self.on_review(tx, event, decode(event)?).await?,
            "meeting" => self.on_meeting(tx, trust, decode(event)?).await?,
            _ => self.on_visit(tx, event, decode(event)?).await?,
        }
        self.wake.notify_one();
        Ok(())
    }
}

impl Planner {
    async fn on_action(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        event: ActionEvent,
    ) -> Result<(), HandlerError> {
        use ActionEvent as E;
        match event {
            E::ActionCreated {
                action_id,
                school_id,
                description,
                owner_id,
                due_date,
                ..
            } => {
                let subject = Subject {
                    kind: SubjectKind::Action,
                    id: action_id,
                    school: school_id,
                    title: description.to_string(),
                    owner: owner_id,
                    others: vec![],
                    due: due_date,
                };
                self.save(tx, trust, &subject, true).await?;
                self.plan_new(tx, trust, &subject).await
            }
            E::DueDateChanged { action_id, to, .. } => {
                self.change(tx, trust, action_id, |s| s.due = to).await
            }
            E::ActionReassigned {
                action_id,
                to_owner_id,
                ..
            } => {
                self.change(tx, trust, action_id, |s| s.owner = to_owner_id)
                    .await
            }
            E::ActionReopened { action_id, .. } => {
                set_open(tx, trust, action_id, true).await?;
                self.change(tx, trust, action_id, |_| {}).await
            }
            E::ActionCompleted { action_id, .. }
            | E::ActionCarriedForward { action_id, .. }
            | E::ActionDropped { action_id, .. } => self.close(tx, trust, action_id).await,
            E::ActionStarted { .. }
            | E::ProgressNoted { .. }
            | E::EvidenceRecorded { .. }
            | E::EvidenceAttached { .. }
            | E::EvidenceRemoved { .. } => Ok(()),
        }
    }

    async fn on_review(
        &self,
        tx: &mut PgConnection,
        recorded: &RecordedEvent,
        event: ReviewEvent,
    ) -> Result<(), HandlerError> {
        use ReviewEvent as E;
        let trust = recorded.trust_id;
        match event {
            E::ReviewScheduled {
                review_id,
                school_id,
                year_group,
                reviewer_id,
                reviewee_id,
                window_closes,
                ..
            } => {
                let subject = Subject {
                    kind: SubjectKind::Review,
                    id: review_id,
                    school: school_id,
                    title: format!("Progress review: {year_group}"),
                    owner: reviewer_id,
                    others: vec![reviewee_id],
                    due: window_closes,
                };
                self.save(tx, trust, &subject, true).await?;
                self.plan_new(tx, trust, &subject).await
            }
            E::ReviewRescheduled {
                review_id,
                window_closes,
                ..
            } => {
                self.change(tx, trust, review_id, |s| s.due = window_closes)
                    .await
            }
            E::RecordDrafted { review_id, .. } => {
                // A new draft awaits both people's agreement.
                cancel_nudges(tx, trust, review_id, None).await?;
                if let Some(subject) = load(tx, trust, review_id).await? {
                    let since = self.local_date(tx, trust, &subject, recorded).await?;
                    for person in [subject.owner]
                        .into_iter()
                        .chain(subject.others.iter().copied())
                    {
                        self.nudge(tx, trust, &subject, person, since).await?;
                    }
                }
                Ok(())
            }
            E::RecordAgreed { review_id, by, .. } => {
                cancel_nudges(tx, trust, review_id, Some(by)).await
            }
            E::DraftSentBack { review_id, .. } => cancel_nudges(tx, trust, review_id, None).await,
            E::ReviewAgreed { review_id, .. } | E::ReviewCancelled { review_id, .. } => {
                self.close(tx, trust, review_id).await
            }
            _ => Ok(()),
        }
    }

    async fn on_meeting(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        event: MeetingEvent,
    ) -> Result<(), HandlerError> {
        use MeetingEvent as E;
        match event {
            E::MeetingScheduled {
                meeting_id,
                school_id,
                class_group,
                assessment_point,
                teacher_id,
                leader_ids,
                date,
                ..
            } => {
                let subject = Subject {
                    kind: SubjectKind::Meeting,
                    id: meeting_id,
                    school: school_id,
                    title: format!("Progress meeting: {class_group}, {assessment_point}"),
                    owner: teacher_id,
                    others: leader_ids,
                    due: date,
                };
                self.save(tx, trust, &subject, true).await?;
                self.plan_new(tx, trust, &subject).await
            }
            E::MeetingRescheduled {
                meeting_id, date, ..
            } => self.change(tx, trust, meeting_id, |s| s.due = date).await,
            E::MeetingClosed { meeting_id } | E::MeetingCancelled { meeting_id, .. } => {
                self.close(tx, trust, meeting_id).await
            }
            _ => Ok(()),
        }
    }

    async fn on_visit(
        &self,
        tx: &mut PgConnection,
        recorded: &RecordedEvent,
        event: VisitEvent,
    ) -> Result<(), HandlerError> {
        use VisitEvent as E;
        let trust = recorded.trust_id;
        match event {
            E::VisitPlanned {
                visit_id,
                school_id,
                visitor_id,
                teacher_id,
                date,
                ..
            } => {
                let subject = Subject {
                    kind: SubjectKind::Visit,
                    id: visit_id,
                    school: school_id,
                    title: "Classroom visit".to_owned(),
                    owner: visitor_id,
                    others: vec![teacher_id],
                    due: date,
                };
                self.save(tx, trust, &subject, true).await?;
                self.plan_new(tx, trust, &subject).await
            }
            E::VisitRecorded { visit_id, .. } => {
                // The record waits for the teacher.
                if let Some(subject) = load(tx, trust, visit_id).await? {
                    let since = self.local_date(tx, trust, &subject, recorded).await?;
                    for teacher in subject.others.clone() {
                        self.nudge(tx, trust, &subject, teacher, since).await?;
                    }
                }
                Ok(())
            }
            E::VisitAgreed { visit_id } | E::VisitCancelled { visit_id, .. } => {
                self.close(tx, trust, visit_id).await
            }
            _ => Ok(()),
        }
    }

    /// A planned activity is reminded to whoever leads it, the same way as an action: planned
    /// with the occurrence, moved with it, stopped once it is held or cancelled. One already
    /// past its date when planned (a year generated part way through) gets none: the
    /// overview shows it as overdue. Reviews, meetings and visits are reminded through their
    /// records instead.
    pub async fn on_schedule(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        state: &ScheduleState,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        use ScheduleEvent as E;
        let (id, first) = match decode::<ScheduleEvent>(event)? {
            E::OccurrencePlanned { occurrence } => (occurrence.id, true),
            E::OccurrenceMoved { id, .. } | E::OccurrenceRescheduled { id, .. } => (id, false),
            E::OccurrenceHeld { id } | E::OccurrenceCancelled { id, .. } => {
                return self.close(tx, trust, id).await;
            }
            _ => return Ok(()),
        };
        let (Some(occurrence), Some(school)) = (state.occurrences.get(&id), state.school_id) else {
            return Ok(());
        };
        if !matches!(occurrence.kind, OccurrenceKind::Activity { .. })
            || occurrence.status != OccurrenceStatus::Planned
        {
            return Ok(());
        }
        let subject = Subject {
            kind: SubjectKind::Occurrence,
            id,
            school,
            title: occurrence.title.to_string(),
            owner: occurrence.owner,
            others: vec![],
            due: occurrence.due,
        };
        if first {
            let calendar = projection::calendar(tx, trust.into_uuid(), school.into_uuid()).await?;
            let today = self
                .clock
                .now()
                .with_timezone(&calendar.time_zone)
                .date_naive();
            if subject.due < today {
                return Ok(());
            }
        } else if load(tx, trust, id).await?.is_none() {
            // Moved from the past, where it had none, to a date still to come.
            self.save(tx, trust, &subject, true).await?;
            return self.plan_new(tx, trust, &subject).await;
        }
        self.save(tx, trust, &subject, true).await?;
        self.plan(tx, trust, &subject).await
    }

    async fn save(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        subject: &Subject,
        open: bool,
    ) -> Result<(), sqlx::Error> {
        let others: Vec<Uuid> = subject.others.iter().map(|id| id.into_uuid()).collect();
        sqlx::query!(
            "INSERT INTO scheduling.subjects (trust_id, subject_id, subject_kind, school_id, title, owner_id, others, due_date, open) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (trust_id, subject_id) DO UPDATE SET title = $5, owner_id = $6, others = $7, due_date = $8, open = $9",
            trust.into_uuid(),
            subject.id,
            subject.kind.as_str(),
            subject.school.into_uuid(),
            subject.title,
            subject.owner.into_uuid(),
            &others,
            subject.due,
            open
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    async fn change(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        id: Uuid,
        change: impl FnOnce(&mut Subject),
    ) -> Result<(), HandlerError> {
        let Some(mut subject) = load(tx, trust, id).await? else {
            return Ok(());
        };
        change(&mut subject);
        self.save(tx, trust, &subject, true).await?;
        self.plan(tx, trust, &subject).await
    }

    async fn close(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        id: Uuid,
    ) -> Result<(), HandlerError> {
        set_open(tx, trust, id, false).await?;
        sqlx::query!(
            "UPDATE scheduling.timers SET state = 'cancelled' WHERE trust_id = $1 AND subject_id = $2 AND state = 'pending'",
            trust.into_uuid(),
            id
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Cancels the subject's pending due-date timers and plans them again.
    async fn plan(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        subject: &Subject,
    ) -> Result<(), HandlerError> {
        let calendar =
            projection::calendar(tx, trust.into_uuid(), subject.school.into_uuid()).await?;
        let planned = plan_due(subject.due, &calendar, &self.settings);
        self.plan_with(tx, trust, subject, planned).await
    }

    /// For a record just created: one dated in the past is late only from today
    /// ([`plan_created`]).
    async fn plan_new(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        subject: &Subject,
    ) -> Result<(), HandlerError> {
        let calendar =
            projection::calendar(tx, trust.into_uuid(), subject.school.into_uuid()).await?;
        let today = self
            .clock
            .now()
            .with_timezone(&calendar.time_zone)
            .date_naive();
        let planned = plan_created(subject.due, today, &calendar, &self.settings);
        self.plan_with(tx, trust, subject, planned).await
    }

    async fn plan_with(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        subject: &Subject,
        planned: Vec<PlannedReminder>,
    ) -> Result<(), HandlerError> {
        let now = self.clock.now();
        let mut timers = Vec::new();
        for reminder in planned {
            timers.push((subject.owner, reminder));
            // The others hear of it the day before (a meeting's leaders: "meeting tomorrow").
            if subject.kind == SubjectKind::Meeting
                && reminder.kind == (ReminderKind::Upcoming { days: 1 })
            {
                timers.extend(subject.others.iter().map(|other| (*other, reminder)));
            }
        }
        // What the plan still has stays as it is, even a timer due and not yet fired (the
        // worker was behind, or down): the catch-up rules decide it. The rest is cancelled.
        let keep: Vec<Uuid> = timers
            .iter()
            .map(|(recipient, reminder)| timer_id(subject, *recipient, reminder))
            .collect();
        sqlx::query!(
            "UPDATE scheduling.timers SET state = 'cancelled' \
             WHERE trust_id = $1 AND subject_id = $2 AND state = 'pending' AND reminder <> 'awaiting_agreement' \
             AND timer_id <> ALL($3)",
            trust.into_uuid(),
            subject.id,
            &keep
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE scheduling.timers SET title = $3 WHERE trust_id = $1 AND subject_id = $2 AND state = 'pending' AND title <> $3",
            trust.into_uuid(),
            subject.id,
            subject.title
        )
        .execute(&mut *tx)
        .await?;
        for (recipient, reminder) in timers {
            // A new timer for what has passed already is no use; lateness (overdue,
            // escalation) still is, however late.
            let still_useful = matches!(
                reminder.kind,
                ReminderKind::Overdue | ReminderKind::Escalation
            ) || reminder.fire_at >= now;
            if still_useful {
                insert(tx, trust, subject, recipient, &reminder).await?;
            }
        }
        Ok(())
    }

    async fn nudge(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        subject: &Subject,
        person: StaffId,
        since: NaiveDate,
    ) -> Result<(), HandlerError> {
        let calendar =
            projection::calendar(tx, trust.into_uuid(), subject.school.into_uuid()).await?;
        let nudge = plan_nudge(since, &calendar, &self.settings);
        insert(tx, trust, subject, person, &nudge).await
    }

    /// The school-local date of an event.
    async fn local_date(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        subject: &Subject,
        recorded: &RecordedEvent,
    ) -> Result<NaiveDate, HandlerError> {
        let calendar =
            projection::calendar(tx, trust.into_uuid(), subject.school.into_uuid()).await?;
        Ok(recorded
            .recorded_at
            .with_timezone(&calendar.time_zone)
            .date_naive())
    }

    /// After a school's calendar changed: every pending due-date timer of its open subjects is
    /// planned again on the new working days.
    pub async fn replan_school(
        &self,
        tx: &mut PgConnection,
        trust: TrustId,
        school: Uuid,
        calendar: &SchoolCalendar,
    ) -> Result<(), HandlerError> {
        let ids = sqlx::query_scalar!(
            "SELECT subject_id FROM scheduling.subjects WHERE trust_id = $1 AND school_id = $2 AND open",
            trust.into_uuid(),
            school
        )
        .fetch_all(&mut *tx)
        .await?;
        for id in ids {
            if let Some(subject) = load(tx, trust, id).await? {
                let planned = plan_due(subject.due, calendar, &self.settings);
                self.plan_with(tx, trust, &subject, planned).await?;
            }
        }
        self.wake.notify_one();
        Ok(())
    }
}

async fn load(
    tx: &mut PgConnection,
    trust: TrustId,
    id: Uuid,
) -> Result<Option<Subject>, HandlerError> {
    let row = sqlx::query!(
        "SELECT subject_kind, school_id, title, owner_id, others, due_date FROM scheduling.subjects \
         WHERE trust_id = $1 AND subject_id = $2 AND open",
        trust.into_uuid(),
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Subject {
        kind: SubjectKind::parse(&row.subject_kind)
            .ok_or_else(|| HandlerError::Permanent("stored subject kind".into()))?,
        id,
        school: SchoolId::from_uuid(row.school_id),
        title: row.title,
        owner: StaffId::from_uuid(row.owner_id),
        others: row.others.into_iter().map(StaffId::from_uuid).collect(),
        due: row.due_date,
    }))
}

async fn set_open(
    tx: &mut PgConnection,
    trust: TrustId,
    id: Uuid,
    open: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE scheduling.subjects SET open = $3 WHERE trust_id = $1 AND subject_id = $2",
        trust.into_uuid(),
        id,
        open
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn cancel_nudges(
    tx: &mut PgConnection,
    trust: TrustId,
    id: Uuid,
    person: Option<StaffId>,
) -> Result<(), HandlerError> {
    sqlx::query!(
        "UPDATE scheduling.timers SET state = 'cancelled' WHERE trust_id = $1 AND subject_id = $2 \
         AND state = 'pending' AND reminder = 'awaiting_agreement' AND ($3::uuid IS NULL OR recipient_id = $3)",
        trust.into_uuid(),
        id,
        person.map(StaffId::into_uuid)
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A timer's id names the subject, recipient, reminder, due date and day, so planning the same
/// thing again finds the same timer.
fn timer_id(subject: &Subject, recipient: StaffId, reminder: &PlannedReminder) -> Uuid {
    Uuid::new_v5(
        &subject.id,
        format!(
            "{recipient}/{}/{}/{}",
            reminder.kind.key(),
            subject.due,
            reminder.local_date
        )
        .as_bytes(),
    )
}

/// One timer: a cancelled one comes back, a fired one stays fired.
async fn insert(
    tx: &mut PgConnection,
    trust: TrustId,
    subject: &Subject,
    recipient: StaffId,
    reminder: &PlannedReminder,
) -> Result<(), HandlerError> {
    let timer_id = timer_id(subject, recipient, reminder);
    sqlx::query!(
        "INSERT INTO scheduling.timers (timer_id, trust_id, school_id, subject_kind, subject_id, title, reminder, \
         recipient_id, due_date, local_date, fire_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (timer_id) DO UPDATE SET state = 'pending', fire_at = $11, title = $6 \
         WHERE scheduling.timers.state = 'cancelled'",
        timer_id,
        trust.into_uuid(),
        subject.school.into_uuid(),
        subject.kind.as_str(),
        subject.id,
        subject.title,
        reminder.kind.key(),
        recipient.into_uuid(),
        subject.due,
        reminder.local_date,
        reminder.fire_at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
