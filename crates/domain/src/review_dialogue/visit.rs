//! A monitoring visit (classroom observation or learning walk): the focus is agreed with the
//! teacher before the visit, the previous visit's next steps are looked at again, feedback is
//! given, and the teacher sees and answers the record before its next steps become actions.
//! No grades.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agreed::{ActionsAgreed, AgreedAction, OriginKind};
use crate::decider::{Decider, DomainEvent};
use crate::evidence::{AttachError, Attachment, Attachments, FileName};
use crate::ids::{AttachmentId, SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::review_dialogue::meeting::PreviousAction;
use crate::review_dialogue::review::NextStep;
use crate::text::Text;

pub type VisitId = Uuid;

pub struct Visit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    Observation,
    LearningWalk,
}

impl VisitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observation => "observation",
            Self::LearningWalk => "learning_walk",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Observation, Self::LearningWalk]
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanVisit {
    pub visit_id: VisitId,
    pub school_id: SchoolId,
    pub kind: VisitKind,
    pub visitor: StaffId,
    pub teacher: StaffId,
    pub date: NaiveDate,
    pub focus: Text,
    /// The next steps from the teacher's previous visit, looked up before deciding.
    pub previous_next_steps: Vec<PreviousAction>,
    /// The planned occurrence of the school's year this visit holds, if planned from one.
    pub occurrence: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VisitCommand {
    Plan(PlanVisit),
    /// The teacher agrees the focus (before the visit).
    AgreeFocus {
        actor: StaffId,
    },
    ChangeFocus {
        actor: StaffId,
        focus: Text,
    },
    /// The visitor writes the record after the visit (or rewrites it, before it is agreed).
    Record {
        actor: StaffId,
        /// The record version the visitor's form was built from (0 before the first).
        based_on: u32,
        observations: Text,
        previous_steps_review: Option<Text>,
        feedback: Option<Text>,
        next_steps: Vec<NextStep>,
    },
    /// The teacher answers the record.
    Respond {
        actor: StaffId,
        response: Text,
    },
    /// The teacher agrees record version `version`, the one they read; its next steps
    /// become agreed actions.
    Agree {
        actor: StaffId,
        version: u32,
    },
    Cancel {
        actor: StaffId,
        reason: Text,
    },
    /// The visitor or the teacher attaches a file as evidence, until the record is agreed.
    Attach {
        actor: StaffId,
        attachment: Attachment,
    },
    /// Whoever attached a file removes it, until the record is agreed.
    RemoveAttachment {
        actor: StaffId,
        attachment_id: AttachmentId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum VisitEvent {
    VisitPlanned {
        visit_id: VisitId,
        school_id: SchoolId,
        kind: VisitKind,
        visitor_id: StaffId,
        teacher_id: StaffId,
        date: NaiveDate,
        focus: Text,
        #[serde(default)]
        previous_next_steps: Vec<PreviousAction>,
        /// The planned occurrence it holds (scheduling marks it held when the visit is agreed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurrence: Option<Uuid>,
    },
    FocusAgreed {
        visit_id: VisitId,
    },
    FocusChanged {
        visit_id: VisitId,
        focus: Text,
    },
    VisitRecorded {
        visit_id: VisitId,
        observations: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_steps_review: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback: Option<Text>,
        #[serde(default)]
        next_steps: Vec<NextStep>,
    },
    TeacherResponded {
        visit_id: VisitId,
        response: Text,
    },
    VisitAgreed {
        visit_id: VisitId,
    },
    ActionsAgreed(ActionsAgreed),
    VisitCancelled {
        visit_id: VisitId,
        reason: Text,
    },
    EvidenceAttached {
        visit_id: VisitId,
        attachment: Attachment,
    },
    EvidenceRemoved {
        visit_id: VisitId,
        attachment_id: AttachmentId,
        file_name: FileName,
        by: StaffId,
    },
}

impl DomainEvent for VisitEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::VisitPlanned { .. } => "VisitPlanned",
            Self::FocusAgreed { .. } => "FocusAgreed",
            Self::FocusChanged { .. } => "FocusChanged",
            Self::VisitRecorded { .. } => "VisitRecorded",
            Self::TeacherResponded { .. } => "TeacherResponded",
            Self::VisitAgreed { .. } => "VisitAgreed",
            Self::ActionsAgreed(_) => crate::agreed::ACTIONS_AGREED,
            Self::VisitCancelled { .. } => "VisitCancelled",
            Self::EvidenceAttached { .. } => "EvidenceAttached",
            Self::EvidenceRemoved { .. } => "EvidenceRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitRejection {
    #[error("no such visit")]
    NotFound,
    #[error("this visit is already planned")]
    AlreadyPlanned,
    #[error("a visit is to someone else's classroom")]
    SelfVisit,
    #[error("only the {0} can do this")]
    OnlyThe(&'static str),
    #[error("the focus must be agreed with the teacher before the visit is recorded")]
    FocusNotAgreed,
    #[error("the visit has been recorded; the focus can no longer change")]
    AlreadyRecorded,
    #[error("the visit is not recorded yet")]
    NotRecorded,
    #[error("the record is agreed and cannot change")]
    Agreed,
    #[error("the visit is cancelled")]
    Cancelled,
    #[error(
        "the record has changed since you opened it (version {requested}, now {current}): read the current record first"
    )]
    StaleRecord { requested: u32, current: u32 },
    #[error("only the visitor and the teacher take part in this visit")]
    NotAParty,
    #[error("{0}")]
    Evidence(AttachError),
}

impl Rejection for VisitRejection {
    fn kind(&self) -> RejectionKind {
        use VisitRejection as R;
        match self {
            R::NotFound => RejectionKind::NotFound,
            R::AlreadyPlanned => RejectionKind::AlreadyExists,
            R::SelfVisit => RejectionKind::InvalidArgument,
            R::OnlyThe(_) | R::NotAParty => RejectionKind::PermissionDenied,
            R::Evidence(error) => error.kind(),
            R::FocusNotAgreed
            | R::AlreadyRecorded
            | R::NotRecorded
            | R::Agreed
            | R::Cancelled
            | R::StaleRecord { .. } => RejectionKind::FailedPrecondition,
        }
    }

    fn code(&self) -> &'static str {
        use VisitRejection as R;
        match self {
            R::NotFound => "visit.not_found",
            R::AlreadyPlanned => "visit.already_planned",
            R::SelfVisit => "visit.self_visit",
            R::OnlyThe(_) => "visit.wrong_party",
            R::FocusNotAgreed => "visit.focus_not_agreed",
            R::AlreadyRecorded => "visit.already_recorded",
            R::NotRecorded => "visit.not_recorded",
            R::Agreed => "visit.agreed",
            R::Cancelled => "visit.cancelled",
            R::StaleRecord { .. } => "visit.stale_record",
            R::NotAParty => "visit.not_a_party",
            R::Evidence(error) => error.code(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    #[default]
    Planned,
    FocusAgreed,
    Recorded,
    Agreed,
    Cancelled,
}

impl VisitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::FocusAgreed => "focus_agreed",
            Self::Recorded => "recorded",
            Self::Agreed => "agreed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitState {
    pub visit_id: Option<VisitId>,
    pub school_id: Option<SchoolId>,
    pub kind: Option<VisitKind>,
    pub visitor: Option<StaffId>,
    pub teacher: Option<StaffId>,
    pub date: Option<NaiveDate>,
    pub focus: Option<Text>,
    pub previous_next_steps: Vec<PreviousAction>,
    /// The planned occurrence it holds.
    pub occurrence: Option<Uuid>,
    pub status: VisitStatus,
    pub observations: Option<Text>,
    pub previous_steps_review: Option<Text>,
    pub feedback: Option<Text>,
    pub next_steps: Vec<NextStep>,
    pub response: Option<Text>,
    pub cancel_reason: Option<Text>,
    /// How many times the record has been written: the version a form shows and sends back.
    #[serde(default)]
    pub record_version: u32,
    /// Files attached as evidence.
    pub attachments: Attachments,
}

impl VisitState {
    /// Refuses a form built from another version of the record than the current one.
    fn current_record(&self, version: u32) -> Result<(), VisitRejection> {
        if version == self.record_version {
            Ok(())
        } else {
            Err(VisitRejection::StaleRecord {
                requested: version,
                current: self.record_version,
            })
        }
    }

    fn live(&self) -> Result<(VisitId, StaffId, StaffId), VisitRejection> {
        let (Some(id), Some(visitor), Some(teacher)) = (self.visit_id, self.visitor, self.teacher)
        else {
            return Err(VisitRejection::NotFound);
        };
        match self.status {
            VisitStatus::Agreed => Err(VisitRejection::Agreed),
            VisitStatus::Cancelled => Err(VisitRejection::Cancelled),
            _ => Ok((id, visitor, teacher)),
        }
    }
}

impl Decider for Visit {
    const CATEGORY: &'static str = "visit";
    type State = VisitState;
    type Command = VisitCommand;
    type Event = VisitEvent;
    type Rejection = VisitRejection;

    fn decide(
        state: &VisitState,
        command: &VisitCommand,
    ) -> Result<Vec<VisitEvent>, VisitRejection> {
        use VisitCommand as C;
        use VisitEvent as E;
        use VisitRejection as R;
        match command {
            C::Plan(plan) => {
                if state.visit_id.is_some() {
                    return Err(R::AlreadyPlanned);
                }
                if plan.visitor == plan.teacher {
                    return Err(R::SelfVisit);
                }
                Ok(vec![E::VisitPlanned {
                    visit_id: plan.visit_id,
                    school_id: plan.school_id,
                    kind: plan.kind,
                    visitor_id: plan.visitor,
                    teacher_id: plan.teacher,
                    date: plan.date,
                    focus: plan.focus.clone(),
                    previous_next_steps: plan.previous_next_steps.clone(),
                    occurrence: plan.occurrence,
                }])
            }
            C::AgreeFocus { actor } => {
                let (visit_id, _, teacher) = state.live()?;
                if *actor != teacher {
                    return Err(R::OnlyThe("teacher"));
                }
                match state.status {
                    VisitStatus::Planned => Ok(vec![E::FocusAgreed { visit_id }]),
                    VisitStatus::FocusAgreed => Ok(vec![]),
                    _ => Err(R::AlreadyRecorded),
                }
            }
            C::ChangeFocus { actor, focus } => {
                let (visit_id, visitor, teacher) = state.live()?;
                if *actor != visitor && *actor != teacher {
                    return Err(R::OnlyThe("visitor or the teacher"));
                }
                if !matches!(
                    state.status,
                    VisitStatus::Planned | VisitStatus::FocusAgreed
                ) {
                    return Err(R::AlreadyRecorded);
                }
                Ok(vec![E::FocusChanged {
                    visit_id,
                    focus: focus.clone(),
                }])
            }
            C::Record {
                actor,
                based_on,
                observations,
                previous_steps_review,
                feedback,
                next_steps,
            } => {
                let (visit_id, visitor, _) = state.live()?;
                if *actor != visitor {
                    return Err(R::OnlyThe("visitor"));
                }
                if state.status == VisitStatus::Planned {
                    return Err(R::FocusNotAgreed);
                }
                state.current_record(*based_on)?;
                Ok(vec![E::VisitRecorded {
                    visit_id,
                    observations: observations.clone(),
                    previous_steps_review: previous_steps_review.clone(),
                    feedback: feedback.clone(),
                    next_steps: next_steps.clone(),
                }])
            }
            C::Respond { actor, response } => {
                let (visit_id, _, teacher) = state.live()?;
                if *actor != teacher {
                    return Err(R::OnlyThe("teacher"));
                }
                if state.status != VisitStatus::Recorded {
                    return Err(R::NotRecorded);
                }
                Ok(vec![E::TeacherResponded {
                    visit_id,
                    response: response.clone(),
                }])
            }
            C::Agree { actor, version } => {
                let (visit_id, _, teacher) = state.live()?;
                if *actor != teacher {
                    return Err(R::OnlyThe("teacher"));
                }
                if state.status != VisitStatus::Recorded {
                    return Err(R::NotRecorded);
                }
                state.current_record(*version)?;
                let mut events = vec![E::VisitAgreed { visit_id }];
                if !state.next_steps.is_empty() {
                    events.push(E::ActionsAgreed(ActionsAgreed {
                        origin_kind: OriginKind::Visit,
                        origin_id: visit_id,
                        school_id: state.school_id.ok_or(R::NotFound)?,
                        actions: state
                            .next_steps
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
                Ok(events)
            }
            C::Cancel { actor, reason } => {
                let (visit_id, visitor, _) = state.live()?;
                if *actor != visitor {
                    return Err(R::OnlyThe("visitor"));
                }
                Ok(vec![E::VisitCancelled {
                    visit_id,
                    reason: reason.clone(),
                }])
            }
            C::Attach { actor, attachment } => {
                let (visit_id, visitor, teacher) = state.live()?;
                if *actor != visitor && *actor != teacher {
                    return Err(R::NotAParty);
                }
                state.attachments.can_attach().map_err(R::Evidence)?;
                Ok(vec![E::EvidenceAttached {
                    visit_id,
                    attachment: attachment.clone(),
                }])
            }
            C::RemoveAttachment {
                actor,
                attachment_id,
            } => {
                let (visit_id, visitor, teacher) = state.live()?;
                if *actor != visitor && *actor != teacher {
                    return Err(R::NotAParty);
                }
                let file_name = state
                    .attachments
                    .can_remove(*actor, *attachment_id)
                    .map_err(R::Evidence)?;
                Ok(vec![E::EvidenceRemoved {
                    visit_id,
                    attachment_id: *attachment_id,
                    file_name,
                    by: *actor,
                }])
            }
        }
    }

    fn evolve(mut state: VisitState, event: &VisitEvent) -> VisitState {
        use VisitEvent as E;
        match event {
            E::VisitPlanned {
                visit_id,
                school_id,
                kind,
                visitor_id,
                teacher_id,
                date,
                focus,
                previous_next_steps,
                occurrence,
            } => {
                state.visit_id = Some(*visit_id);
                state.occurrence = *occurrence;
                state.school_id = Some(*school_id);
                state.kind = Some(*kind);
                state.visitor = Some(*visitor_id);
                state.teacher = Some(*teacher_id);
                state.date = Some(*date);
                state.focus = Some(focus.clone());
                state.previous_next_steps = previous_next_steps.clone();
            }
            E::FocusAgreed { .. } => state.status = VisitStatus::FocusAgreed,
            E::FocusChanged { focus, .. } => {
                state.focus = Some(focus.clone());
                // A changed focus needs the teacher's agreement again.
                state.status = VisitStatus::Planned;
            }
            E::VisitRecorded {
                observations,
                previous_steps_review,
                feedback,
                next_steps,
                ..
            } => {
                state.observations = Some(observations.clone());
                state.previous_steps_review = previous_steps_review.clone();
                state.feedback = feedback.clone();
                state.next_steps = next_steps.clone();
                state.status = VisitStatus::Recorded;
                state.record_version += 1;
            }
            E::TeacherResponded { response, .. } => state.response = Some(response.clone()),
            E::VisitAgreed { .. } => state.status = VisitStatus::Agreed,
            E::ActionsAgreed(_) => {}
            E::VisitCancelled { reason, .. } => {
                state.status = VisitStatus::Cancelled;
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

    fn visit_id() -> VisitId {
        Uuid::new_v5(&Uuid::nil(), b"visit")
    }

    fn planned(visitor: StaffId, teacher: StaffId) -> VisitEvent {
        VisitEvent::VisitPlanned {
            visit_id: visit_id(),
            school_id: SchoolId::from_uuid(Uuid::nil()),
            kind: VisitKind::Observation,
            visitor_id: visitor,
            teacher_id: teacher,
            date: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            focus: text("Questioning to check understanding"),
            previous_next_steps: vec![],
            occurrence: None,
        }
    }

    fn record(actor: StaffId, steps: Vec<NextStep>) -> VisitCommand {
        VisitCommand::Record {
            actor,
            based_on: 0,
            observations: text("Cold calling used well"),
            previous_steps_review: None,
            feedback: Some(text("Wait time")),
            next_steps: steps,
        }
    }

    fn people() -> (StaffId, StaffId) {
        (
            StaffId::from_uuid(Uuid::new_v4()),
            StaffId::from_uuid(Uuid::new_v4()),
        )
    }

    #[test]
    fn the_focus_is_agreed_with_the_teacher_before_the_visit() {
        let (visitor, teacher) = people();
        given::<Visit>([planned(visitor, teacher)])
            .when(record(visitor, vec![]))
            .then_rejected(VisitRejection::FocusNotAgreed);
        given::<Visit>([planned(visitor, teacher)])
            .when(VisitCommand::AgreeFocus { actor: visitor })
            .then_rejected(VisitRejection::OnlyThe("teacher"));
        given::<Visit>([planned(visitor, teacher)])
            .when(VisitCommand::AgreeFocus { actor: teacher })
            .then([VisitEvent::FocusAgreed {
                visit_id: visit_id(),
            }]);
        // Changing the focus asks for agreement again.
        let state = given::<Visit>([
            planned(visitor, teacher),
            VisitEvent::FocusAgreed {
                visit_id: visit_id(),
            },
        ])
        .when(VisitCommand::ChangeFocus {
            actor: visitor,
            focus: text("Transitions"),
        })
        .then([VisitEvent::FocusChanged {
            visit_id: visit_id(),
            focus: text("Transitions"),
        }]);
        assert_eq!(state.status, VisitStatus::Planned);
    }

    #[test]
    fn the_teacher_answers_and_agrees_then_next_steps_become_actions() {
        let (visitor, teacher) = people();
        let step = NextStep {
            description: text("Use mini whiteboards for hinge questions"),
            owner: teacher,
            due: NaiveDate::from_ymd_opt(2027, 1, 22).unwrap(),
            success_criteria: None,
        };
        let history = [
            planned(visitor, teacher),
            VisitEvent::FocusAgreed {
                visit_id: visit_id(),
            },
            VisitEvent::VisitRecorded {
                visit_id: visit_id(),
                observations: text("Cold calling used well"),
                previous_steps_review: None,
                feedback: Some(text("Wait time")),
                next_steps: vec![step.clone()],
            },
        ];
        given::<Visit>(history.clone())
            .when(VisitCommand::Agree {
                actor: visitor,
                version: 1,
            })
            .then_rejected(VisitRejection::OnlyThe("teacher"));
        let events = given::<Visit>(history.clone())
            .when(VisitCommand::Agree {
                actor: teacher,
                version: 1,
            })
            .outcome()
            .unwrap();
        assert_eq!(
            events[0],
            VisitEvent::VisitAgreed {
                visit_id: visit_id()
            }
        );
        let VisitEvent::ActionsAgreed(agreed) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(agreed.origin_kind, OriginKind::Visit);
        assert_eq!(agreed.actions[0].description, step.description);

        // The visitor rewrote the record after the teacher opened it: the teacher's
        // agreement to the version they read is refused, and so is a second rewrite from
        // the visitor's other, older window.
        let mut rewritten = history.to_vec();
        rewritten.push(VisitEvent::VisitRecorded {
            visit_id: visit_id(),
            observations: text("Cold calling used well; wait time short"),
            previous_steps_review: None,
            feedback: None,
            next_steps: vec![],
        });
        given::<Visit>(rewritten.clone())
            .when(VisitCommand::Agree {
                actor: teacher,
                version: 1,
            })
            .then_rejected(VisitRejection::StaleRecord {
                requested: 1,
                current: 2,
            });
        let mut stale = record(visitor, vec![]);
        if let VisitCommand::Record { based_on, .. } = &mut stale {
            *based_on = 1;
        }
        given::<Visit>(rewritten.clone())
            .when(stale)
            .then_rejected(VisitRejection::StaleRecord {
                requested: 1,
                current: 2,
            });
        assert!(
            given::<Visit>(rewritten)
                .when(VisitCommand::Agree {
                    actor: teacher,
                    version: 2,
                })
                .outcome()
                .is_ok()
        );
    }

    #[test]
    fn no_one_visits_themselves_and_an_agreed_record_is_final() {
        let (visitor, teacher) = people();
        let plan = PlanVisit {
            visit_id: visit_id(),
            school_id: SchoolId::from_uuid(Uuid::nil()),
            kind: VisitKind::LearningWalk,
            visitor,
            teacher: visitor,
            date: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            focus: text("x"),
            previous_next_steps: vec![],
            occurrence: None,
        };
        given::<Visit>([])
            .when(VisitCommand::Plan(plan))
            .then_rejected(VisitRejection::SelfVisit);
        let agreed = [
            planned(visitor, teacher),
            VisitEvent::VisitAgreed {
                visit_id: visit_id(),
            },
        ];
        given::<Visit>(agreed)
            .when(VisitCommand::Respond {
                actor: teacher,
                response: text("late"),
            })
            .then_rejected(VisitRejection::Agreed);
    }
}
