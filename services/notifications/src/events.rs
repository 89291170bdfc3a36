//! What other services' events mean for people: reminders falling due, actions given to
//! someone, records waiting for someone's agreement, a review shared with a senior leader, a
//! meeting tomorrow (with the previous actions it will start from). School calendars are kept
//! too, for holidays and time zones.
//!
//! Each event becomes notices inside the consumer's transaction; a redelivered event finds
//! its notices (and deliveries) already recorded and adds nothing.

use std::sync::Arc;

use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_domain::action_tracking::action::ActionEvent;
use waymark_domain::action_tracking::audit_trail::{self, AuditTrailEvent};
use waymark_domain::directory::Role;
use waymark_domain::review_dialogue::review::ReviewEvent;
use waymark_domain::review_dialogue::visit::VisitEvent;
use waymark_domain::scheduling::calendar::{Calendar, CalendarEvent, SchoolCalendar};
use waymark_domain::scheduling::reminders::{ReminderEvent, ReminderKind, SubjectKind};
use waymark_domain::school_year::long_date;
use waymark_domain::{Decider, SchoolId, StaffId, TrustId};
use waymark_event_store::{RecordedEvent, decode};
use waymark_runtime::Platform;

use crate::notices::{Notice, record};

pub const NAME: &str = "notifications.events";

pub struct Events {
    pub platform: Arc<Platform>,
    /// Wakes the delivery worker.
    pub wake: Arc<tokio::sync::Notify>,
    /// Wakes the agenda worker.
    pub agenda: Arc<tokio::sync::Notify>,
}

impl EventHandler for Events {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &[
            "reminder",
            "action",
            "review",
            "visit",
            audit_trail::CATEGORY,
            Calendar::CATEGORY,
        ]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let notices = match event.stream_id.category() {
            "reminder" => self.reminder(tx, event).await?,
            "action" => self.action(event)?,
            "review" => self.review(tx, event).await?,
            "visit" => self.visit(tx, event).await?,
            audit_trail::CATEGORY => audit_trail_failed(tx, event).await?,
            _ => {
                keep_calendar(tx, event).await?;
                Vec::new()
            }
        };
        let now = self.platform.clock.now();
        keep_closed(tx, event, now).await?;
        for notice in &notices {
            if notice.agenda.is_some() {
                crate::agenda::wait_for(tx, notice, now).await?;
                self.agenda.notify_one();
            } else {
                record(tx, notice, now).await?;
                self.wake.notify_one();
            }
        }
        Ok(())
    }
}

/// The audit trail failed its check: every administrator of the trust is told at once.
async fn audit_trail_failed(
    tx: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<Vec<Notice>, HandlerError> {
    let AuditTrailEvent::VerificationFailed {
        chain,
        seq,
        kind,
        detail,
        ..
    } = decode(event)?;
    let trail = if chain == "records" {
        "the history of reviews, meetings and visits"
    } else {
        "the record of actions"
    };
    let directory =
        waymark_runtime::directory::load(&mut *tx, crate::DIRECTORY_TABLE, event.trust_id).await?;
    let at = if seq == 0 {
        "Its anchors".to_owned()
    } else {
        format!("Entry {seq}")
    };
    Ok(directory
        .staff
        .iter()
        .filter(|(_, record)| {
            !record.disabled && record.grants.iter().any(|g| g.role == Role::TrustAdmin)
        })
        .map(|(admin, _)| {
            let mut notice = notice(
                event,
                *admin,
                None,
                "audit.verification_failed",
                "The audit trail failed its check".to_owned(),
                format!(
                    "{at} of {trail} did not verify ({kind}): {detail}. Someone may have changed it outside Waymark. \
                     Keep the database as it is and tell whoever looks after your data protection."
                ),
                waymark_domain::pages::AUDIT_TRAIL.to_owned(),
            );
            notice.urgent = true;
            notice
        })
        .collect())
}

fn notice(
    event: &RecordedEvent,
    recipient: StaffId,
    school: Option<SchoolId>,
    kind: &str,
    title: String,
    body: String,
    link: String,
) -> Notice {
    Notice {
        trust: event.trust_id,
        recipient,
        school,
        kind: kind.to_owned(),
        title,
        body,
        link,
        urgent: false,
        note: None,
        event_id: event.event_id.into_uuid(),
        subject: None,
        stale_after: None,
        agenda: None,
    }
}

impl Events {
    fn link(&self, kind: SubjectKind, id: Uuid) -> String {
        waymark_domain::pages::record(kind, id)
    }

    async fn reminder(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<Vec<Notice>, HandlerError> {
        let ReminderEvent::ReminderDue(due) = decode(event)?;
        let kind = due
            .kind()
            .ok_or_else(|| HandlerError::Permanent(format!("unknown reminder {}", due.reminder)))?;
        let link = self.link(due.subject_kind, due.subject_id);
        let title = due.title.to_string();
        let when = long_date(due.due_date);
        let mut recipient = due.recipient_id;
        let (mut urgent, mut note) = (false, None);
        // Counted from the day it is sent: a reminder sent late says how long is left now.
        let (soon, headline_soon) = match due.days_left() {
            ..=0 => ("today".to_owned(), "Today".to_owned()),
            1 => ("tomorrow".to_owned(), "Tomorrow".to_owned()),
            days => (format!("in {days} days"), format!("In {days} days")),
        };
        // A meeting's day-before reminder ends with the previous meeting's actions, once
        // review dialogue has listed them (`crate::agenda`).
        let meeting_tomorrow = matches!(kind, ReminderKind::Upcoming { days: 1 })
            && due.subject_kind == SubjectKind::Meeting;
        let (headline, body) = match kind {
            ReminderKind::Upcoming { .. } if meeting_tomorrow => (
                format!("{headline_soon}: {title}"),
                format!("{title} is {soon}, {when}."),
            ),
            ReminderKind::Upcoming { .. } => (
                format!("Due {soon}: {title}"),
                format!("\"{title}\" is due on {when}."),
            ),
            ReminderKind::Due => (
                format!("Due today: {title}"),
                format!("\"{title}\" is due today, {when}."),
            ),
            ReminderKind::Overdue => (
                format!("Overdue: {title}"),
                format!("\"{title}\" was due on {when} and is not done yet."),
            ),
            ReminderKind::Escalation => {
                // Told to the owner's line manager; when the directory names none, the
                // owner is told, and the notice and the delivery log say why.
                urgent = true;
                let owner = contact_name(tx, event.trust_id, due.recipient_id).await?;
                let headline = format!("Still overdue: {title}");
                match line_manager(tx, event.trust_id, due.recipient_id).await? {
                    Some(manager) => {
                        recipient = manager;
                        (
                            headline,
                            format!(
                                "\"{title}\" ({owner}) was due on {when} and is still not done. A word may help."
                            ),
                        )
                    }
                    None => {
                        note = Some(format!(
                            "no line manager is recorded for {owner}: the escalation went to them"
                        ));
                        (
                            headline,
                            format!(
                                "\"{title}\" was due on {when} and is still not done. This would go to your line manager, \
                                 but Waymark has none recorded for you, so it comes to you; your school's administrator can record one."
                            ),
                        )
                    }
                }
            }
            ReminderKind::AwaitingAgreement => (
                format!("Waiting for your agreement: {title}"),
                format!("\"{title}\" is waiting for you to read and agree it."),
            ),
        };
        let mut notice = notice(
            event,
            recipient,
            Some(due.school_id),
            &format!("reminder.{}", kind.key()),
            headline,
            body,
            link,
        );
        notice.urgent = urgent;
        notice.note = note;
        notice.subject = Some(due.subject_id);
        notice.agenda = meeting_tomorrow.then_some(due.subject_id);
        // Ahead of a date, or on it: pointless once the day is over.
        notice.stale_after = matches!(kind, ReminderKind::Upcoming { .. } | ReminderKind::Due)
            .then_some(due.due_date);
        Ok(vec![notice])
    }

    fn action(&self, event: &RecordedEvent) -> Result<Vec<Notice>, HandlerError> {
        let link = |id| self.link(SubjectKind::Action, id);
        Ok(match decode::<ActionEvent>(event)? {
            ActionEvent::ActionCreated {
                action_id,
                school_id,
                description,
                owner_id,
                due_date,
                ..
            } if owner_id.into_uuid() != event.metadata.actor.into_uuid() => {
                vec![notice(
                    event,
                    owner_id,
                    Some(school_id),
                    "action.assigned",
                    format!("A new action for you: {description}"),
                    format!("\"{description}\" is yours, due {}.", long_date(due_date)),
                    link(action_id),
                )]
            }
            ActionEvent::ActionReassigned {
                action_id,
                to_owner_id,
                reason,
                ..
            } => vec![notice(
                event,
                to_owner_id,
                None,
                "action.reassigned",
                "An action is now yours".to_owned(),
                format!("An action has been given to you. Why: {reason}"),
                link(action_id),
            )],
            _ => Vec::new(),
        })
    }

    async fn review(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<Vec<Notice>, HandlerError> {
        let trust = event.trust_id;
        let link = |id| self.link(SubjectKind::Review, id);
        Ok(match decode::<ReviewEvent>(event)? {
            ReviewEvent::ReviewScheduled {
                review_id,
                school_id,
                reviewer_id,
                reviewee_id,
                slt_line_manager_id,
                ..
            } => {
                let people = json!({ "reviewer": reviewer_id, "reviewee": reviewee_id, "slt": slt_line_manager_id });
                remember(tx, trust, review_id, "review", school_id, people).await?;
                Vec::new()
            }
            ReviewEvent::RecordDrafted { review_id, by, .. } => {
                let Some((school, people)) = recall(tx, trust, review_id).await? else {
                    return Ok(Vec::new());
                };
                let other = other_party(&people, by);
                other
                    .map(|other| {
                        notice(
                            event,
                            other,
                            Some(school),
                            "review.awaiting_agreement",
                            "A progress review record is ready for you".to_owned(),
                            "The record of your progress review has been drafted. Read it, respond if you wish, and agree it or send it back."
                                .to_owned(),
                            link(review_id),
                        )
                    })
                    .into_iter()
                    .collect()
            }
            ReviewEvent::RecordShared { review_id, with } => {
                let school = recall(tx, trust, review_id)
                    .await?
                    .map(|(school, _)| school);
                vec![notice(
                    event,
                    with,
                    school,
                    "review.shared",
                    "A progress review record has been shared with you".to_owned(),
                    "Both people have agreed the record of a progress review; as senior line manager you receive a copy.".to_owned(),
                    link(review_id),
                )]
            }
            _ => Vec::new(),
        })
    }

    async fn visit(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<Vec<Notice>, HandlerError> {
        let trust = event.trust_id;
        Ok(match decode::<VisitEvent>(event)? {
            VisitEvent::VisitPlanned {
                visit_id,
                school_id,
                visitor_id,
                teacher_id,
                ..
            } => {
                remember(
                    tx,
                    trust,
                    visit_id,
                    "visit",
                    school_id,
                    json!({ "visitor": visitor_id, "teacher": teacher_id }),
                )
                .await?;
                Vec::new()
            }
            VisitEvent::VisitRecorded { visit_id, .. } => {
                let Some((school, people)) = recall(tx, trust, visit_id).await? else {
                    return Ok(Vec::new());
                };
                person(&people, "teacher")
                    .map(|teacher| {
                        notice(
                            event,
                            teacher,
                            Some(school),
                            "visit.awaiting_agreement",
                            "Your visit record is ready".to_owned(),
                            "The record of your classroom visit is written. Read it, respond, and agree it.".to_owned(),
                            self.link(SubjectKind::Visit, visit_id),
                        )
                    })
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        })
    }
}

/// Remembers a subject that reminders could be about being closed (or opened again), so
/// deliveries of its reminders still waiting are dropped, not sent late.
async fn keep_closed(
    tx: &mut PgConnection,
    event: &RecordedEvent,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), HandlerError> {
    let closed: Option<(Uuid, Option<&str>)> = match event.stream_id.category() {
        "action" => match decode::<ActionEvent>(event)? {
            ActionEvent::ActionCompleted { action_id, .. } => {
                Some((action_id, Some("the action was done")))
            }
            ActionEvent::ActionDropped { action_id, .. } => {
                Some((action_id, Some("the action was dropped")))
            }
            ActionEvent::ActionCarriedForward { action_id, .. } => {
                Some((action_id, Some("the action was carried forward")))
            }
            ActionEvent::ActionReopened { action_id, .. } => Some((action_id, None)),
            _ => None,
        },
        "review" => match decode::<ReviewEvent>(event)? {
            ReviewEvent::ReviewAgreed { review_id, .. } => {
                Some((review_id, Some("the review was agreed")))
            }
            ReviewEvent::ReviewCancelled { review_id, .. } => {
                Some((review_id, Some("the review was cancelled")))
            }
            _ => None,
        },
        "visit" => match decode::<VisitEvent>(event)? {
            VisitEvent::VisitAgreed { visit_id } => Some((visit_id, Some("the visit was agreed"))),
            VisitEvent::VisitCancelled { visit_id, .. } => {
                Some((visit_id, Some("the visit was cancelled")))
            }
            _ => None,
        },
        _ => None,
    };
    match closed {
        Some((subject, Some(reason))) => {
            sqlx::query!(
                "INSERT INTO notifications.closed_subjects (trust_id, subject_id, reason, closed_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (trust_id, subject_id) DO UPDATE SET reason = $3, closed_at = $4",
                event.trust_id.into_uuid(),
                subject,
                reason,
                now,
            )
            .execute(&mut *tx)
            .await?;
        }
        Some((subject, None)) => {
            sqlx::query!(
                "DELETE FROM notifications.closed_subjects WHERE trust_id = $1 AND subject_id = $2",
                event.trust_id.into_uuid(),
                subject,
            )
            .execute(&mut *tx)
            .await?;
        }
        None => {}
    }
    Ok(())
}

async fn keep_calendar(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let calendar_event = decode::<CalendarEvent>(event)?;
    let school = match &calendar_event {
        CalendarEvent::TimeZoneSet { school_id, .. }
        | CalendarEvent::YearCalendarSet { school_id, .. }
        | CalendarEvent::YearCalendarRemoved { school_id, .. } => *school_id,
    };
    let row = sqlx::query!(
        r#"SELECT doc AS "doc: Json<SchoolCalendar>", version FROM notifications.calendars
           WHERE trust_id = $1 AND school_id = $2 FOR UPDATE"#,
        event.trust_id.into_uuid(),
        school.into_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (state, version) = row.map_or_else(
        || (SchoolCalendar::default(), 0),
        |row| (row.doc.0, row.version),
    );
    if event.stream_version <= version {
        return Ok(());
    }
    let state = Calendar::evolve(state, &calendar_event);
    sqlx::query!(
        "INSERT INTO notifications.calendars (trust_id, school_id, doc, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (trust_id, school_id) DO UPDATE SET doc = $3, version = $4",
        event.trust_id.into_uuid(),
        school.into_uuid(),
        Json(&state) as _,
        event.stream_version
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn remember(
    tx: &mut PgConnection,
    trust: TrustId,
    id: Uuid,
    kind: &str,
    school: SchoolId,
    people: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO notifications.records (trust_id, record_id, kind, school_id, people) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (trust_id, record_id) DO UPDATE SET people = $5",
        trust.into_uuid(),
        id,
        kind,
        school.into_uuid(),
        people
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn recall(
    tx: &mut PgConnection,
    trust: TrustId,
    id: Uuid,
) -> Result<Option<(SchoolId, serde_json::Value)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT school_id, people FROM notifications.records WHERE trust_id = $1 AND record_id = $2",
        trust.into_uuid(),
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|row| (SchoolId::from_uuid(row.school_id), row.people)))
}

fn person(people: &serde_json::Value, role: &str) -> Option<StaffId> {
    people
        .get(role)
        .and_then(|v| v.as_str())
        .and_then(|id| StaffId::parse(id).ok())
}

/// The reviewer if `by` is the reviewee, and the other way round.
fn other_party(people: &serde_json::Value, by: StaffId) -> Option<StaffId> {
    let (reviewer, reviewee) = (person(people, "reviewer")?, person(people, "reviewee")?);
    if by == reviewer {
        Some(reviewee)
    } else {
        Some(reviewer)
    }
}

async fn contact_name(
    tx: &mut PgConnection,
    trust: TrustId,
    person: StaffId,
) -> Result<String, sqlx::Error> {
    let name = sqlx::query_scalar!(
        "SELECT display_name FROM notifications.contacts WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        person.into_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(name.unwrap_or_else(|| "a colleague".to_owned()))
}

async fn line_manager(
    tx: &mut PgConnection,
    trust: TrustId,
    person: StaffId,
) -> Result<Option<StaffId>, sqlx::Error> {
    let manager = sqlx::query_scalar!(
        "SELECT line_manager_id FROM notifications.contacts WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        person.into_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    Ok(manager.map(StaffId::from_uuid))
}
