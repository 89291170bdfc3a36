//! When reminders fall: before a due date (by default 7 days and 1 day before), on it, the
//! working day after it if not done (overdue), and a few working days later to the owner's
//! line manager (escalation). Reminders land on working days at a fixed local hour: an early
//! reminder that would fall on a weekend or in a holiday comes on the working day before;
//! overdue reminders and escalations wait for the next working day. The local hour stays the
//! same across daylight-saving changes.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::scheduling::calendar::SchoolCalendar;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderSettings {
    /// Calendar days before the due date for "coming up" reminders.
    pub days_before: Vec<u32>,
    /// The local hour reminders go out.
    pub hour: u32,
    /// Working days overdue before the line manager is told.
    pub escalate_after_working_days: u32,
    /// Working days a record may wait for someone's agreement before a nudge.
    pub nudge_after_working_days: u32,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            days_before: vec![7, 1],
            hour: 9,
            escalate_after_working_days: 3,
            nudge_after_working_days: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReminderKind {
    /// Due in `days` days.
    Upcoming { days: u32 },
    /// Due today.
    Due,
    /// Past due and not done.
    Overdue,
    /// Still overdue: tell the owner's line manager.
    Escalation,
    /// Something waits for this person's agreement.
    AwaitingAgreement,
}

impl ReminderKind {
    /// A stable name, e.g. `upcoming_7`, used in timer keys and messages.
    pub fn key(self) -> String {
        match self {
            Self::Upcoming { days } => format!("upcoming_{days}"),
            Self::Due => "due".to_owned(),
            Self::Overdue => "overdue".to_owned(),
            Self::Escalation => "escalation".to_owned(),
            Self::AwaitingAgreement => "awaiting_agreement".to_owned(),
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "due" => Some(Self::Due),
            "overdue" => Some(Self::Overdue),
            "escalation" => Some(Self::Escalation),
            "awaiting_agreement" => Some(Self::AwaitingAgreement),
            other => other
                .strip_prefix("upcoming_")
                .and_then(|days| days.parse().ok())
                .map(|days| Self::Upcoming { days }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedReminder {
    pub kind: ReminderKind,
    /// The school-local day it falls on.
    pub local_date: NaiveDate,
    pub fire_at: DateTime<Utc>,
}

/// The instant `date` at `hour`:00 in the school's time zone.
pub fn at_local_hour(calendar: &SchoolCalendar, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    let local = date.and_time(time);
    // A time skipped by a clock change falls to the first valid instant after it.
    calendar
        .time_zone
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            calendar
                .time_zone
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| local.and_utc(), |instant| instant.with_timezone(&Utc))
}

/// The reminders for something due on `due`.
pub fn plan_due(
    due: NaiveDate,
    calendar: &SchoolCalendar,
    settings: &ReminderSettings,
) -> Vec<PlannedReminder> {
    let due_day = calendar.working_day_on_or_before(due);
    let mut planned: Vec<(ReminderKind, NaiveDate)> = Vec::new();
    let mut days_before = settings.days_before.clone();
    days_before.sort_unstable_by(|a, b| b.cmp(a));
    for days in days_before {
        let Some(day) = due.checked_sub_days(Days::new(u64::from(days))) else {
            continue;
        };
        let day = calendar.working_day_on_or_before(day);
        // Folded onto the same day as another reminder, it would only repeat it.
        if day < due_day && !planned.iter().any(|(_, other)| *other == day) {
            planned.push((ReminderKind::Upcoming { days }, day));
        }
    }
    planned.push((ReminderKind::Due, due_day));
    let overdue = calendar.working_day_on_or_after(due.succ_opt().unwrap_or(due));
    planned.push((ReminderKind::Overdue, overdue));
    planned.push((
        ReminderKind::Escalation,
        calendar.add_working_days(overdue, settings.escalate_after_working_days),
    ));
    planned
        .into_iter()
        .map(|(kind, local_date)| PlannedReminder {
            kind,
            local_date,
            fire_at: at_local_hour(calendar, local_date, settings.hour),
        })
        .collect()
}

/// What becomes of a reminder found due, however late it is found (after scheduling was down,
/// say): sent, or skipped with the reason. Late reminders are not sent in a burst of
/// everything missed: each person hears only the latest of a due date's reminders to them, and
/// only words still true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatchUp {
    Send,
    Skip(String),
}

/// The order in which the owner hears of a due date: coming up (the furthest first), due,
/// overdue. Escalations (to the line manager) and nudges stand apart.
fn turn(kind: ReminderKind) -> Option<(u8, u32)> {
    match kind {
        ReminderKind::Upcoming { days } => Some((0, u32::MAX - days)),
        ReminderKind::Due => Some((1, 0)),
        ReminderKind::Overdue => Some((2, 0)),
        ReminderKind::Escalation | ReminderKind::AwaitingAgreement => None,
    }
}

/// Decides a due reminder of `kind` for `due_date`, sent (if at all) on the school-local day
/// `today`; `later_due` are the reminders of the same due date to the same person that are
/// due by now as well and come after it in turn.
///
/// - A later reminder due as well says it better: this one is skipped.
/// - "Coming up" is only true before the due date, "due today" only on it.
/// - Overdue reminders and escalations stay true however late.
pub fn catch_up(
    kind: ReminderKind,
    due_date: NaiveDate,
    today: NaiveDate,
    later_due: &[ReminderKind],
) -> CatchUp {
    if let Some(mine) = turn(kind)
        && let Some(later) = later_due
            .iter()
            .filter(|later| turn(**later).is_some_and(|theirs| theirs > mine))
            .max_by_key(|later| turn(**later))
    {
        return CatchUp::Skip(format!(
            "the later {} reminder was due as well",
            later.key()
        ));
    }
    match kind {
        ReminderKind::Upcoming { .. } if today >= due_date => {
            CatchUp::Skip("found due on or after its due date".to_owned())
        }
        ReminderKind::Due if today > due_date => {
            CatchUp::Skip("found due after its due date".to_owned())
        }
        _ => CatchUp::Send,
    }
}

/// The reminders of a record created on `created_on`. One created after its date (a
/// meeting recorded once it has happened) is late only from the day it was created: its
/// first overdue reminder is the next working day's, so recording it and closing it in one
/// sitting reminds nobody of it.
pub fn plan_created(
    due: NaiveDate,
    created_on: NaiveDate,
    calendar: &SchoolCalendar,
    settings: &ReminderSettings,
) -> Vec<PlannedReminder> {
    if due >= created_on {
        return plan_due(due, calendar, settings);
    }
    plan_due(created_on, calendar, settings)
        .into_iter()
        .filter(|r| matches!(r.kind, ReminderKind::Overdue | ReminderKind::Escalation))
        .collect()
}

/// The nudge for a record waiting since `since` for someone's agreement.
pub fn plan_nudge(
    since: NaiveDate,
    calendar: &SchoolCalendar,
    settings: &ReminderSettings,
) -> PlannedReminder {
    let local_date = calendar.add_working_days(since, settings.nudge_after_working_days.max(1));
    PlannedReminder {
        kind: ReminderKind::AwaitingAgreement,
        local_date,
        fire_at: at_local_hour(calendar, local_date, settings.hour),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::calendar::tests::{calendar, d};

    fn kinds(planned: &[PlannedReminder]) -> Vec<(String, NaiveDate)> {
        planned
            .iter()
            .map(|p| (p.kind.key(), p.local_date))
            .collect()
    }

    #[test]
    fn a_record_created_after_its_date_is_late_only_from_the_day_it_was_created() {
        let settings = ReminderSettings::default();
        // A meeting held on Monday 7 December, recorded on Thursday 10th.
        let planned = plan_created(d(2026, 12, 7), d(2026, 12, 10), &calendar(), &settings);
        assert_eq!(
            kinds(&planned),
            [
                ("overdue".into(), d(2026, 12, 11)),
                ("escalation".into(), d(2026, 12, 16)),
            ]
        );
        // Created before its date, nothing changes.
        assert_eq!(
            plan_created(d(2026, 12, 10), d(2026, 12, 1), &calendar(), &settings),
            plan_due(d(2026, 12, 10), &calendar(), &settings)
        );
    }

    #[test]
    fn reminders_before_on_and_after_a_due_date() {
        let planned = plan_due(d(2026, 12, 10), &calendar(), &ReminderSettings::default());
        assert_eq!(
            kinds(&planned),
            [
                ("upcoming_7".into(), d(2026, 12, 3)),
                ("upcoming_1".into(), d(2026, 12, 9)),
                ("due".into(), d(2026, 12, 10)),
                ("overdue".into(), d(2026, 12, 11)),
                ("escalation".into(), d(2026, 12, 16)),
            ]
        );
        // 09:00 in London is 09:00 UTC in December.
        assert_eq!(planned[2].fire_at.to_rfc3339(), "2026-12-10T09:00:00+00:00");
    }

    #[test]
    fn early_reminders_come_before_a_holiday_late_ones_after_it() {
        // Due the Monday after autumn half term.
        let planned = plan_due(d(2026, 11, 2), &calendar(), &ReminderSettings::default());
        assert_eq!(
            kinds(&planned),
            [
                ("upcoming_7".into(), d(2026, 10, 23)),
                ("due".into(), d(2026, 11, 2)),
                ("overdue".into(), d(2026, 11, 3)),
                ("escalation".into(), d(2026, 11, 6)),
            ],
            "the one-day reminder falls on a Sunday, so back to the Friday: the same day as the seven-day one"
        );
        // Due on the last day of the Christmas term: overdue waits for January.
        let christmas = plan_due(d(2026, 12, 18), &calendar(), &ReminderSettings::default());
        assert_eq!(christmas[3].kind, ReminderKind::Overdue);
        assert_eq!(christmas[3].local_date, d(2027, 1, 5));
    }

    #[test]
    fn nine_oclock_stays_nine_oclock_local_across_the_clock_change() {
        let settings = ReminderSettings::default();
        // British Summer Time ends on 25 October 2026.
        let before = at_local_hour(&calendar(), d(2026, 10, 23), settings.hour);
        let after = at_local_hour(&calendar(), d(2026, 11, 2), settings.hour);
        assert_eq!(before.to_rfc3339(), "2026-10-23T08:00:00+00:00");
        assert_eq!(after.to_rfc3339(), "2026-11-02T09:00:00+00:00");
    }

    #[test]
    fn a_record_waiting_for_agreement_gets_a_nudge_two_working_days_on() {
        let nudge = plan_nudge(d(2026, 11, 20), &calendar(), &ReminderSettings::default());
        assert_eq!(
            (nudge.kind, nudge.local_date),
            (ReminderKind::AwaitingAgreement, d(2026, 11, 24))
        );
    }

    #[test]
    fn a_late_reminder_is_sent_only_when_it_is_the_latest_and_still_true() {
        let due = d(2026, 12, 10);
        let (upcoming_7, upcoming_1) = (
            ReminderKind::Upcoming { days: 7 },
            ReminderKind::Upcoming { days: 1 },
        );
        use ReminderKind::{Due, Escalation, Overdue};
        // On time, or late but alone and still true: sent.
        assert_eq!(
            catch_up(upcoming_7, due, d(2026, 12, 3), &[]),
            CatchUp::Send
        );
        assert_eq!(
            catch_up(upcoming_7, due, d(2026, 12, 8), &[]),
            CatchUp::Send
        );
        assert_eq!(catch_up(Due, due, due, &[]), CatchUp::Send);
        assert_eq!(catch_up(Overdue, due, d(2027, 1, 5), &[]), CatchUp::Send);
        // After downtime: only the latest of the owner's reminders goes.
        let found = [upcoming_1, Due, Overdue, Escalation];
        for earlier in [upcoming_7, upcoming_1, Due] {
            assert_eq!(
                catch_up(earlier, due, d(2026, 12, 11), &found),
                CatchUp::Skip("the later overdue reminder was due as well".into())
            );
        }
        assert_eq!(
            catch_up(upcoming_7, due, d(2026, 12, 9), &[upcoming_1]),
            CatchUp::Skip("the later upcoming_1 reminder was due as well".into())
        );
        // An escalation goes to someone else: it neither hides nor is hidden.
        assert_eq!(
            catch_up(Overdue, due, d(2026, 12, 16), &[Escalation]),
            CatchUp::Send
        );
        assert_eq!(
            catch_up(Escalation, due, d(2026, 12, 20), &[]),
            CatchUp::Send
        );
        // Words no longer true are not sent.
        assert!(matches!(
            catch_up(upcoming_1, due, due, &[]),
            CatchUp::Skip(_)
        ));
        assert!(matches!(
            catch_up(Due, due, d(2026, 12, 11), &[]),
            CatchUp::Skip(_)
        ));
        // A reminder is never hidden by one that comes before it.
        assert_eq!(
            catch_up(Overdue, due, d(2026, 12, 11), &[Due]),
            CatchUp::Send
        );
    }

    #[test]
    fn a_late_coming_up_reminder_counts_the_days_from_when_it_is_sent() {
        let mut due = ReminderDue {
            timer_id: uuid::Uuid::nil(),
            school_id: crate::ids::SchoolId::from_uuid(uuid::Uuid::nil()),
            subject_kind: SubjectKind::Action,
            subject_id: uuid::Uuid::nil(),
            title: crate::text::Text::parse("Model worked examples first").unwrap(),
            reminder: "upcoming_7".into(),
            recipient_id: crate::ids::StaffId::from_uuid(uuid::Uuid::nil()),
            due_date: d(2026, 12, 10),
            local_date: d(2026, 12, 3),
            sent_on: None,
        };
        assert_eq!(due.days_left(), 7);
        due.sent_on = Some(d(2026, 12, 7));
        assert_eq!(due.days_left(), 3);
    }

    #[test]
    fn reminder_keys_round_trip() {
        for kind in [
            ReminderKind::Upcoming { days: 7 },
            ReminderKind::Due,
            ReminderKind::Overdue,
            ReminderKind::Escalation,
            ReminderKind::AwaitingAgreement,
        ] {
            assert_eq!(ReminderKind::parse(&kind.key()), Some(kind));
        }
    }
}

/// What a reminder is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Action,
    Review,
    Meeting,
    Visit,
    /// A planned activity of the school's monitoring year, reminded to whoever leads it.
    Occurrence,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Review => "review",
            Self::Meeting => "meeting",
            Self::Visit => "visit",
            Self::Occurrence => "occurrence",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Action,
            Self::Review,
            Self::Meeting,
            Self::Visit,
            Self::Occurrence,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// The category of the streams reminders are fired into (one stream per timer).
pub const REMINDER_CATEGORY: &str = "reminder";

/// A timer fired: someone is to be reminded. Notifications turns it into messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ReminderEvent {
    ReminderDue(ReminderDue),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderDue {
    pub timer_id: uuid::Uuid,
    pub school_id: crate::ids::SchoolId,
    pub subject_kind: SubjectKind,
    pub subject_id: uuid::Uuid,
    /// What it is about, in words ("Model worked examples first").
    pub title: crate::text::Text,
    /// `ReminderKind::key()`: `upcoming_7`, `due`, `overdue`, `escalation`, `awaiting_agreement`.
    pub reminder: String,
    /// Who is reminded. For an escalation, the owner whose line manager is to be told.
    pub recipient_id: crate::ids::StaffId,
    pub due_date: NaiveDate,
    /// The school-local day it was planned for.
    pub local_date: NaiveDate,
    /// The school-local day it fired, when later than planned (after downtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_on: Option<NaiveDate>,
}

impl crate::decider::DomainEvent for ReminderEvent {
    fn event_type(&self) -> &'static str {
        "ReminderDue"
    }
}

impl ReminderDue {
    pub fn kind(&self) -> Option<ReminderKind> {
        ReminderKind::parse(&self.reminder)
    }

    /// Days from the day it is sent to the due date.
    pub fn days_left(&self) -> i64 {
        (self.due_date - self.sent_on.unwrap_or(self.local_date)).num_days()
    }
}
