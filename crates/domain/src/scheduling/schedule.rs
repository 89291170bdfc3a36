//! A school's year of monitoring as dated occurrences with owners: the plan's activities,
//! each year group's two progress reviews (spaced half a year apart, held by the teachers'
//! nearest line managers), a progress meeting per class after each assessment point, and
//! visits. One stream per school and year, so fairness rules (visit caps) see every visit.
//!
//! Generating is a pure function of the plan, the calendar and the teams. Re-planning after
//! the calendar changes moves what moved and never touches an occurrence already held,
//! cancelled or rescheduled by hand.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decider::{Decider, DomainEvent};
use crate::evidence::{AttachError, Attachment, Attachments, FileName};
use crate::ids::{AttachmentId, SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::scheduling::calendar::{SchoolCalendar, YearCalendar};
use crate::scheduling::checklist::{Checklist, Ticks};
use crate::scheduling::plan::PlannedActivity;
use crate::school_year::AcademicYear;
use crate::text::Text;

pub struct Schedule;

/// The stream of a school's schedule for a year.
pub fn schedule_id(school: SchoolId, year: AcademicYear) -> Uuid {
    Uuid::new_v5(school.as_uuid(), format!("schedule/{year}").as_bytes())
}

/// The teachers of a year group and each one's nearest line manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearGroupTeam {
    pub year_group: Text,
    pub members: Vec<TeamMember>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub teacher: StaffId,
    pub line_manager: StaffId,
}

/// A class (or year group) with its teacher and the leaders at its progress meetings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTeam {
    pub class_group: Text,
    pub teacher: StaffId,
    pub leaders: Vec<StaffId>,
}

/// What the year is generated from, looked up before deciding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub calendar: SchoolCalendar,
    pub activities: Vec<PlannedActivity>,
    pub default_owner: StaffId,
    #[serde(default)]
    pub year_groups: Vec<YearGroupTeam>,
    #[serde(default)]
    pub classes: Vec<ClassTeam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OccurrenceKind {
    Activity {
        key: String,
    },
    ProgressReview {
        year_group: Text,
        reviewee: StaffId,
        round: u8,
    },
    ProgressMeeting {
        class_group: Text,
        assessment_point: Text,
    },
    Visit {
        teacher: StaffId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Uuid>,
    },
}

impl OccurrenceKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Activity { .. } => "activity",
            Self::ProgressReview { .. } => "progress_review",
            Self::ProgressMeeting { .. } => "progress_meeting",
            Self::Visit { .. } => "visit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OccurrenceStatus {
    #[default]
    Planned,
    Held,
    Cancelled,
}

impl OccurrenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Held => "held",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub id: Uuid,
    pub kind: OccurrenceKind,
    pub title: Text,
    /// When it happens, or when its window opens.
    pub date: NaiveDate,
    /// When its window closes (reviews); the same as `date` otherwise.
    pub due: NaiveDate,
    pub owner: StaffId,
    #[serde(default)]
    pub participants: Vec<StaffId>,
    #[serde(default)]
    pub status: OccurrenceStatus,
    /// Moved by hand: re-planning leaves it alone.
    #[serde(default)]
    pub rescheduled: bool,
}

/// What was written down about an occurrence once it happened: the notes or minutes, and
/// who attended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Text>,
    #[serde(default)]
    pub attendees: Vec<StaffId>,
    pub by: StaffId,
}

/// How many visits one teacher may have: per day, per (ISO) week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitCaps {
    pub per_day: u32,
    pub per_week: u32,
}

impl Default for VisitCaps {
    fn default() -> Self {
        Self {
            per_day: 1,
            per_week: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRequest {
    pub request_id: Uuid,
    pub teacher: StaffId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked_as: Option<Uuid>,
}

/// Everything generated from `inputs` for `year`, in date order.
pub fn generate(schedule: Uuid, year: &YearCalendar, inputs: &Inputs) -> Vec<Occurrence> {
    let calendar = &inputs.calendar;
    let id = |key: String| Uuid::new_v5(&schedule, key.as_bytes());
    let text = |value: String| Text::parse_max(&value, 200).ok();
    let mut out = Vec::new();

    // The plan's activities: mid-month (the first working day from the 10th), or a week after
    // each assessment point.
    for activity in &inputs.activities {
        let owner = activity.owner.unwrap_or(inputs.default_owner);
        for month in &activity.months {
            let calendar_year = if *month >= 8 {
                year.academic_year.start_year()
            } else {
                year.academic_year.start_year() + 1
            };
            let Some(mid) = NaiveDate::from_ymd_opt(calendar_year, *month, 10) else {
                continue;
            };
            let date = calendar.working_day_on_or_after(mid);
            out.push(Occurrence {
                id: id(format!("activity/{}/{month}", activity.key)),
                kind: OccurrenceKind::Activity {
                    key: activity.key.clone(),
                },
                title: activity.name.clone(),
                date,
                due: date,
                owner,
                participants: vec![],
                status: OccurrenceStatus::Planned,
                rescheduled: false,
            });
        }
        if activity.after_assessments {
            for point in &year.assessment_points {
                let date = calendar.add_working_days(point.date, 5);
                let Some(title) = text(format!("{} after {}", activity.name, point.name)) else {
                    continue;
                };
                out.push(Occurrence {
                    id: id(format!("activity/{}/{}", activity.key, point.name)),
                    kind: OccurrenceKind::Activity {
                        key: activity.key.clone(),
                    },
                    title,
                    date,
                    due: date,
                    owner,
                    participants: vec![],
                    status: OccurrenceStatus::Planned,
                    rescheduled: false,
                });
            }
        }
    }

    // Two reviews per year group: the teaching year is halved, each half cut into one slice
    // per year group, and year group n takes slice n of each half.
    if let (Some(first), Some(last)) = (year.first_day(), year.last_day()) {
        let span = (last - first).num_days().max(2);
        let groups = i64::try_from(inputs.year_groups.len()).unwrap_or(1).max(1);
        let slice = (span / 2 / groups).max(1);
        for (n, group) in (0i64..).zip(&inputs.year_groups) {
            for round in [1u8, 2] {
                let half_start = if round == 1 { 0 } else { span / 2 };
                let opens = first + chrono::Duration::days(half_start + n * slice);
                let closes = opens + chrono::Duration::days(slice - 1);
                let opens = calendar.working_day_on_or_after(opens);
                let closes = calendar.working_day_on_or_before(closes).max(opens);
                for member in &group.members {
                    let Some(title) = text(format!(
                        "Progress review {round} of 2: {}",
                        group.year_group
                    )) else {
                        continue;
                    };
                    out.push(Occurrence {
                        id: id(format!(
                            "review/{}/{}/{round}",
                            group.year_group, member.teacher
                        )),
                        kind: OccurrenceKind::ProgressReview {
                            year_group: group.year_group.clone(),
                            reviewee: member.teacher,
                            round,
                        },
                        title,
                        date: opens,
                        due: closes,
                        owner: member.line_manager,
                        participants: vec![member.teacher],
                        status: OccurrenceStatus::Planned,
                        rescheduled: false,
                    });
                }
            }
        }
    }

    // A progress meeting per class within a week of each assessment point.
    for class in &inputs.classes {
        for point in &year.assessment_points {
            let date = calendar.add_working_days(point.date, 5);
            let Some(title) = text(format!(
                "Progress meeting: {}, {}",
                class.class_group, point.name
            )) else {
                continue;
            };
            out.push(Occurrence {
                id: id(format!("meeting/{}/{}", class.class_group, point.name)),
                kind: OccurrenceKind::ProgressMeeting {
                    class_group: class.class_group.clone(),
                    assessment_point: point.name.clone(),
                },
                title,
                date,
                due: date,
                owner: class.teacher,
                participants: class.leaders.clone(),
                status: OccurrenceStatus::Planned,
                rescheduled: false,
            });
        }
    }
    out.sort_by(|a, b| (a.date, a.title.as_str()).cmp(&(b.date, b.title.as_str())));
    out
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleCommand {
    Generate {
        school_id: SchoolId,
        academic_year: AcademicYear,
        inputs: Inputs,
    },
    /// Generates again from new inputs (the calendar or plan changed).
    Replan {
        inputs: Inputs,
    },
    Reschedule {
        occurrence: Uuid,
        date: NaiveDate,
        reason: Text,
    },
    Cancel {
        occurrence: Uuid,
        reason: Text,
    },
    MarkHeld {
        occurrence: Uuid,
    },
    RequestVisit {
        request_id: Uuid,
        teacher: StaffId,
        reason: Option<Text>,
    },
    BookVisit {
        occurrence: Uuid,
        visitor: StaffId,
        teacher: StaffId,
        date: NaiveDate,
        caps: VisitCaps,
        request_id: Option<Uuid>,
    },
    /// Evidence of an occurrence (minutes, photos of work): while it is not cancelled.
    Attach {
        occurrence: Uuid,
        attachment: Attachment,
    },
    /// By whoever attached it.
    RemoveAttachment {
        occurrence: Uuid,
        actor: StaffId,
        attachment_id: AttachmentId,
    },
    /// Writes (or rewrites) an occurrence's notes and who attended, while it is not cancelled.
    RecordMinutes {
        occurrence: Uuid,
        minutes: Minutes,
    },
    /// Ticks (or unticks) a line of an activity's checklist, while it is not cancelled.
    /// `lines` is that checklist as the plan has it now, looked up before deciding.
    TickChecklist {
        occurrence: Uuid,
        list: Checklist,
        line: Text,
        ticked: bool,
        by: StaffId,
        lines: Vec<Text>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ScheduleEvent {
    ScheduleGenerated {
        school_id: SchoolId,
        academic_year: AcademicYear,
        teachers: Vec<StaffId>,
        #[serde(default)]
        year_groups: Vec<YearGroupTeam>,
        #[serde(default)]
        classes: Vec<ClassTeam>,
    },
    /// Generated again from changed inputs; the occurrence events that follow say what moved.
    ScheduleReplanned {
        teachers: Vec<StaffId>,
        year_groups: Vec<YearGroupTeam>,
        classes: Vec<ClassTeam>,
    },
    OccurrencePlanned {
        occurrence: Occurrence,
    },
    /// Re-planning moved it (the calendar or plan changed).
    OccurrenceMoved {
        id: Uuid,
        date: NaiveDate,
        due: NaiveDate,
    },
    OccurrenceRescheduled {
        id: Uuid,
        date: NaiveDate,
        reason: Text,
    },
    OccurrenceCancelled {
        id: Uuid,
        reason: Text,
    },
    OccurrenceHeld {
        id: Uuid,
    },
    VisitRequested {
        request: VisitRequest,
    },
    EvidenceAttached {
        occurrence: Uuid,
        attachment: Attachment,
    },
    EvidenceRemoved {
        occurrence: Uuid,
        attachment_id: AttachmentId,
        file_name: FileName,
        by: StaffId,
    },
    ChecklistTicked {
        occurrence: Uuid,
        list: Checklist,
        line: Text,
        ticked: bool,
        by: StaffId,
    },
    MinutesRecorded {
        occurrence: Uuid,
        minutes: Minutes,
    },
}

impl DomainEvent for ScheduleEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::ScheduleGenerated { .. } => "ScheduleGenerated",
            Self::ScheduleReplanned { .. } => "ScheduleReplanned",
            Self::OccurrencePlanned { .. } => "OccurrencePlanned",
            Self::OccurrenceMoved { .. } => "OccurrenceMoved",
            Self::OccurrenceRescheduled { .. } => "OccurrenceRescheduled",
            Self::OccurrenceCancelled { .. } => "OccurrenceCancelled",
            Self::OccurrenceHeld { .. } => "OccurrenceHeld",
            Self::VisitRequested { .. } => "VisitRequested",
            Self::EvidenceAttached { .. } => "EvidenceAttached",
            Self::EvidenceRemoved { .. } => "EvidenceRemoved",
            Self::ChecklistTicked { .. } => "ChecklistTicked",
            Self::MinutesRecorded { .. } => "MinutesRecorded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleRejection {
    #[error("this year has been generated already; re-plan it instead")]
    AlreadyGenerated,
    #[error("generate the year first")]
    NotGenerated,
    #[error("there is no calendar for this academic year")]
    NoCalendar,
    #[error("no such occurrence")]
    NoSuchOccurrence,
    #[error("this occurrence is {0}")]
    NotPlanned(&'static str),
    #[error("{0} is not a working day")]
    NotAWorkingDay(NaiveDate),
    #[error("that teacher already has {count} visit(s) {period}: at most {cap}")]
    VisitCap {
        period: &'static str,
        count: u32,
        cap: u32,
    },
    #[error("a visit is to someone else's classroom")]
    SelfVisit,
    #[error("no open visit request with that id")]
    NoSuchRequest,
    #[error("{0}")]
    Evidence(AttachError),
    #[error("that checklist has no such line")]
    NoSuchChecklistLine,
}

impl Rejection for ScheduleRejection {
    fn kind(&self) -> RejectionKind {
        use ScheduleRejection as R;
        match self {
            R::AlreadyGenerated => RejectionKind::AlreadyExists,
            R::NoSuchOccurrence | R::NoSuchRequest | R::NoSuchChecklistLine => {
                RejectionKind::NotFound
            }
            R::NotGenerated | R::NoCalendar | R::NotPlanned(_) | R::VisitCap { .. } => {
                RejectionKind::FailedPrecondition
            }
            R::NotAWorkingDay(_) | R::SelfVisit => RejectionKind::InvalidArgument,
            R::Evidence(error) => error.kind(),
        }
    }

    fn code(&self) -> &'static str {
        use ScheduleRejection as R;
        match self {
            R::AlreadyGenerated => "schedule.already_generated",
            R::NotGenerated => "schedule.not_generated",
            R::NoCalendar => "schedule.no_calendar",
            R::NoSuchOccurrence => "schedule.no_such_occurrence",
            R::NotPlanned(_) => "schedule.not_planned",
            R::NotAWorkingDay(_) => "schedule.not_a_working_day",
            R::VisitCap { .. } => "schedule.visit_cap",
            R::SelfVisit => "schedule.self_visit",
            R::NoSuchRequest => "schedule.no_such_request",
            R::Evidence(error) => error.code(),
            R::NoSuchChecklistLine => "schedule.no_such_checklist_line",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScheduleState {
    pub id: Option<Uuid>,
    pub school_id: Option<SchoolId>,
    pub academic_year: Option<AcademicYear>,
    /// The teachers the year was generated for (whose visits fairness looks at).
    pub teachers: Vec<StaffId>,
    /// The teams it was generated from, to generate again when the calendar changes.
    pub year_groups: Vec<YearGroupTeam>,
    pub classes: Vec<ClassTeam>,
    pub occurrences: BTreeMap<Uuid, Occurrence>,
    pub requests: Vec<VisitRequest>,
    /// The files on each occurrence that has any.
    pub files: BTreeMap<Uuid, Attachments>,
    pub ticks: Ticks,
    /// The notes and attendance of each occurrence that has any.
    pub minutes: BTreeMap<Uuid, Minutes>,
}

impl ScheduleState {
    /// Visits to `teacher` not cancelled.
    pub fn visits_of(&self, teacher: StaffId) -> impl Iterator<Item = &Occurrence> {
        self.occurrences.values().filter(move |o| {
            o.status != OccurrenceStatus::Cancelled
                && matches!(&o.kind, OccurrenceKind::Visit { teacher: t, .. } if *t == teacher)
        })
    }

    /// Teachers with no visit (planned or held) between `from` and `to`.
    pub fn not_visited(&self, from: NaiveDate, to: NaiveDate) -> Vec<StaffId> {
        self.teachers
            .iter()
            .copied()
            .filter(|teacher| {
                !self
                    .visits_of(*teacher)
                    .any(|v| from <= v.date && v.date <= to)
            })
            .collect()
    }

    /// The occurrence, unless it was cancelled (held ones still take files and ticks).
    fn not_cancelled(&self, id: Uuid) -> Result<&Occurrence, ScheduleRejection> {
        let occurrence = self
            .occurrences
            .get(&id)
            .ok_or(ScheduleRejection::NoSuchOccurrence)?;
        if occurrence.status == OccurrenceStatus::Cancelled {
            return Err(ScheduleRejection::NotPlanned(occurrence.status.as_str()));
        }
        Ok(occurrence)
    }

    fn planned(&self, id: Uuid) -> Result<&Occurrence, ScheduleRejection> {
        let occurrence = self
            .occurrences
            .get(&id)
            .ok_or(ScheduleRejection::NoSuchOccurrence)?;
        if occurrence.status != OccurrenceStatus::Planned {
            return Err(ScheduleRejection::NotPlanned(occurrence.status.as_str()));
        }
        Ok(occurrence)
    }
}

fn teachers_of(inputs: &Inputs) -> Vec<StaffId> {
    let mut teachers: Vec<StaffId> = inputs
        .year_groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.teacher))
        .chain(inputs.classes.iter().map(|c| c.teacher))
        .collect();
    teachers.sort();
    teachers.dedup();
    teachers
}

impl Decider for Schedule {
    const CATEGORY: &'static str = "schedule";
    type State = ScheduleState;
    type Command = ScheduleCommand;
    type Event = ScheduleEvent;
    type Rejection = ScheduleRejection;

    fn decide(
        state: &ScheduleState,
        command: &ScheduleCommand,
    ) -> Result<Vec<ScheduleEvent>, ScheduleRejection> {
        use ScheduleCommand as C;
        use ScheduleEvent as E;
        use ScheduleRejection as R;
        match command {
            C::Generate {
                school_id,
                academic_year,
                inputs,
            } => {
                if state.id.is_some() {
                    return Err(R::AlreadyGenerated);
                }
                let year = inputs.calendar.year(*academic_year).ok_or(R::NoCalendar)?;
                let id = schedule_id(*school_id, *academic_year);
                let mut events = vec![E::ScheduleGenerated {
                    school_id: *school_id,
                    academic_year: *academic_year,
                    teachers: teachers_of(inputs),
                    year_groups: inputs.year_groups.clone(),
                    classes: inputs.classes.clone(),
                }];
                events.extend(
                    generate(id, year, inputs)
                        .into_iter()
                        .map(|occurrence| E::OccurrencePlanned { occurrence }),
                );
                Ok(events)
            }
            C::Replan { inputs } => {
                let (Some(id), Some(academic_year)) = (state.id, state.academic_year) else {
                    return Err(R::NotGenerated);
                };
                let year = inputs.calendar.year(academic_year).ok_or(R::NoCalendar)?;
                let fresh = generate(id, year, inputs);
                let mut events = vec![E::ScheduleReplanned {
                    teachers: teachers_of(inputs),
                    year_groups: inputs.year_groups.clone(),
                    classes: inputs.classes.clone(),
                }];
                for occurrence in &fresh {
                    match state.occurrences.get(&occurrence.id) {
                        None => events.push(E::OccurrencePlanned {
                            occurrence: occurrence.clone(),
                        }),
                        Some(existing)
                            if existing.status == OccurrenceStatus::Planned
                                && !existing.rescheduled
                                && (existing.date, existing.due)
                                    != (occurrence.date, occurrence.due) =>
                        {
                            events.push(E::OccurrenceMoved {
                                id: occurrence.id,
                                date: occurrence.date,
                                due: occurrence.due,
                            });
                        }
                        Some(_) => {}
                    }
                }
                let reason = Text::parse("No longer in the plan").map_err(|_| R::NotGenerated)?;
                for existing in state.occurrences.values() {
                    let generated = !matches!(existing.kind, OccurrenceKind::Visit { .. });
                    if generated
                        && existing.status == OccurrenceStatus::Planned
                        && !fresh.iter().any(|o| o.id == existing.id)
                    {
                        events.push(E::OccurrenceCancelled {
                            id: existing.id,
                            reason: reason.clone(),
                        });
                    }
                }
                Ok(events)
            }
            C::Reschedule {
                occurrence,
                date,
                reason,
            } => {
                state.planned(*occurrence)?;
                Ok(vec![E::OccurrenceRescheduled {
                    id: *occurrence,
                    date: *date,
                    reason: reason.clone(),
                }])
            }
            C::Cancel { occurrence, reason } => {
                state.planned(*occurrence)?;
                Ok(vec![E::OccurrenceCancelled {
                    id: *occurrence,
                    reason: reason.clone(),
                }])
            }
            C::MarkHeld { occurrence } => {
                state.planned(*occurrence)?;
                Ok(vec![E::OccurrenceHeld { id: *occurrence }])
            }
            C::Attach {
                occurrence,
                attachment,
            } => {
                state.not_cancelled(*occurrence)?;
                if let Some(files) = state.files.get(occurrence) {
                    files.can_attach().map_err(R::Evidence)?;
                }
                Ok(vec![E::EvidenceAttached {
                    occurrence: *occurrence,
                    attachment: attachment.clone(),
                }])
            }
            C::RemoveAttachment {
                occurrence,
                actor,
                attachment_id,
            } => {
                let file_name = state
                    .files
                    .get(occurrence)
                    .ok_or(R::Evidence(AttachError::NoSuchFile))?
                    .can_remove(*actor, *attachment_id)
                    .map_err(R::Evidence)?;
                Ok(vec![E::EvidenceRemoved {
                    occurrence: *occurrence,
                    attachment_id: *attachment_id,
                    file_name,
                    by: *actor,
                }])
            }
            C::RecordMinutes {
                occurrence,
                minutes,
            } => {
                state.not_cancelled(*occurrence)?;
                if state.minutes.get(occurrence) == Some(minutes) {
                    return Ok(vec![]);
                }
                Ok(vec![E::MinutesRecorded {
                    occurrence: *occurrence,
                    minutes: minutes.clone(),
                }])
            }
            C::TickChecklist {
                occurrence,
                list,
                line,
                ticked,
                by,
                lines,
            } => {
                state.not_cancelled(*occurrence)?;
                let changes = state
                    .ticks
                    .changes(*occurrence, *list, line, *ticked, lines)
                    .map_err(|_| R::NoSuchChecklistLine)?;
                Ok(if changes {
                    vec![E::ChecklistTicked {
                        occurrence: *occurrence,
                        list: *list,
                        line: line.clone(),
                        ticked: *ticked,
                        by: *by,
                    }]
                } else {
                    vec![]
                })
            }
            C::RequestVisit {
                request_id,
                teacher,
                reason,
            } => {
                state.id.ok_or(R::NotGenerated)?;
                if state.requests.iter().any(|r| r.request_id == *request_id) {
                    return Ok(vec![]);
                }
                Ok(vec![E::VisitRequested {
                    request: VisitRequest {
                        request_id: *request_id,
                        teacher: *teacher,
                        reason: reason.clone(),
                        booked_as: None,
                    },
                }])
            }
            C::BookVisit {
                occurrence,
                visitor,
                teacher,
                date,
                caps,
                request_id,
            } => {
                state.id.ok_or(R::NotGenerated)?;
                if visitor == teacher {
                    return Err(R::SelfVisit);
                }
                if let Some(request) = request_id
                    && !state.requests.iter().any(|r| {
                        r.request_id == *request && r.teacher == *teacher && r.booked_as.is_none()
                    })
                {
                    return Err(R::NoSuchRequest);
                }
                let same_day = u32::try_from(
                    state
                        .visits_of(*teacher)
                        .filter(|v| v.date == *date)
                        .count(),
                )
                .unwrap_or(u32::MAX);
                if same_day >= caps.per_day {
                    return Err(R::VisitCap {
                        period: "that day",
                        count: same_day,
                        cap: caps.per_day,
                    });
                }
                let week = date.iso_week();
                let same_week = u32::try_from(
                    state
                        .visits_of(*teacher)
                        .filter(|v| v.date.iso_week() == week)
                        .count(),
                )
                .unwrap_or(u32::MAX);
                if same_week >= caps.per_week {
                    return Err(R::VisitCap {
                        period: "that week",
                        count: same_week,
                        cap: caps.per_week,
                    });
                }
                let title = Text::parse("Classroom visit").map_err(|_| R::NotGenerated)?;
                Ok(vec![E::OccurrencePlanned {
                    occurrence: Occurrence {
                        id: *occurrence,
                        kind: OccurrenceKind::Visit {
                            teacher: *teacher,
                            request_id: *request_id,
                        },
                        title,
                        date: *date,
                        due: *date,
                        owner: *visitor,
                        participants: vec![*teacher],
                        status: OccurrenceStatus::Planned,
                        rescheduled: false,
                    },
                }])
            }
        }
    }

    fn evolve(mut state: ScheduleState, event: &ScheduleEvent) -> ScheduleState {
        use ScheduleEvent as E;
        match event {
            E::ScheduleGenerated {
                school_id,
                academic_year,
                teachers,
                year_groups,
                classes,
            } => {
                state.id = Some(schedule_id(*school_id, *academic_year));
                state.school_id = Some(*school_id);
                state.academic_year = Some(*academic_year);
                state.teachers = teachers.clone();
                state.year_groups = year_groups.clone();
                state.classes = classes.clone();
            }
            E::ScheduleReplanned {
                teachers,
                year_groups,
                classes,
            } => {
                state.teachers = teachers.clone();
                state.year_groups = year_groups.clone();
                state.classes = classes.clone();
            }
            E::OccurrencePlanned { occurrence } => {
                if let OccurrenceKind::Visit {
                    request_id: Some(request),
                    ..
                } = &occurrence.kind
                    && let Some(request) =
                        state.requests.iter_mut().find(|r| r.request_id == *request)
                {
                    request.booked_as = Some(occurrence.id);
                }
                state.occurrences.insert(occurrence.id, occurrence.clone());
            }
            E::OccurrenceMoved { id, date, due } => {
                if let Some(o) = state.occurrences.get_mut(id) {
                    o.date = *date;
                    o.due = *due;
                }
            }
            E::OccurrenceRescheduled { id, date, .. } => {
                if let Some(o) = state.occurrences.get_mut(id) {
                    let length = (o.due - o.date).num_days().max(0);
                    o.date = *date;
                    o.due = date
                        .checked_add_days(Days::new(length.unsigned_abs()))
                        .unwrap_or(*date);
                    o.rescheduled = true;
                }
            }
            E::OccurrenceCancelled { id, .. } => {
                if let Some(o) = state.occurrences.get_mut(id) {
                    o.status = OccurrenceStatus::Cancelled;
                }
            }
            E::OccurrenceHeld { id } => {
                if let Some(o) = state.occurrences.get_mut(id) {
                    o.status = OccurrenceStatus::Held;
                }
            }
            E::VisitRequested { request } => state.requests.push(request.clone()),
            E::EvidenceAttached {
                occurrence,
                attachment,
            } => state
                .files
                .entry(*occurrence)
                .or_default()
                .attached(attachment),
            E::EvidenceRemoved {
                occurrence,
                attachment_id,
                ..
            } => {
                if let Some(files) = state.files.get_mut(occurrence) {
                    files.removed(*attachment_id);
                    if files.is_empty() {
                        state.files.remove(occurrence);
                    }
                }
            }
            E::ChecklistTicked {
                occurrence,
                list,
                line,
                ticked,
                ..
            } => state.ticks.set(*occurrence, *list, line, *ticked),
            E::MinutesRecorded {
                occurrence,
                minutes,
            } => {
                state.minutes.insert(*occurrence, minutes.clone());
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::calendar::tests::{calendar, d, year};
    use crate::scheduling::plan::default_activities;
    use crate::testing::given;

    fn staff(n: u8) -> StaffId {
        StaffId::from_uuid(Uuid::from_bytes([n; 16]))
    }

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    fn inputs() -> Inputs {
        Inputs {
            calendar: calendar(),
            activities: default_activities(),
            default_owner: staff(1),
            year_groups: vec![
                YearGroupTeam {
                    year_group: text("Year 7"),
                    members: vec![TeamMember {
                        teacher: staff(10),
                        line_manager: staff(2),
                    }],
                },
                YearGroupTeam {
                    year_group: text("Year 8"),
                    members: vec![TeamMember {
                        teacher: staff(11),
                        line_manager: staff(3),
                    }],
                },
            ],
            classes: vec![ClassTeam {
                class_group: text("7B"),
                teacher: staff(10),
                leaders: vec![staff(2)],
            }],
        }
    }

    fn school() -> SchoolId {
        SchoolId::from_uuid(Uuid::nil())
    }

    fn generated() -> Vec<ScheduleEvent> {
        given::<Schedule>([])
            .when(ScheduleCommand::Generate {
                school_id: school(),
                academic_year: year().academic_year,
                inputs: inputs(),
            })
            .outcome()
            .unwrap()
    }

    fn occurrences(events: &[ScheduleEvent]) -> Vec<Occurrence> {
        events
            .iter()
            .filter_map(|e| match e {
                ScheduleEvent::OccurrencePlanned { occurrence } => Some(occurrence.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_occurrence_falls_on_a_working_day_with_an_owner() {
        let all = occurrences(&generated());
        let c = calendar();
        assert!(
            all.iter()
                .all(|o| c.is_working_day(o.date) && c.is_working_day(o.due)),
            "{all:?}"
        );
        // Monthly attendance overviews: eleven, from September to July.
        let attendance = all
            .iter()
            .filter(|o| {
                o.kind
                    == OccurrenceKind::Activity {
                        key: "attendance_overview".into(),
                    }
            })
            .count();
        assert_eq!(attendance, 11);
        // A progress meeting for 7B after each of the three assessment points.
        let meetings: Vec<&Occurrence> = all
            .iter()
            .filter(|o| matches!(o.kind, OccurrenceKind::ProgressMeeting { .. }))
            .collect();
        assert_eq!(meetings.len(), 3);
        assert_eq!(
            meetings[0].date,
            d(2026, 12, 11),
            "five working days after 4 December"
        );
        assert_eq!(meetings[0].owner, staff(10));
    }

    #[test]
    fn each_year_group_has_two_reviews_half_a_year_apart_with_its_line_manager() {
        let all = occurrences(&generated());
        let reviews: Vec<&Occurrence> = all
            .iter()
            .filter(|o| matches!(o.kind, OccurrenceKind::ProgressReview { .. }))
            .collect();
        assert_eq!(reviews.len(), 4);
        for group in ["Year 7", "Year 8"] {
            let mine: Vec<&&Occurrence> =
                reviews.iter().filter(|o| matches!(&o.kind, OccurrenceKind::ProgressReview { year_group, .. } if year_group.as_str() == group)).collect();
            assert_eq!(mine.len(), 2);
            assert!(
                (mine[1].date - mine[0].date).num_days() > 120,
                "spaced apart: {mine:?}"
            );
            assert!(mine[0].due >= mine[0].date);
        }
        let year7 = reviews.iter().find(|o| matches!(&o.kind, OccurrenceKind::ProgressReview { year_group, round: 1, .. } if year_group.as_str() == "Year 7")).unwrap();
        let year8 = reviews.iter().find(|o| matches!(&o.kind, OccurrenceKind::ProgressReview { year_group, round: 1, .. } if year_group.as_str() == "Year 8")).unwrap();
        assert_eq!(year7.owner, staff(2));
        assert!(
            year7.due < year8.date,
            "year groups are spread through the year"
        );
    }

    #[test]
    fn replanning_moves_only_what_was_not_held_or_moved_by_hand() {
        let history = generated();
        let all = occurrences(&history);
        let meetings: Vec<&Occurrence> = all
            .iter()
            .filter(|o| matches!(o.kind, OccurrenceKind::ProgressMeeting { .. }))
            .collect();
        let (held, moved_by_hand, free) = (meetings[0].id, meetings[1].id, meetings[2].id);
        let mut history = history.clone();
        history.push(ScheduleEvent::OccurrenceHeld { id: held });
        history.push(ScheduleEvent::OccurrenceRescheduled {
            id: moved_by_hand,
            date: d(2027, 3, 22),
            reason: text("Parents' evening"),
        });
        // Every assessment point moves a week later.
        let mut changed = inputs();
        for point in &mut changed.calendar.years[0].assessment_points {
            point.date += chrono::Duration::days(7);
        }
        let events = given::<Schedule>(history)
            .when(ScheduleCommand::Replan { inputs: changed })
            .outcome()
            .unwrap();
        let moved: Vec<Uuid> = events
            .iter()
            .filter_map(|e| match e {
                ScheduleEvent::OccurrenceMoved { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        assert!(moved.contains(&free));
        assert!(!moved.contains(&held) && !moved.contains(&moved_by_hand));
    }

    #[test]
    fn an_occurrence_takes_files_until_cancelled_and_only_their_uploader_removes_them() {
        use crate::evidence::MediaType;
        let history = generated();
        let all = occurrences(&history);
        let (first, second) = (all[0].id, all[1].id);
        let file = Attachment {
            attachment_id: AttachmentId::from_uuid(Uuid::from_bytes([5; 16])),
            file_name: FileName::new("minutes.pdf", MediaType::Pdf),
            media_type: MediaType::Pdf,
            size_bytes: 10,
            sha256: String::new(),
            by: staff(10),
        };
        let attached = ScheduleEvent::EvidenceAttached {
            occurrence: first,
            attachment: file.clone(),
        };
        let state = given::<Schedule>(history.clone())
            .when(ScheduleCommand::Attach {
                occurrence: first,
                attachment: file.clone(),
            })
            .then([attached.clone()]);
        assert_eq!(state.files[&first].iter().count(), 1);
        let mut with_file = history.clone();
        with_file.push(attached);
        let remove = |by: u8| ScheduleCommand::RemoveAttachment {
            occurrence: first,
            actor: staff(by),
            attachment_id: file.attachment_id,
        };
        given::<Schedule>(with_file.clone())
            .when(remove(11))
            .then_rejected(ScheduleRejection::Evidence(AttachError::NotYours));
        let state =
            given::<Schedule>(with_file)
                .when(remove(10))
                .then([ScheduleEvent::EvidenceRemoved {
                    occurrence: first,
                    attachment_id: file.attachment_id,
                    file_name: file.file_name.clone(),
                    by: staff(10),
                }]);
        assert!(state.files.is_empty());
        let mut cancelled = history;
        cancelled.push(ScheduleEvent::OccurrenceCancelled {
            id: second,
            reason: text("Snow"),
        });
        given::<Schedule>(cancelled)
            .when(ScheduleCommand::Attach {
                occurrence: second,
                attachment: file,
            })
            .then_rejected(ScheduleRejection::NotPlanned("cancelled"));
    }

    #[test]
    fn a_checklist_line_is_ticked_once_by_name_until_the_occurrence_is_cancelled() {
        let history = generated();
        let first = occurrences(&history)[0].id;
        let lines = vec![text("Agree focus ahead of visit"), text("Share feedback")];
        let tick = |line: &str, ticked: bool| ScheduleCommand::TickChecklist {
            occurrence: first,
            list: Checklist::HeadTeacher,
            line: text(line),
            ticked,
            by: staff(1),
            lines: lines.clone(),
        };
        let ticked = ScheduleEvent::ChecklistTicked {
            occurrence: first,
            list: Checklist::HeadTeacher,
            line: text("Share feedback"),
            ticked: true,
            by: staff(1),
        };
        let state = given::<Schedule>(history.clone())
            .when(tick("Share feedback", true))
            .then([ticked.clone()]);
        assert!(
            state
                .ticks
                .is_ticked(first, Checklist::HeadTeacher, &text("Share feedback"))
        );
        let mut with_tick = history.clone();
        with_tick.push(ticked);
        // Ticking again changes nothing; unticking is recorded.
        given::<Schedule>(with_tick.clone())
            .when(tick("Share feedback", true))
            .then([]);
        given::<Schedule>(history.clone())
            .when(tick("Share feedback", false))
            .then([]);
        given::<Schedule>(with_tick.clone())
            .when(tick("Share feedback", false))
            .then([ScheduleEvent::ChecklistTicked {
                occurrence: first,
                list: Checklist::HeadTeacher,
                line: text("Share feedback"),
                ticked: false,
                by: staff(1),
            }]);
        given::<Schedule>(history.clone())
            .when(tick("Mark the books", true))
            .then_rejected(ScheduleRejection::NoSuchChecklistLine);
        let mut cancelled = with_tick;
        cancelled.push(ScheduleEvent::OccurrenceCancelled {
            id: first,
            reason: text("Snow"),
        });
        given::<Schedule>(cancelled)
            .when(tick("Agree focus ahead of visit", true))
            .then_rejected(ScheduleRejection::NotPlanned("cancelled"));
        given::<Schedule>(history)
            .when(ScheduleCommand::TickChecklist {
                occurrence: Uuid::nil(),
                list: Checklist::ClassTeacher,
                line: text("Share feedback"),
                ticked: true,
                by: staff(10),
                lines,
            })
            .then_rejected(ScheduleRejection::NoSuchOccurrence);
    }

    #[test]
    fn minutes_are_written_again_until_the_occurrence_is_cancelled() {
        let history = generated();
        let first = occurrences(&history)[0].id;
        let minutes = Minutes {
            notes: Some(text("Reading records checked; two classes to follow up")),
            attendees: vec![staff(1), staff(10)],
            by: staff(1),
        };
        let record = |minutes: &Minutes| ScheduleCommand::RecordMinutes {
            occurrence: first,
            minutes: minutes.clone(),
        };
        let recorded = ScheduleEvent::MinutesRecorded {
            occurrence: first,
            minutes: minutes.clone(),
        };
        let state = given::<Schedule>(history.clone())
            .when(record(&minutes))
            .then([recorded.clone()]);
        assert_eq!(state.minutes[&first], minutes);
        let mut with_minutes = history.clone();
        with_minutes.push(recorded);
        // The same again changes nothing; anything else replaces them.
        given::<Schedule>(with_minutes.clone())
            .when(record(&minutes))
            .then([]);
        let fewer = Minutes {
            attendees: vec![staff(1)],
            ..minutes.clone()
        };
        let state = given::<Schedule>(with_minutes.clone())
            .when(record(&fewer))
            .then([ScheduleEvent::MinutesRecorded {
                occurrence: first,
                minutes: fewer.clone(),
            }]);
        assert_eq!(state.minutes[&first], fewer);
        with_minutes.push(ScheduleEvent::OccurrenceCancelled {
            id: first,
            reason: text("Snow"),
        });
        given::<Schedule>(with_minutes)
            .when(record(&minutes))
            .then_rejected(ScheduleRejection::NotPlanned("cancelled"));
    }

    #[test]
    fn visit_caps_per_day_and_week() {
        let history = generated();
        let teacher = staff(10);
        let book = |date, id: u8| ScheduleCommand::BookVisit {
            occurrence: Uuid::from_bytes([id; 16]),
            visitor: staff(2),
            teacher,
            date,
            caps: VisitCaps::default(),
            request_id: None,
        };
        let first = given::<Schedule>(history.clone())
            .when(book(d(2026, 11, 23), 1))
            .outcome()
            .unwrap();
        let mut with_one = history.clone();
        with_one.extend(first);
        given::<Schedule>(with_one.clone())
            .when(book(d(2026, 11, 23), 2))
            .then_rejected(ScheduleRejection::VisitCap {
                period: "that day",
                count: 1,
                cap: 1,
            });
        let second = given::<Schedule>(with_one.clone())
            .when(book(d(2026, 11, 25), 2))
            .outcome()
            .unwrap();
        let mut with_two = with_one;
        with_two.extend(second);
        given::<Schedule>(with_two.clone())
            .when(book(d(2026, 11, 27), 3))
            .then_rejected(ScheduleRejection::VisitCap {
                period: "that week",
                count: 2,
                cap: 2,
            });
        given::<Schedule>(with_two)
            .when(book(d(2026, 11, 30), 3))
            .outcome()
            .unwrap();
    }

    #[test]
    fn a_teacher_may_ask_for_a_visit_and_the_unvisited_are_known() {
        let history = generated();
        let state = Schedule::fold(history.iter());
        assert_eq!(
            state.not_visited(d(2026, 9, 2), d(2026, 12, 18)),
            vec![staff(10), staff(11)]
        );
        let request = Uuid::from_bytes([9; 16]);
        let asked = given::<Schedule>(history.clone())
            .when(ScheduleCommand::RequestVisit {
                request_id: request,
                teacher: staff(11),
                reason: Some(text("Trying a new routine")),
            })
            .outcome()
            .unwrap();
        let mut history = history;
        history.extend(asked);
        let booked = given::<Schedule>(history.clone())
            .when(ScheduleCommand::BookVisit {
                occurrence: Uuid::from_bytes([8; 16]),
                visitor: staff(3),
                teacher: staff(11),
                date: d(2026, 12, 1),
                caps: VisitCaps::default(),
                request_id: Some(request),
            })
            .outcome()
            .unwrap();
        history.extend(booked);
        let state = Schedule::fold(history.iter());
        assert_eq!(state.requests[0].booked_as, Some(Uuid::from_bytes([8; 16])));
        assert_eq!(
            state.not_visited(d(2026, 9, 2), d(2026, 12, 18)),
            vec![staff(10)]
        );
    }
}
