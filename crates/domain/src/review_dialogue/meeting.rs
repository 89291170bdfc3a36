//! The progress (class attainment and progress, CAP) meeting after an assessment point: the
//! teacher and the relevant leaders. Analysis is recorded before the meeting; the meeting
//! starts with the previous meeting's actions, each given an outcome, and only then agrees
//! new ones.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agreed::{
    ActionId, ActionOutcomesAgreed, ActionsAgreed, AgreedAction, AgreedOutcome, OriginKind, Outcome,
};
use crate::decider::{Decider, DomainEvent};
use crate::evidence::{AttachError, Attachment, Attachments, FileName};
use crate::ids::{AttachmentId, SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::review_dialogue::review::NextStep;
use crate::school_year::AcademicYear;
use crate::text::Text;

pub type MeetingId = Uuid;

pub struct Meeting;

/// A learner as a meeting may name them: an MIS id or initials, never a full name unless the
/// trust allows names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LearnerRef(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnerRefError {
    #[error("a learner reference is required")]
    Empty,
    #[error("a learner reference is at most 40 characters")]
    TooLong,
    #[error("use initials or an MIS id, not a name: this trust does not record pupils' names")]
    LooksLikeAName,
    #[error("a learner reference has letters, digits, '.', '-' and '_' only")]
    BadCharacter,
}

impl LearnerRef {
    pub fn parse(value: &str, names_allowed: bool) -> Result<Self, LearnerRefError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(LearnerRefError::Empty);
        }
        if value.chars().count() > 40 {
            return Err(LearnerRefError::TooLong);
        }
        if names_allowed {
            if value.chars().any(char::is_control) {
                return Err(LearnerRefError::BadCharacter);
            }
            return Ok(Self(value.to_owned()));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(LearnerRefError::LooksLikeAName);
        }
        if !value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(LearnerRefError::BadCharacter);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerNote {
    pub learner: LearnerRef,
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupNote {
    pub group: Text,
    pub note: Text,
}

/// Pre-meeting analysis: every part optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Analysis {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strengths: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas_of_focus: Option<Text>,
    #[serde(default)]
    pub groups: Vec<GroupNote>,
    #[serde(default)]
    pub learners: Vec<LearnerNote>,
}

/// An action from the previous meeting, as action tracking reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousAction {
    pub action_id: ActionId,
    pub description: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscussionLevel {
    Class,
    Group,
    Learner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adaptation {
    Teaching,
    Curriculum,
    TargetedSupport,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discussion {
    pub level: DiscussionLevel,
    /// The group, or the learner reference, the note is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<Text>,
    pub note: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<Adaptation>,
    /// Research behind a proposed intervention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub research: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleMeeting {
    pub meeting_id: MeetingId,
    pub school_id: SchoolId,
    pub academic_year: AcademicYear,
    /// E.g. "Autumn assessment".
    pub assessment_point: Text,
    pub teacher: StaffId,
    /// The class or year group discussed, e.g. "7B".
    pub class_group: Text,
    pub leaders: Vec<StaffId>,
    pub date: NaiveDate,
    /// The last meeting of the same teacher and class, looked up before deciding.
    pub previous_meeting: Option<MeetingId>,
    /// The planned occurrence of the school's year this meeting holds, if scheduled from one.
    pub occurrence: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeetingCommand {
    Schedule(ScheduleMeeting),
    RecordAnalysis {
        actor: StaffId,
        analysis: Analysis,
    },
    /// Opens the meeting with the previous meeting's open actions (asked of action tracking).
    Open {
        actor: StaffId,
        previous_actions: Vec<PreviousAction>,
    },
    ReviewPreviousAction {
        actor: StaffId,
        action_id: ActionId,
        outcome: Outcome,
    },
    NoteDiscussion {
        actor: StaffId,
        discussion: Discussion,
    },
    /// Ends the meeting, agreeing the new actions.
    Close {
        actor: StaffId,
        actions: Vec<NextStep>,
    },
    Reschedule {
        actor: StaffId,
        date: NaiveDate,
        reason: Text,
    },
    Cancel {
        actor: StaffId,
        reason: Text,
    },
    /// Anyone in the meeting attaches a file as evidence (data, minutes), until it closes.
    Attach {
        actor: StaffId,
        attachment: Attachment,
    },
    /// Whoever attached a file removes it, until the meeting closes.
    RemoveAttachment {
        actor: StaffId,
        attachment_id: AttachmentId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MeetingEvent {
    MeetingScheduled {
        meeting_id: MeetingId,
        school_id: SchoolId,
        academic_year: AcademicYear,
        assessment_point: Text,
        teacher_id: StaffId,
        class_group: Text,
        leader_ids: Vec<StaffId>,
        date: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_meeting_id: Option<MeetingId>,
        /// The planned occurrence it holds (scheduling marks it held when the meeting closes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurrence: Option<Uuid>,
    },
    AnalysisRecorded {
        meeting_id: MeetingId,
        analysis: Analysis,
    },
    MeetingOpened {
        meeting_id: MeetingId,
        previous_actions: Vec<PreviousAction>,
    },
    PreviousActionReviewed {
        meeting_id: MeetingId,
        action_id: ActionId,
        #[serde(flatten)]
        outcome: Outcome,
    },
    DiscussionNoted {
        meeting_id: MeetingId,
        discussion: Discussion,
    },
    /// The outcomes of the previous actions, for action tracking.
    ActionOutcomesAgreed(ActionOutcomesAgreed),
    /// The new actions, for action tracking.
    ActionsAgreed(ActionsAgreed),
    MeetingClosed {
        meeting_id: MeetingId,
    },
    MeetingRescheduled {
        meeting_id: MeetingId,
        date: NaiveDate,
        reason: Text,
    },
    MeetingCancelled {
        meeting_id: MeetingId,
        reason: Text,
    },
    EvidenceAttached {
        meeting_id: MeetingId,
        attachment: Attachment,
    },
    EvidenceRemoved {
        meeting_id: MeetingId,
        attachment_id: AttachmentId,
        file_name: FileName,
        by: StaffId,
    },
}

impl DomainEvent for MeetingEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::MeetingScheduled { .. } => "MeetingScheduled",
            Self::AnalysisRecorded { .. } => "AnalysisRecorded",
            Self::MeetingOpened { .. } => "MeetingOpened",
            Self::PreviousActionReviewed { .. } => "PreviousActionReviewed",
            Self::DiscussionNoted { .. } => "DiscussionNoted",
            Self::ActionOutcomesAgreed(_) => crate::agreed::ACTION_OUTCOMES_AGREED,
            Self::ActionsAgreed(_) => crate::agreed::ACTIONS_AGREED,
            Self::MeetingClosed { .. } => "MeetingClosed",
            Self::MeetingRescheduled { .. } => "MeetingRescheduled",
            Self::MeetingCancelled { .. } => "MeetingCancelled",
            Self::EvidenceAttached { .. } => "EvidenceAttached",
            Self::EvidenceRemoved { .. } => "EvidenceRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingRejection {
    #[error("no such meeting")]
    NotFound,
    #[error("this meeting is already scheduled")]
    AlreadyScheduled,
    #[error("a progress meeting needs at least one leader besides the teacher")]
    NoLeaders,
    #[error("only the teacher and the leaders of this meeting take part")]
    NotAParty,
    #[error("the analysis is done before the meeting starts")]
    AlreadyOpened,
    #[error("the meeting has not started: open it with the previous meeting's actions first")]
    NotOpened,
    #[error("that action is not one of the previous meeting's")]
    NotAPreviousAction,
    #[error(
        "every previous action needs an outcome before new actions are agreed ({0} still to review)"
    )]
    PreviousActionsUnreviewed(usize),
    #[error("the meeting is closed")]
    Closed,
    #[error("the meeting is cancelled")]
    Cancelled,
    #[error("{0}")]
    Evidence(AttachError),
}

impl Rejection for MeetingRejection {
    fn kind(&self) -> RejectionKind {
        use MeetingRejection as R;
        match self {
            R::NotFound => RejectionKind::NotFound,
            R::AlreadyScheduled => RejectionKind::AlreadyExists,
            R::NoLeaders | R::NotAPreviousAction => RejectionKind::InvalidArgument,
            R::NotAParty => RejectionKind::PermissionDenied,
            R::AlreadyOpened
            | R::NotOpened
            | R::PreviousActionsUnreviewed(_)
            | R::Closed
            | R::Cancelled => RejectionKind::FailedPrecondition,
            R::Evidence(error) => error.kind(),
        }
    }

    fn code(&self) -> &'static str {
        use MeetingRejection as R;
        match self {
            R::NotFound => "meeting.not_found",
            R::AlreadyScheduled => "meeting.already_scheduled",
            R::NoLeaders => "meeting.no_leaders",
            R::NotAParty => "meeting.not_a_party",
            R::AlreadyOpened => "meeting.already_opened",
            R::NotOpened => "meeting.not_opened",
            R::NotAPreviousAction => "meeting.not_a_previous_action",
            R::PreviousActionsUnreviewed(_) => "meeting.previous_actions_unreviewed",
            R::Closed => "meeting.closed",
            R::Cancelled => "meeting.cancelled",
            R::Evidence(error) => error.code(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    #[default]
    Scheduled,
    Open,
    Closed,
    Cancelled,
}

impl MeetingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedAction {
    pub action: PreviousAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// The whole meeting record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MeetingState {
    pub meeting_id: Option<MeetingId>,
    pub school_id: Option<SchoolId>,
    pub academic_year: Option<AcademicYear>,
    pub assessment_point: Option<Text>,
    pub teacher: Option<StaffId>,
    pub class_group: Option<Text>,
    pub leaders: Vec<StaffId>,
    pub date: Option<NaiveDate>,
    pub previous_meeting: Option<MeetingId>,
    /// The planned occurrence it holds.
    pub occurrence: Option<Uuid>,
    pub status: MeetingStatus,
    pub analysis: Option<Analysis>,
    pub previous_actions: Vec<ReviewedAction>,
    pub discussion: Vec<Discussion>,
    pub agreed_actions: Vec<AgreedAction>,
    pub cancel_reason: Option<Text>,
    /// Files attached as evidence.
    pub attachments: Attachments,
}

impl MeetingState {
    fn check_party(&self, actor: StaffId) -> Result<MeetingId, MeetingRejection> {
        let id = self.meeting_id.ok_or(MeetingRejection::NotFound)?;
        if self.teacher == Some(actor) || self.leaders.contains(&actor) {
            Ok(id)
        } else {
            Err(MeetingRejection::NotAParty)
        }
    }

    fn live(&self, actor: StaffId) -> Result<MeetingId, MeetingRejection> {
        let id = self.check_party(actor)?;
        match self.status {
            MeetingStatus::Closed => Err(MeetingRejection::Closed),
            MeetingStatus::Cancelled => Err(MeetingRejection::Cancelled),
            _ => Ok(id),
        }
    }

    fn opened(&self, actor: StaffId) -> Result<MeetingId, MeetingRejection> {
        let id = self.live(actor)?;
        if self.status != MeetingStatus::Open {
            return Err(MeetingRejection::NotOpened);
        }
        Ok(id)
    }

    /// Previous actions still waiting for an outcome.
    pub fn unreviewed(&self) -> usize {
        self.previous_actions
            .iter()
            .filter(|a| a.outcome.is_none())
            .count()
    }
}

impl Decider for Meeting {
    const CATEGORY: &'static str = "meeting";
    type State = MeetingState;
    type Command = MeetingCommand;
    type Event = MeetingEvent;
    type Rejection = MeetingRejection;

    fn decide(
        state: &MeetingState,
        command: &MeetingCommand,
    ) -> Result<Vec<MeetingEvent>, MeetingRejection> {
        use MeetingCommand as C;
        use MeetingEvent as E;
        use MeetingRejection as R;
        match command {
            C::Schedule(schedule) => {
                if state.meeting_id.is_some() {
                    return Err(R::AlreadyScheduled);
                }
                let leaders: Vec<StaffId> = schedule
                    .leaders
                    .iter()
                    .copied()
                    .filter(|leader| *leader != schedule.teacher)
                    .fold(Vec::new(), |mut all, leader| {
                        if !all.contains(&leader) {
                            all.push(leader);
                        }
                        all
                    });
                if leaders.is_empty() {
                    return Err(R::NoLeaders);
                }
                Ok(vec![E::MeetingScheduled {
                    meeting_id: schedule.meeting_id,
                    school_id: schedule.school_id,
                    academic_year: schedule.academic_year,
                    assessment_point: schedule.assessment_point.clone(),
                    teacher_id: schedule.teacher,
                    class_group: schedule.class_group.clone(),
                    leader_ids: leaders,
                    date: schedule.date,
                    previous_meeting_id: schedule.previous_meeting,
                    occurrence: schedule.occurrence,
                }])
            }
            C::RecordAnalysis { actor, analysis } => {
                let meeting_id = state.live(*actor)?;
                if state.status != MeetingStatus::Scheduled {
                    return Err(R::AlreadyOpened);
                }
                Ok(vec![E::AnalysisRecorded {
                    meeting_id,
                    analysis: analysis.clone(),
                }])
            }
            C::Open {
                actor,
                previous_actions,
            } => {
                let meeting_id = state.live(*actor)?;
                if state.status != MeetingStatus::Scheduled {
                    return Err(R::AlreadyOpened);
                }
                Ok(vec![E::MeetingOpened {
                    meeting_id,
                    previous_actions: previous_actions.clone(),
                }])
            }
            C::ReviewPreviousAction {
                actor,
                action_id,
                outcome,
            } => {
                let meeting_id = state.opened(*actor)?;
                if !state
                    .previous_actions
                    .iter()
                    .any(|a| a.action.action_id == *action_id)
                {
                    return Err(R::NotAPreviousAction);
                }
                Ok(vec![E::PreviousActionReviewed {
                    meeting_id,
                    action_id: *action_id,
                    outcome: outcome.clone(),
                }])
            }
            C::NoteDiscussion { actor, discussion } => {
                let meeting_id = state.opened(*actor)?;
                Ok(vec![E::DiscussionNoted {
                    meeting_id,
                    discussion: discussion.clone(),
                }])
            }
            C::Close { actor, actions } => {
                let meeting_id = state.opened(*actor)?;
                let unreviewed = state.unreviewed();
                if unreviewed > 0 {
                    return Err(R::PreviousActionsUnreviewed(unreviewed));
                }
                let mut events = Vec::new();
                if !state.previous_actions.is_empty() {
                    events.push(E::ActionOutcomesAgreed(ActionOutcomesAgreed {
                        origin_kind: OriginKind::ProgressMeeting,
                        origin_id: meeting_id,
                        outcomes: state
                            .previous_actions
                            .iter()
                            .filter_map(|a| {
                                a.outcome.clone().map(|outcome| AgreedOutcome {
                                    action_id: a.action.action_id,
                                    outcome,
                                })
                            })
                            .collect(),
                    }));
                }
                if !actions.is_empty() {
                    events.push(E::ActionsAgreed(ActionsAgreed {
                        origin_kind: OriginKind::ProgressMeeting,
                        origin_id: meeting_id,
                        school_id: state.school_id.ok_or(R::NotFound)?,
                        actions: actions
                            .iter()
                            .zip(1..)
                            .map(|(step, item)| AgreedAction {
                                item,
                                description: step.description.clone(),
                                owner_id: step.owner,
                                supporter_ids: vec![],
                                due_date: step.due,
                                success_criteria: step.success_criteria.clone(),
                            })
                            .collect(),
                    }));
                }
                events.push(E::MeetingClosed { meeting_id });
                Ok(events)
            }
            C::Reschedule {
                actor,
                date,
                reason,
            } => {
                let meeting_id = state.live(*actor)?;
                if state.status != MeetingStatus::Scheduled {
                    return Err(R::AlreadyOpened);
                }
                Ok(vec![E::MeetingRescheduled {
                    meeting_id,
                    date: *date,
                    reason: reason.clone(),
                }])
            }
            C::Cancel { actor, reason } => {
                let meeting_id = state.live(*actor)?;
                Ok(vec![E::MeetingCancelled {
                    meeting_id,
                    reason: reason.clone(),
                }])
            }
            C::Attach { actor, attachment } => {
                let meeting_id = state.live(*actor)?;
                state.attachments.can_attach().map_err(R::Evidence)?;
                Ok(vec![E::EvidenceAttached {
                    meeting_id,
                    attachment: attachment.clone(),
                }])
            }
            C::RemoveAttachment {
                actor,
                attachment_id,
            } => {
                let meeting_id = state.live(*actor)?;
                let file_name = state
                    .attachments
                    .can_remove(*actor, *attachment_id)
                    .map_err(R::Evidence)?;
                Ok(vec![E::EvidenceRemoved {
                    meeting_id,
                    attachment_id: *attachment_id,
                    file_name,
                    by: *actor,
                }])
            }
        }
    }

    fn evolve(mut state: MeetingState, event: &MeetingEvent) -> MeetingState {
        use MeetingEvent as E;
        match event {
            E::MeetingScheduled {
                meeting_id,
                school_id,
                academic_year,
                assessment_point,
                teacher_id,
                class_group,
                leader_ids,
                date,
                previous_meeting_id,
                occurrence,
            } => {
                state.meeting_id = Some(*meeting_id);
                state.occurrence = *occurrence;
                state.school_id = Some(*school_id);
                state.academic_year = Some(*academic_year);
                state.assessment_point = Some(assessment_point.clone());
                state.teacher = Some(*teacher_id);
                state.class_group = Some(class_group.clone());
                state.leaders = leader_ids.clone();
                state.date = Some(*date);
                state.previous_meeting = *previous_meeting_id;
            }
            E::AnalysisRecorded { analysis, .. } => state.analysis = Some(analysis.clone()),
            E::MeetingOpened {
                previous_actions, ..
            } => {
                state.status = MeetingStatus::Open;
                state.previous_actions = previous_actions
                    .iter()
                    .map(|action| ReviewedAction {
                        action: action.clone(),
                        outcome: None,
                    })
                    .collect();
            }
            E::PreviousActionReviewed {
                action_id, outcome, ..
            } => {
                if let Some(reviewed) = state
                    .previous_actions
                    .iter_mut()
                    .find(|a| a.action.action_id == *action_id)
                {
                    reviewed.outcome = Some(outcome.clone());
                }
            }
            E::DiscussionNoted { discussion, .. } => state.discussion.push(discussion.clone()),
            E::ActionOutcomesAgreed(_) => {}
            E::ActionsAgreed(agreed) => state.agreed_actions = agreed.actions.clone(),
            E::MeetingClosed { .. } => state.status = MeetingStatus::Closed,
            E::MeetingRescheduled { date, .. } => state.date = Some(*date),
            E::MeetingCancelled { reason, .. } => {
                state.status = MeetingStatus::Cancelled;
                state.cancel_reason = Some(reason.clone());
            }
            E::EvidenceAttached { attachment, .. } => state.attachments.attached(attachment),
            E::EvidenceRemoved { attachment_id, .. } => state.attachments.removed(*attachment_id),
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    struct People {
        teacher: StaffId,
        leader: StaffId,
        outsider: StaffId,
    }

    fn people() -> People {
        let new = || StaffId::from_uuid(Uuid::new_v4());
        People {
            teacher: new(),
            leader: new(),
            outsider: new(),
        }
    }

    fn meeting_id() -> MeetingId {
        Uuid::new_v5(&Uuid::nil(), b"meeting")
    }

    fn scheduled(p: &People) -> MeetingEvent {
        MeetingEvent::MeetingScheduled {
            meeting_id: meeting_id(),
            school_id: SchoolId::from_uuid(Uuid::nil()),
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            assessment_point: text("Autumn assessment"),
            teacher_id: p.teacher,
            class_group: text("7B"),
            leader_ids: vec![p.leader],
            date: day(8),
            previous_meeting_id: None,
            occurrence: None,
        }
    }

    fn previous() -> Vec<PreviousAction> {
        vec![
            PreviousAction {
                action_id: Uuid::new_v5(&Uuid::nil(), b"a1"),
                description: text("Daily retrieval starters"),
            },
            PreviousAction {
                action_id: Uuid::new_v5(&Uuid::nil(), b"a2"),
                description: text("Reading group for 4 pupils"),
            },
        ]
    }

    fn opened() -> MeetingEvent {
        MeetingEvent::MeetingOpened {
            meeting_id: meeting_id(),
            previous_actions: previous(),
        }
    }

    fn reviewed(n: usize, outcome: Outcome) -> MeetingEvent {
        MeetingEvent::PreviousActionReviewed {
            meeting_id: meeting_id(),
            action_id: previous()[n].action_id,
            outcome,
        }
    }

    fn done() -> Outcome {
        Outcome::Done {
            impact: text("Recall of key facts improved"),
        }
    }

    #[test]
    fn a_meeting_needs_a_leader_besides_the_teacher() {
        let p = people();
        let command = |leaders| {
            MeetingCommand::Schedule(ScheduleMeeting {
                meeting_id: meeting_id(),
                school_id: SchoolId::from_uuid(Uuid::nil()),
                academic_year: AcademicYear::parse("2026-27").unwrap(),
                assessment_point: text("Autumn assessment"),
                teacher: p.teacher,
                class_group: text("7B"),
                leaders,
                date: day(8),
                previous_meeting: None,
                occurrence: None,
            })
        };
        given::<Meeting>([])
            .when(command(vec![p.teacher]))
            .then_rejected(MeetingRejection::NoLeaders);
        given::<Meeting>([])
            .when(command(vec![p.leader, p.teacher, p.leader]))
            .then([scheduled(&p)]);
    }

    #[test]
    fn analysis_comes_before_the_meeting() {
        let p = people();
        let analysis = Analysis {
            strengths: Some(text("Fluency")),
            ..Analysis::default()
        };
        given::<Meeting>([scheduled(&p)])
            .when(MeetingCommand::RecordAnalysis {
                actor: p.teacher,
                analysis: analysis.clone(),
            })
            .then([MeetingEvent::AnalysisRecorded {
                meeting_id: meeting_id(),
                analysis: analysis.clone(),
            }]);
        given::<Meeting>([scheduled(&p), opened()])
            .when(MeetingCommand::RecordAnalysis {
                actor: p.teacher,
                analysis,
            })
            .then_rejected(MeetingRejection::AlreadyOpened);
    }

    #[test]
    fn new_actions_wait_until_every_previous_action_has_an_outcome() {
        let p = people();
        let step = NextStep {
            description: text("Pre-teach vocabulary"),
            owner: p.teacher,
            due: day(30),
            success_criteria: None,
        };
        let close = MeetingCommand::Close {
            actor: p.leader,
            actions: vec![step.clone()],
        };
        given::<Meeting>([scheduled(&p)])
            .when(close.clone())
            .then_rejected(MeetingRejection::NotOpened);
        given::<Meeting>([scheduled(&p), opened(), reviewed(0, done())])
            .when(close.clone())
            .then_rejected(MeetingRejection::PreviousActionsUnreviewed(1));
        let dropped = Outcome::Dropped {
            reason: text("Pupils moved sets"),
        };
        let events = given::<Meeting>([
            scheduled(&p),
            opened(),
            reviewed(0, done()),
            reviewed(1, dropped.clone()),
        ])
        .when(close)
        .outcome()
        .unwrap();
        let types: Vec<&str> = events.iter().map(DomainEvent::event_type).collect();
        assert_eq!(
            types,
            ["ActionOutcomesAgreed", "ActionsAgreed", "MeetingClosed"]
        );
        let MeetingEvent::ActionOutcomesAgreed(outcomes) = &events[0] else {
            panic!()
        };
        assert_eq!(
            outcomes.outcomes[1],
            AgreedOutcome {
                action_id: previous()[1].action_id,
                outcome: dropped
            }
        );
        let MeetingEvent::ActionsAgreed(agreed) = &events[1] else {
            panic!()
        };
        assert_eq!(
            (agreed.origin_id, agreed.actions[0].item),
            (meeting_id(), 1)
        );
    }

    #[test]
    fn only_previous_actions_get_outcomes_and_only_from_those_present() {
        let p = people();
        given::<Meeting>([scheduled(&p), opened()])
            .when(MeetingCommand::ReviewPreviousAction {
                actor: p.leader,
                action_id: Uuid::new_v4(),
                outcome: done(),
            })
            .then_rejected(MeetingRejection::NotAPreviousAction);
        given::<Meeting>([scheduled(&p), opened()])
            .when(MeetingCommand::ReviewPreviousAction {
                actor: p.outsider,
                action_id: previous()[0].action_id,
                outcome: done(),
            })
            .then_rejected(MeetingRejection::NotAParty);
    }

    #[test]
    fn a_first_meeting_has_nothing_to_review_and_closes_with_its_actions() {
        let p = people();
        let first = MeetingEvent::MeetingOpened {
            meeting_id: meeting_id(),
            previous_actions: vec![],
        };
        let events = given::<Meeting>([scheduled(&p), first])
            .when(MeetingCommand::Close {
                actor: p.teacher,
                actions: vec![],
            })
            .outcome()
            .unwrap();
        assert_eq!(
            events,
            [MeetingEvent::MeetingClosed {
                meeting_id: meeting_id()
            }]
        );
    }

    #[test]
    fn a_closed_meeting_takes_no_more_notes() {
        let p = people();
        let closed = MeetingEvent::MeetingClosed {
            meeting_id: meeting_id(),
        };
        let note = Discussion {
            level: DiscussionLevel::Class,
            about: None,
            note: text("x"),
            adaptation: None,
            research: None,
        };
        given::<Meeting>([scheduled(&p), opened(), closed])
            .when(MeetingCommand::NoteDiscussion {
                actor: p.teacher,
                discussion: note,
            })
            .then_rejected(MeetingRejection::Closed);
    }

    #[test]
    fn events_survive_storage() {
        let p = people();
        for event in [
            scheduled(&p),
            opened(),
            reviewed(
                1,
                Outcome::CarriedForward {
                    due_date: day(20),
                    note: None,
                },
            ),
        ] {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(serde_json::from_value::<MeetingEvent>(json).unwrap(), event);
        }
    }

    #[test]
    fn learners_are_referred_to_without_names_unless_allowed() {
        assert!(LearnerRef::parse("AB", false).is_ok());
        assert!(LearnerRef::parse("MIS-20931", false).is_ok());
        assert_eq!(
            LearnerRef::parse("Amy Brown", false),
            Err(LearnerRefError::LooksLikeAName)
        );
        assert!(LearnerRef::parse("Amy Brown", true).is_ok());
        assert_eq!(LearnerRef::parse(" ", false), Err(LearnerRefError::Empty));
        assert_eq!(
            LearnerRef::parse("a/b", false),
            Err(LearnerRefError::BadCharacter)
        );
    }
}
