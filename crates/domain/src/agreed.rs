//! The contract between the services that agree actions (reviews, meetings, visits, audits)
//! and action tracking, which follows them up. These payloads travel inside those services'
//! events under fixed event type names, whatever the stream's category.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{SchoolId, StaffId};
use crate::text::Text;

/// Identifies an agreed action.
pub type ActionId = Uuid;

/// The event type under which any origin announces newly agreed actions.
pub const ACTIONS_AGREED: &str = "ActionsAgreed";
/// The event type under which any origin records outcomes of earlier actions.
pub const ACTION_OUTCOMES_AGREED: &str = "ActionOutcomesAgreed";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginKind {
    ProgressReview,
    ProgressMeeting,
    Visit,
    Audit,
    /// Agreed at a planned occurrence of the school's monitoring year (a work scrutiny, a
    /// learning walk), created with it as its origin.
    Occurrence,
    /// Created directly, not agreed in a review, meeting, visit or audit.
    Direct,
}

impl OriginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProgressReview => "progress_review",
            Self::ProgressMeeting => "progress_meeting",
            Self::Visit => "visit",
            Self::Audit => "audit",
            Self::Occurrence => "occurrence",
            Self::Direct => "direct",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::ProgressReview,
            Self::ProgressMeeting,
            Self::Visit,
            Self::Audit,
            Self::Occurrence,
            Self::Direct,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// Where an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub kind: OriginKind,
    /// The review, meeting, visit, audit or occurrence; none for direct actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

impl Origin {
    pub fn direct() -> Self {
        Self {
            kind: OriginKind::Direct,
            id: None,
        }
    }
}

/// One action as agreed: who does what by when, and how we will know it worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreedAction {
    /// Its number within the record that agreed it; with the origin it names the action.
    pub item: u32,
    pub description: Text,
    pub owner_id: StaffId,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporter_ids: Vec<StaffId>,
    pub due_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_criteria: Option<Text>,
}

/// Actions agreed in a review, meeting, visit or audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionsAgreed {
    pub origin_kind: OriginKind,
    pub origin_id: Uuid,
    pub school_id: SchoolId,
    pub actions: Vec<AgreedAction>,
}

/// The id the action for `item` of a record gets: the same every time it is derived, so
/// however often the agreement is delivered, it names one action.
pub fn agreed_action_id(origin_id: Uuid, item: u32) -> ActionId {
    Uuid::new_v5(&origin_id, format!("action/{item}").as_bytes())
}

/// The id of the action that carries `action` forward.
pub fn carried_forward_id(action: ActionId) -> ActionId {
    Uuid::new_v5(&action, b"carried-forward")
}

/// What became of an action, as agreed when it was reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Done; what impact it had.
    Done { impact: Text },
    /// Not finished: it continues as a new action due on `due_date`.
    CarriedForward {
        due_date: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
    },
    /// No longer pursued, and why.
    Dropped { reason: Text },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreedOutcome {
    pub action_id: ActionId,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Outcomes of earlier actions, agreed in a meeting or review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcomesAgreed {
    pub origin_kind: OriginKind,
    pub origin_id: Uuid,
    pub outcomes: Vec<AgreedOutcome>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreed_action_ids_are_stable_per_item() {
        let origin = Uuid::new_v4();
        assert_eq!(agreed_action_id(origin, 1), agreed_action_id(origin, 1));
        assert_ne!(agreed_action_id(origin, 1), agreed_action_id(origin, 2));
        assert_ne!(
            agreed_action_id(origin, 1),
            agreed_action_id(Uuid::new_v4(), 1)
        );
    }

    #[test]
    fn outcomes_serialise_flat() {
        let outcome = AgreedOutcome {
            action_id: Uuid::nil(),
            outcome: Outcome::Dropped {
                reason: Text::parse("superseded").unwrap(),
            },
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["outcome"], "dropped");
        assert_eq!(json["reason"], "superseded");
        assert_eq!(
            serde_json::from_value::<AgreedOutcome>(json).unwrap(),
            outcome
        );
    }
}
