//! A school's improvement priority for a year (its improvement plan is the list of them):
//! what it is, the impact intended, who leads it, the quality indicators it serves — and the
//! reviews, visits, meetings, audit weaknesses and actions tied to it, which are the evidence
//! a head teacher takes to governors.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decider::{Decider, DomainEvent};
use crate::ids::{SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::school_year::AcademicYear;
use crate::text::Text;

pub type PriorityId = Uuid;

/// The most records one priority is tied to.
pub const MOST_LINKS: usize = 500;
/// The most quality indicators one priority names.
pub const MOST_INDICATORS: usize = 12;

pub struct Priority;

/// The kinds of record a priority is tied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedKind {
    Review,
    Visit,
    Meeting,
    Action,
    /// A weakness found by a self-evaluation audit: the audit and the weakness's number.
    Weakness,
}

impl LinkedKind {
    pub const ALL: [Self; 5] = [
        Self::Review,
        Self::Visit,
        Self::Meeting,
        Self::Action,
        Self::Weakness,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Visit => "visit",
            Self::Meeting => "meeting",
            Self::Action => "action",
            Self::Weakness => "weakness",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value.trim())
    }
}

/// A record tied to a priority: a whole record, or one item of it (a weakness of an audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    pub kind: LinkedKind,
    pub record_id: Uuid,
    /// The weakness's number in its audit; none for a whole record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
}

impl Link {
    /// A weakness needs its number (from 1); a whole record has none.
    pub fn new(kind: LinkedKind, record_id: Uuid, item: u32) -> Result<Self, &'static str> {
        let item = match (kind, item) {
            (LinkedKind::Weakness, 0) => return Err("a weakness is tied by its number"),
            (LinkedKind::Weakness, n) => Some(n),
            (_, 0) => None,
            (_, _) => return Err("only a weakness is tied by a number"),
        };
        Ok(Self {
            kind,
            record_id,
            item,
        })
    }
}

/// What a priority says; all of it is given again to change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityDetails {
    pub title: Text,
    pub intended_impact: Text,
    pub lead: StaffId,
    #[serde(default)]
    pub quality_indicators: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PriorityCommand {
    Add {
        priority_id: PriorityId,
        school_id: SchoolId,
        academic_year: AcademicYear,
        details: PriorityDetails,
    },
    Change {
        details: PriorityDetails,
    },
    /// No longer worked on (met, or dropped from the plan); what is tied to it stays.
    Retire {
        reason: Text,
    },
    /// Ties a record to it; tying one already tied changes nothing.
    Link {
        link: Link,
    },
    Unlink {
        link: Link,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PriorityEvent {
    PriorityAdded {
        priority_id: PriorityId,
        school_id: SchoolId,
        academic_year: AcademicYear,
        details: PriorityDetails,
    },
    PriorityChanged {
        priority_id: PriorityId,
        details: PriorityDetails,
    },
    PriorityRetired {
        priority_id: PriorityId,
        reason: Text,
    },
    RecordLinked {
        priority_id: PriorityId,
        link: Link,
    },
    RecordUnlinked {
        priority_id: PriorityId,
        link: Link,
    },
}

impl DomainEvent for PriorityEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::PriorityAdded { .. } => "PriorityAdded",
            Self::PriorityChanged { .. } => "PriorityChanged",
            Self::PriorityRetired { .. } => "PriorityRetired",
            Self::RecordLinked { .. } => "RecordLinked",
            Self::RecordUnlinked { .. } => "RecordUnlinked",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityRejection {
    #[error("no such priority")]
    NotFound,
    #[error("this priority exists already")]
    AlreadyExists,
    #[error("the priority is retired")]
    Retired,
    #[error("a priority names at most {MOST_INDICATORS} quality indicators")]
    TooManyIndicators,
    #[error("a priority is tied to at most {MOST_LINKS} records")]
    TooManyLinks,
}

impl Rejection for PriorityRejection {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::AlreadyExists => RejectionKind::AlreadyExists,
            Self::Retired | Self::TooManyLinks => RejectionKind::FailedPrecondition,
            Self::TooManyIndicators => RejectionKind::InvalidArgument,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "priority.not_found",
            Self::AlreadyExists => "priority.already_exists",
            Self::Retired => "priority.retired",
            Self::TooManyIndicators => "priority.too_many_indicators",
            Self::TooManyLinks => "priority.too_many_links",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PriorityState {
    pub priority_id: Option<PriorityId>,
    pub school_id: Option<SchoolId>,
    pub academic_year: Option<AcademicYear>,
    pub details: Option<PriorityDetails>,
    pub retired: Option<Text>,
    /// What is tied to it, oldest first.
    pub linked: Vec<Link>,
}

impl PriorityState {
    fn live(&self) -> Result<PriorityId, PriorityRejection> {
        let id = self.priority_id.ok_or(PriorityRejection::NotFound)?;
        if self.retired.is_some() {
            return Err(PriorityRejection::Retired);
        }
        Ok(id)
    }
}

fn checked(details: &PriorityDetails) -> Result<PriorityDetails, PriorityRejection> {
    if details.quality_indicators.len() > MOST_INDICATORS {
        return Err(PriorityRejection::TooManyIndicators);
    }
    Ok(details.clone())
}

impl Decider for Priority {
    const CATEGORY: &'static str = "priority";
    type State = PriorityState;
    type Command = PriorityCommand;
    type Event = PriorityEvent;
    type Rejection = PriorityRejection;

    fn decide(
        state: &PriorityState,
        command: &PriorityCommand,
    ) -> Result<Vec<PriorityEvent>, PriorityRejection> {
        use PriorityCommand as C;
        use PriorityEvent as E;
        match command {
            C::Add {
                priority_id,
                school_id,
                academic_year,
                details,
            } => {
                if state.priority_id.is_some() {
                    return Err(PriorityRejection::AlreadyExists);
                }
                Ok(vec![E::PriorityAdded {
                    priority_id: *priority_id,
                    school_id: *school_id,
                    academic_year: *academic_year,
                    details: checked(details)?,
                }])
            }
            C::Change { details } => {
                let priority_id = state.live()?;
                if state.details.as_ref() == Some(details) {
                    return Ok(vec![]);
                }
                Ok(vec![E::PriorityChanged {
                    priority_id,
                    details: checked(details)?,
                }])
            }
            C::Retire { reason } => Ok(vec![E::PriorityRetired {
                priority_id: state.live()?,
                reason: reason.clone(),
            }]),
            C::Link { link } => {
                let priority_id = state.live()?;
                if state.linked.contains(link) {
                    return Ok(vec![]);
                }
                if state.linked.len() >= MOST_LINKS {
                    return Err(PriorityRejection::TooManyLinks);
                }
                Ok(vec![E::RecordLinked {
                    priority_id,
                    link: *link,
                }])
            }
            // Untying is allowed once retired too: a wrong tie is corrected whenever found.
            C::Unlink { link } => {
                let priority_id = state.priority_id.ok_or(PriorityRejection::NotFound)?;
                if !state.linked.contains(link) {
                    return Ok(vec![]);
                }
                Ok(vec![E::RecordUnlinked {
                    priority_id,
                    link: *link,
                }])
            }
        }
    }

    fn evolve(mut state: PriorityState, event: &PriorityEvent) -> PriorityState {
        use PriorityEvent as E;
        match event {
            E::PriorityAdded {
                priority_id,
                school_id,
                academic_year,
                details,
            } => {
                state.priority_id = Some(*priority_id);
                state.school_id = Some(*school_id);
                state.academic_year = Some(*academic_year);
                state.details = Some(details.clone());
            }
            E::PriorityChanged { details, .. } => state.details = Some(details.clone()),
            E::PriorityRetired { reason, .. } => state.retired = Some(reason.clone()),
            E::RecordLinked { link, .. } => state.linked.push(*link),
            E::RecordUnlinked { link, .. } => state.linked.retain(|l| l != link),
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

    fn details() -> PriorityDetails {
        PriorityDetails {
            title: text("Reading fluency in KS2"),
            intended_impact: text("Pupils read at pace with expression by Year 6"),
            lead: StaffId::from_uuid(Uuid::new_v4()),
            quality_indicators: vec![text("Quality of education: reading")],
        }
    }

    fn added(id: PriorityId) -> PriorityEvent {
        PriorityEvent::PriorityAdded {
            priority_id: id,
            school_id: SchoolId::from_uuid(Uuid::nil()),
            academic_year: AcademicYear::starting(2026),
            details: details(),
        }
    }

    #[test]
    fn records_are_tied_once_and_a_retired_priority_takes_no_more() {
        let id = Uuid::new_v4();
        let link = Link::new(LinkedKind::Review, Uuid::new_v4(), 0).unwrap();
        let linked = PriorityEvent::RecordLinked {
            priority_id: id,
            link,
        };
        let state = given::<Priority>([added(id)])
            .when(PriorityCommand::Link { link })
            .then([linked.clone()]);
        assert_eq!(state.linked, vec![link]);
        given::<Priority>([added(id), linked.clone()])
            .when(PriorityCommand::Link { link })
            .then([]);
        let retired = PriorityEvent::PriorityRetired {
            priority_id: id,
            reason: text("Met"),
        };
        given::<Priority>([added(id), retired.clone()])
            .when(PriorityCommand::Link { link })
            .then_rejected(PriorityRejection::Retired);
        given::<Priority>([added(id), linked, retired])
            .when(PriorityCommand::Unlink { link })
            .then([PriorityEvent::RecordUnlinked {
                priority_id: id,
                link,
            }]);
        let mut many = details();
        many.quality_indicators = vec![text("QI"); MOST_INDICATORS + 1];
        given::<Priority>([added(id)])
            .when(PriorityCommand::Change { details: many })
            .then_rejected(PriorityRejection::TooManyIndicators);
    }

    #[test]
    fn a_weakness_is_tied_by_its_number_and_a_whole_record_by_none() {
        let audit = Uuid::new_v4();
        assert!(Link::new(LinkedKind::Weakness, audit, 0).is_err());
        assert!(Link::new(LinkedKind::Review, audit, 2).is_err());
        let second = Link::new(LinkedKind::Weakness, audit, 2).unwrap();
        let third = Link::new(LinkedKind::Weakness, audit, 3).unwrap();
        assert_ne!(second, third);
        let id = Uuid::new_v4();
        let linked = PriorityEvent::RecordLinked {
            priority_id: id,
            link: second,
        };
        given::<Priority>([added(id), linked.clone()])
            .when(PriorityCommand::Link { link: third })
            .then([PriorityEvent::RecordLinked {
                priority_id: id,
                link: third,
            }]);
        let stored = serde_json::to_value(second).unwrap();
        assert_eq!(stored["item"], 2);
        let whole = serde_json::to_value(Link::new(LinkedKind::Visit, audit, 0).unwrap()).unwrap();
        assert!(whole.get("item").is_none(), "{whole}");
    }
}
