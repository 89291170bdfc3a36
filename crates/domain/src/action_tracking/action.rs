//! An agreed action: who does what by when, followed until it is done, carried forward or
//! dropped. Every change is an event, so the stream is the action's audit trail.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::agreed::{ActionId, Origin};
use crate::decider::{Decider, DomainEvent};
use crate::evidence::{AttachError, Attachment, Attachments, FileName};
use crate::ids::{AttachmentId, SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::text::Text;

pub struct Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    #[default]
    Open,
    InProgress,
    Done,
    CarriedForward,
    Dropped,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::CarriedForward => "carried_forward",
            Self::Dropped => "dropped",
        }
    }

    /// Still to be worked on.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    pub action_id: ActionId,
    pub school_id: SchoolId,
    pub origin: Origin,
    pub description: Text,
    pub owner: StaffId,
    pub supporters: Vec<StaffId>,
    pub due: NaiveDate,
    pub success_criteria: Option<Text>,
    pub carried_forward_from: Option<ActionId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionCommand {
    Create(NewAction),
    Start,
    NoteProgress {
        note: Text,
    },
    RecordEvidence {
        evidence: Text,
    },
    ChangeDueDate {
        due: NaiveDate,
        reason: Text,
    },
    Reassign {
        owner: StaffId,
        reason: Text,
    },
    Complete {
        impact: Text,
    },
    CarryForward {
        next_action_id: ActionId,
        due: NaiveDate,
        note: Option<Text>,
    },
    Drop {
        reason: Text,
    },
    Reopen {
        reason: Text,
    },
    /// A file as evidence of impact; like written evidence, also once the action is done.
    Attach {
        attachment: Attachment,
    },
    /// Whoever attached a file removes it.
    RemoveAttachment {
        actor: StaffId,
        attachment_id: AttachmentId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ActionEvent {
    ActionCreated {
        action_id: ActionId,
        school_id: SchoolId,
        origin: Origin,
        description: Text,
        owner_id: StaffId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        supporter_ids: Vec<StaffId>,
        due_date: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        success_criteria: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        carried_forward_from: Option<ActionId>,
    },
    ActionStarted {
        action_id: ActionId,
    },
    ProgressNoted {
        action_id: ActionId,
        note: Text,
    },
    EvidenceRecorded {
        action_id: ActionId,
        evidence: Text,
    },
    DueDateChanged {
        action_id: ActionId,
        from: NaiveDate,
        to: NaiveDate,
        reason: Text,
    },
    ActionReassigned {
        action_id: ActionId,
        from_owner_id: StaffId,
        to_owner_id: StaffId,
        reason: Text,
    },
    ActionCompleted {
        action_id: ActionId,
        impact: Text,
    },
    ActionCarriedForward {
        action_id: ActionId,
        next_action_id: ActionId,
        due_date: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
    },
    ActionDropped {
        action_id: ActionId,
        reason: Text,
    },
    ActionReopened {
        action_id: ActionId,
        reason: Text,
    },
    EvidenceAttached {
        action_id: ActionId,
        attachment: Attachment,
    },
    EvidenceRemoved {
        action_id: ActionId,
        attachment_id: AttachmentId,
        file_name: FileName,
        by: StaffId,
    },
}

impl DomainEvent for ActionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::ActionCreated { .. } => "ActionCreated",
            Self::ActionStarted { .. } => "ActionStarted",
            Self::ProgressNoted { .. } => "ProgressNoted",
            Self::EvidenceRecorded { .. } => "EvidenceRecorded",
            Self::DueDateChanged { .. } => "DueDateChanged",
            Self::ActionReassigned { .. } => "ActionReassigned",
            Self::ActionCompleted { .. } => "ActionCompleted",
            Self::ActionCarriedForward { .. } => "ActionCarriedForward",
            Self::ActionDropped { .. } => "ActionDropped",
            Self::ActionReopened { .. } => "ActionReopened",
            Self::EvidenceAttached { .. } => "EvidenceAttached",
            Self::EvidenceRemoved { .. } => "EvidenceRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionRejection {
    #[error("no such action")]
    NotFound,
    #[error("this action exists already")]
    AlreadyExists,
    #[error("the action is {0}; reopen it first")]
    Closed(&'static str),
    #[error("the action is already in progress")]
    AlreadyStarted,
    #[error("the action is already due on {0}")]
    SameDueDate(NaiveDate),
    #[error("the action is already theirs")]
    SameOwner,
    #[error("only a done or dropped action can be reopened (this one is {0})")]
    NotReopenable(&'static str),
    #[error("an action cannot carry itself forward")]
    CarriedIntoItself,
    #[error("{0}")]
    Evidence(AttachError),
}

impl Rejection for ActionRejection {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::AlreadyExists => RejectionKind::AlreadyExists,
            Self::Closed(_) | Self::AlreadyStarted | Self::NotReopenable(_) => {
                RejectionKind::FailedPrecondition
            }
            Self::SameDueDate(_) | Self::SameOwner | Self::CarriedIntoItself => {
                RejectionKind::InvalidArgument
            }
            Self::Evidence(error) => error.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "action.not_found",
            Self::AlreadyExists => "action.already_exists",
            Self::Closed(_) => "action.closed",
            Self::AlreadyStarted => "action.already_started",
            Self::SameDueDate(_) => "action.same_due_date",
            Self::SameOwner => "action.same_owner",
            Self::NotReopenable(_) => "action.not_reopenable",
            Self::CarriedIntoItself => "action.carried_into_itself",
            Self::Evidence(error) => error.code(),
        }
    }
}

/// What the decisions need to know about an action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionState {
    pub id: Option<ActionId>,
    pub status: ActionStatus,
    pub owner: Option<StaffId>,
    pub due: Option<NaiveDate>,
    pub attachments: Attachments,
}

impl ActionState {
    /// Takes evidence: live, or done (evidence of impact often arrives after).
    fn takes_evidence(&self) -> Result<ActionId, ActionRejection> {
        let action_id = self.id.ok_or(ActionRejection::NotFound)?;
        if !(self.status.is_live() || self.status == ActionStatus::Done) {
            return Err(ActionRejection::Closed(self.status.as_str()));
        }
        Ok(action_id)
    }

    fn live(&self) -> Result<ActionId, ActionRejection> {
        let id = self.id.ok_or(ActionRejection::NotFound)?;
        if self.status.is_live() {
            Ok(id)
        } else {
            Err(ActionRejection::Closed(self.status.as_str()))
        }
    }
}

impl Decider for Action {
    const CATEGORY: &'static str = "action";
    type State = ActionState;
    type Command = ActionCommand;
    type Event = ActionEvent;
    type Rejection = ActionRejection;

    fn decide(
        state: &ActionState,
        command: &ActionCommand,
    ) -> Result<Vec<ActionEvent>, ActionRejection> {
        use ActionCommand as C;
        use ActionEvent as E;
        let event = match command {
            C::Create(new) => {
                if state.id.is_some() {
                    return Err(ActionRejection::AlreadyExists);
                }
                // Supporters are the others who help; the owner is not one of them.
                let mut supporter_ids: Vec<StaffId> = Vec::new();
                for supporter in &new.supporters {
                    if *supporter != new.owner && !supporter_ids.contains(supporter) {
                        supporter_ids.push(*supporter);
                    }
                }
                E::ActionCreated {
                    action_id: new.action_id,
                    school_id: new.school_id,
                    origin: new.origin,
                    description: new.description.clone(),
                    owner_id: new.owner,
                    supporter_ids,
                    due_date: new.due,
                    success_criteria: new.success_criteria.clone(),
                    carried_forward_from: new.carried_forward_from,
                }
            }
            C::Start => {
                let action_id = state.live()?;
                if state.status == ActionStatus::InProgress {
                    return Err(ActionRejection::AlreadyStarted);
                }
                E::ActionStarted { action_id }
            }
            C::NoteProgress { note } => E::ProgressNoted {
                action_id: state.live()?,
                note: note.clone(),
            },
            C::RecordEvidence { evidence } => E::EvidenceRecorded {
                action_id: state.takes_evidence()?,
                evidence: evidence.clone(),
            },
            C::Attach { attachment } => {
                let action_id = state.takes_evidence()?;
                state
                    .attachments
                    .can_attach()
                    .map_err(ActionRejection::Evidence)?;
                E::EvidenceAttached {
                    action_id,
                    attachment: attachment.clone(),
                }
            }
            C::RemoveAttachment {
                actor,
                attachment_id,
            } => {
                let action_id = state.takes_evidence()?;
                let file_name = state
                    .attachments
                    .can_remove(*actor, *attachment_id)
                    .map_err(ActionRejection::Evidence)?;
                E::EvidenceRemoved {
                    action_id,
                    attachment_id: *attachment_id,
                    file_name,
                    by: *actor,
                }
            }
            C::ChangeDueDate { due, reason } => {
                let action_id = state.live()?;
                let from = state.due.ok_or(ActionRejection::NotFound)?;
                if from == *due {
                    return Err(ActionRejection::SameDueDate(from));
                }
                E::DueDateChanged {
                    action_id,
                    from,
                    to: *due,
                    reason: reason.clone(),
                }
            }
            C::Reassign { owner, reason } => {
                let action_id = state.live()?;
                let from_owner_id = state.owner.ok_or(ActionRejection::NotFound)?;
                if from_owner_id == *owner {
                    return Err(ActionRejection::SameOwner);
                }
                E::ActionReassigned {
                    action_id,
                    from_owner_id,
                    to_owner_id: *owner,
                    reason: reason.clone(),
                }
            }
            C::Complete { impact } => E::ActionCompleted {
                action_id: state.live()?,
                impact: impact.clone(),
            },
            C::CarryForward {
                next_action_id,
                due,
                note,
            } => {
                let action_id = state.live()?;
                if *next_action_id == action_id {
                    return Err(ActionRejection::CarriedIntoItself);
                }
                E::ActionCarriedForward {
                    action_id,
                    next_action_id: *next_action_id,
                    due_date: *due,
                    note: note.clone(),
                }
            }
            C::Drop { reason } => E::ActionDropped {
                action_id: state.live()?,
                reason: reason.clone(),
            },
            C::Reopen { reason } => {
                let action_id = state.id.ok_or(ActionRejection::NotFound)?;
                if !matches!(state.status, ActionStatus::Done | ActionStatus::Dropped) {
                    return Err(ActionRejection::NotReopenable(state.status.as_str()));
                }
                E::ActionReopened {
                    action_id,
                    reason: reason.clone(),
                }
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut state: ActionState, event: &ActionEvent) -> ActionState {
        use ActionEvent as E;
        match event {
            E::ActionCreated {
                action_id,
                owner_id,
                due_date,
                ..
            } => {
                state.id = Some(*action_id);
                state.status = ActionStatus::Open;
                state.owner = Some(*owner_id);
                state.due = Some(*due_date);
            }
            E::ActionStarted { .. } => state.status = ActionStatus::InProgress,
            E::ProgressNoted { .. } | E::EvidenceRecorded { .. } => {}
            E::DueDateChanged { to, .. } => state.due = Some(*to),
            E::ActionReassigned { to_owner_id, .. } => state.owner = Some(*to_owner_id),
            E::ActionCompleted { .. } => state.status = ActionStatus::Done,
            E::ActionCarriedForward { .. } => state.status = ActionStatus::CarriedForward,
            E::ActionDropped { .. } => state.status = ActionStatus::Dropped,
            E::ActionReopened { .. } => state.status = ActionStatus::InProgress,
            E::EvidenceAttached { attachment, .. } => state.attachments.attached(attachment),
            E::EvidenceRemoved { attachment_id, .. } => state.attachments.removed(*attachment_id),
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreed::OriginKind;
    use crate::testing::given;
    use uuid::Uuid;

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    struct Fixture {
        id: ActionId,
        owner: StaffId,
        new: NewAction,
    }

    fn fixture() -> Fixture {
        let id = Uuid::new_v4();
        let owner = StaffId::from_uuid(Uuid::new_v4());
        let new = NewAction {
            action_id: id,
            school_id: SchoolId::from_uuid(Uuid::new_v4()),
            origin: Origin {
                kind: OriginKind::ProgressMeeting,
                id: Some(Uuid::new_v4()),
            },
            description: text("Model three worked examples before independent practice"),
            owner,
            supporters: vec![],
            due: day(11),
            success_criteria: Some(text("Fewer than five pupils stuck at the start of tasks")),
            carried_forward_from: None,
        };
        Fixture { id, owner, new }
    }

    fn created(f: &Fixture) -> ActionEvent {
        ActionEvent::ActionCreated {
            action_id: f.id,
            school_id: f.new.school_id,
            origin: f.new.origin,
            description: f.new.description.clone(),
            owner_id: f.owner,
            supporter_ids: vec![],
            due_date: f.new.due,
            success_criteria: f.new.success_criteria.clone(),
            carried_forward_from: None,
        }
    }

    #[test]
    fn an_action_is_created_once() {
        let f = fixture();
        given::<Action>([])
            .when(ActionCommand::Create(f.new.clone()))
            .then([created(&f)]);
        given::<Action>([created(&f)])
            .when(ActionCommand::Create(f.new.clone()))
            .then_rejected(ActionRejection::AlreadyExists);
    }

    #[test]
    fn supporters_exclude_the_owner_and_duplicates() {
        let mut f = fixture();
        let helper = StaffId::from_uuid(Uuid::new_v4());
        f.new.supporters = vec![helper, f.owner, helper];
        let events = given::<Action>([])
            .when(ActionCommand::Create(f.new.clone()))
            .outcome()
            .unwrap();
        let ActionEvent::ActionCreated { supporter_ids, .. } = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(supporter_ids, &vec![helper]);
    }

    #[test]
    fn nothing_happens_to_an_action_that_does_not_exist() {
        given::<Action>([])
            .when(ActionCommand::Start)
            .then_rejected(ActionRejection::NotFound);
        given::<Action>([])
            .when(ActionCommand::Reopen { reason: text("x") })
            .then_rejected(ActionRejection::NotFound);
    }

    #[test]
    fn starting_and_noting_progress() {
        let f = fixture();
        given::<Action>([created(&f)])
            .when(ActionCommand::Start)
            .then([ActionEvent::ActionStarted { action_id: f.id }]);
        given::<Action>([created(&f), ActionEvent::ActionStarted { action_id: f.id }])
            .when(ActionCommand::Start)
            .then_rejected(ActionRejection::AlreadyStarted);
        given::<Action>([created(&f)])
            .when(ActionCommand::NoteProgress {
                note: text("Tried it with 8B"),
            })
            .then([ActionEvent::ProgressNoted {
                action_id: f.id,
                note: text("Tried it with 8B"),
            }]);
    }

    #[test]
    fn moving_the_due_date_needs_a_new_date_and_keeps_the_old_one_in_the_trail() {
        let f = fixture();
        given::<Action>([created(&f)])
            .when(ActionCommand::ChangeDueDate {
                due: day(18),
                reason: text("Mocks week"),
            })
            .then([ActionEvent::DueDateChanged {
                action_id: f.id,
                from: day(11),
                to: day(18),
                reason: text("Mocks week"),
            }]);
        given::<Action>([created(&f)])
            .when(ActionCommand::ChangeDueDate {
                due: day(11),
                reason: text("no change"),
            })
            .then_rejected(ActionRejection::SameDueDate(day(11)));
    }

    #[test]
    fn reassigning_names_both_owners() {
        let f = fixture();
        let next = StaffId::from_uuid(Uuid::new_v4());
        let state = given::<Action>([created(&f)])
            .when(ActionCommand::Reassign {
                owner: next,
                reason: text("Owner on leave"),
            })
            .then([ActionEvent::ActionReassigned {
                action_id: f.id,
                from_owner_id: f.owner,
                to_owner_id: next,
                reason: text("Owner on leave"),
            }]);
        assert_eq!(state.owner, Some(next));
        given::<Action>([created(&f)])
            .when(ActionCommand::Reassign {
                owner: f.owner,
                reason: text("x"),
            })
            .then_rejected(ActionRejection::SameOwner);
    }

    #[test]
    fn outcomes_close_the_action() {
        let f = fixture();
        let done = given::<Action>([created(&f)])
            .when(ActionCommand::Complete {
                impact: text("Starts are calmer"),
            })
            .then([ActionEvent::ActionCompleted {
                action_id: f.id,
                impact: text("Starts are calmer"),
            }]);
        assert_eq!(done.status, ActionStatus::Done);

        let next = Uuid::new_v4();
        given::<Action>([created(&f)])
            .when(ActionCommand::CarryForward {
                next_action_id: next,
                due: day(20),
                note: None,
            })
            .then([ActionEvent::ActionCarriedForward {
                action_id: f.id,
                next_action_id: next,
                due_date: day(20),
                note: None,
            }]);
        given::<Action>([created(&f)])
            .when(ActionCommand::CarryForward {
                next_action_id: f.id,
                due: day(20),
                note: None,
            })
            .then_rejected(ActionRejection::CarriedIntoItself);

        given::<Action>([created(&f)])
            .when(ActionCommand::Drop {
                reason: text("Superseded by the new plan"),
            })
            .then([ActionEvent::ActionDropped {
                action_id: f.id,
                reason: text("Superseded by the new plan"),
            }]);
    }

    #[test]
    fn a_closed_action_takes_no_more_work_until_reopened() {
        let f = fixture();
        let done = ActionEvent::ActionCompleted {
            action_id: f.id,
            impact: text("x"),
        };
        given::<Action>([created(&f), done.clone()])
            .when(ActionCommand::NoteProgress { note: text("more") })
            .then_rejected(ActionRejection::Closed("done"));
        given::<Action>([created(&f), done.clone()])
            .when(ActionCommand::Drop { reason: text("x") })
            .then_rejected(ActionRejection::Closed("done"));
        // Evidence of impact may still come in.
        given::<Action>([created(&f), done.clone()])
            .when(ActionCommand::RecordEvidence {
                evidence: text("Book look, week 14"),
            })
            .then([ActionEvent::EvidenceRecorded {
                action_id: f.id,
                evidence: text("Book look, week 14"),
            }]);
        let reopened = given::<Action>([created(&f), done])
            .when(ActionCommand::Reopen {
                reason: text("Impact did not last"),
            })
            .then([ActionEvent::ActionReopened {
                action_id: f.id,
                reason: text("Impact did not last"),
            }]);
        assert_eq!(reopened.status, ActionStatus::InProgress);
    }

    #[test]
    fn a_carried_forward_action_stays_closed() {
        let f = fixture();
        let carried = ActionEvent::ActionCarriedForward {
            action_id: f.id,
            next_action_id: Uuid::new_v4(),
            due_date: day(20),
            note: None,
        };
        given::<Action>([created(&f), carried])
            .when(ActionCommand::Reopen { reason: text("x") })
            .then_rejected(ActionRejection::NotReopenable("carried_forward"));
    }
}
