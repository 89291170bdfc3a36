//! A trust's review settings: its look-fors and evidence sources, and whether meetings may
//! name pupils.
//!
//! Look-fors and evidence sources: Each trust starts from the defaults of the
//! progress review model (eight look-fors, five sources) and may rename, add, retire and
//! restore them; reviews keep the names they used, so old reviews never change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decider::{Decider, DomainEvent};
use crate::rejection::{Rejection, RejectionKind};
use crate::text::Text;

pub struct Catalogue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    LookFor,
    Source,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LookFor => "look_for",
            Self::Source => "source",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::LookFor, Self::Source]
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: Uuid,
    pub kind: ItemKind,
    pub label: Text,
    #[serde(default)]
    pub retired: bool,
}

pub const DEFAULT_LOOK_FORS: [&str; 8] = [
    "Formative comment stickers",
    "Student responses",
    "General marking",
    "Meaningful self and peer assessment",
    "Attitude to learning",
    "Challenge",
    "Homework",
    "Progress",
];

pub const DEFAULT_SOURCES: [&str; 5] = [
    "Classroom visit",
    "Book look",
    "Student voice",
    "Homework platform",
    "Data analysis platform",
];

/// The defaults every trust starts with; their ids are the same in every trust.
pub fn defaults() -> Vec<Item> {
    let item = |kind: ItemKind, label: &str| Item {
        id: Uuid::new_v5(
            &Uuid::nil(),
            format!("{}/{label}", kind.as_str()).as_bytes(),
        ),
        kind,
        label: Text::parse(label).unwrap_or_else(|_| unreachable!("defaults are valid text")),
        retired: false,
    };
    DEFAULT_LOOK_FORS
        .iter()
        .map(|label| item(ItemKind::LookFor, label))
        .chain(
            DEFAULT_SOURCES
                .iter()
                .map(|label| item(ItemKind::Source, label)),
        )
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub enum CatalogueCommand {
    /// Starts the catalogue with the defaults; does nothing if it has started.
    Start,
    Add {
        id: Uuid,
        kind: ItemKind,
        label: Text,
    },
    Rename {
        id: Uuid,
        label: Text,
    },
    Retire {
        id: Uuid,
    },
    Restore {
        id: Uuid,
    },
    /// Whether meetings may name pupils (otherwise initials or MIS ids only).
    AllowLearnerNames {
        allowed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CatalogueEvent {
    CatalogueStarted { items: Vec<Item> },
    CatalogueItemAdded { item: Item },
    CatalogueItemRenamed { id: Uuid, label: Text },
    CatalogueItemRetired { id: Uuid },
    CatalogueItemRestored { id: Uuid },
    LearnerNamesPolicySet { allowed: bool },
}

impl DomainEvent for CatalogueEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::CatalogueStarted { .. } => "CatalogueStarted",
            Self::CatalogueItemAdded { .. } => "CatalogueItemAdded",
            Self::CatalogueItemRenamed { .. } => "CatalogueItemRenamed",
            Self::CatalogueItemRetired { .. } => "CatalogueItemRetired",
            Self::CatalogueItemRestored { .. } => "CatalogueItemRestored",
            Self::LearnerNamesPolicySet { .. } => "LearnerNamesPolicySet",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueRejection {
    #[error("no such look-for or source")]
    NotFound,
    #[error("`{0}` is already in use")]
    DuplicateLabel(String),
    #[error("that id is already in use")]
    DuplicateId,
}

impl Rejection for CatalogueRejection {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::DuplicateLabel(_) | Self::DuplicateId => RejectionKind::AlreadyExists,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "catalogue.not_found",
            Self::DuplicateLabel(_) => "catalogue.duplicate_label",
            Self::DuplicateId => "catalogue.duplicate_id",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogueState {
    pub started: bool,
    pub items: Vec<Item>,
    #[serde(default)]
    pub learner_names_allowed: bool,
}

impl CatalogueState {
    fn item(&self, id: Uuid) -> Result<&Item, CatalogueRejection> {
        self.items
            .iter()
            .find(|item| item.id == id)
            .ok_or(CatalogueRejection::NotFound)
    }

    fn check_label(
        &self,
        kind: ItemKind,
        label: &Text,
        except: Option<Uuid>,
    ) -> Result<(), CatalogueRejection> {
        let taken = self.items.iter().any(|item| {
            item.kind == kind
                && Some(item.id) != except
                && item.label.as_str().eq_ignore_ascii_case(label.as_str())
        });
        if taken {
            Err(CatalogueRejection::DuplicateLabel(label.to_string()))
        } else {
            Ok(())
        }
    }
}

impl Decider for Catalogue {
    const CATEGORY: &'static str = "catalogue";
    type State = CatalogueState;
    type Command = CatalogueCommand;
    type Event = CatalogueEvent;
    type Rejection = CatalogueRejection;

    fn decide(
        state: &CatalogueState,
        command: &CatalogueCommand,
    ) -> Result<Vec<CatalogueEvent>, CatalogueRejection> {
        use CatalogueCommand as C;
        use CatalogueEvent as E;
        // Any change starts the catalogue first, so the defaults are always there.
        let mut events = Vec::new();
        let mut state = state.clone();
        if !state.started {
            let started = E::CatalogueStarted { items: defaults() };
            state = Self::evolve(state, &started);
            events.push(started);
        }
        match command {
            C::Start => {}
            C::Add { id, kind, label } => {
                if state.items.iter().any(|item| item.id == *id) {
                    return Err(CatalogueRejection::DuplicateId);
                }
                state.check_label(*kind, label, None)?;
                events.push(E::CatalogueItemAdded {
                    item: Item {
                        id: *id,
                        kind: *kind,
                        label: label.clone(),
                        retired: false,
                    },
                });
            }
            C::Rename { id, label } => {
                let item = state.item(*id)?;
                if item.label != *label {
                    state.check_label(item.kind, label, Some(*id))?;
                    events.push(E::CatalogueItemRenamed {
                        id: *id,
                        label: label.clone(),
                    });
                }
            }
            C::Retire { id } => {
                if !state.item(*id)?.retired {
                    events.push(E::CatalogueItemRetired { id: *id });
                }
            }
            C::Restore { id } => {
                if state.item(*id)?.retired {
                    events.push(E::CatalogueItemRestored { id: *id });
                }
            }
            C::AllowLearnerNames { allowed } => {
                if state.learner_names_allowed != *allowed {
                    events.push(E::LearnerNamesPolicySet { allowed: *allowed });
                }
            }
        }
        Ok(events)
    }

    fn evolve(mut state: CatalogueState, event: &CatalogueEvent) -> CatalogueState {
        use CatalogueEvent as E;
        let mut set = |id: &Uuid, change: &dyn Fn(&mut Item)| {
            if let Some(item) = state.items.iter_mut().find(|item| item.id == *id) {
                change(item);
            }
        };
        match event {
            E::CatalogueStarted { items } => {
                state.started = true;
                state.items = items.clone();
            }
            E::CatalogueItemAdded { item } => state.items.push(item.clone()),
            E::CatalogueItemRenamed { id, label } => set(id, &|item| item.label = label.clone()),
            E::CatalogueItemRetired { id } => set(id, &|item| item.retired = true),
            E::CatalogueItemRestored { id } => set(id, &|item| item.retired = false),
            E::LearnerNamesPolicySet { allowed } => state.learner_names_allowed = *allowed,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn started() -> CatalogueEvent {
        CatalogueEvent::CatalogueStarted { items: defaults() }
    }

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    #[test]
    fn a_catalogue_starts_with_eight_look_fors_and_five_sources() {
        let state = given::<Catalogue>([])
            .when(CatalogueCommand::Start)
            .then([started()]);
        let count = |kind| state.items.iter().filter(|item| item.kind == kind).count();
        assert_eq!((count(ItemKind::LookFor), count(ItemKind::Source)), (8, 5));
        given::<Catalogue>([started()])
            .when(CatalogueCommand::Start)
            .then([]);
    }

    #[test]
    fn the_first_change_starts_the_catalogue_too() {
        let id = Uuid::new_v4();
        given::<Catalogue>([])
            .when(CatalogueCommand::Add {
                id,
                kind: ItemKind::LookFor,
                label: text("Oracy"),
            })
            .then([
                started(),
                CatalogueEvent::CatalogueItemAdded {
                    item: Item {
                        id,
                        kind: ItemKind::LookFor,
                        label: text("Oracy"),
                        retired: false,
                    },
                },
            ]);
    }

    #[test]
    fn labels_are_unique_per_kind_ignoring_case() {
        given::<Catalogue>([started()])
            .when(CatalogueCommand::Add {
                id: Uuid::new_v4(),
                kind: ItemKind::LookFor,
                label: text("homework"),
            })
            .then_rejected(CatalogueRejection::DuplicateLabel("homework".into()));
        // A source may share a look-for's name.
        given::<Catalogue>([started()])
            .when(CatalogueCommand::Add {
                id: Uuid::new_v4(),
                kind: ItemKind::Source,
                label: text("Homework"),
            })
            .outcome()
            .unwrap();
    }

    #[test]
    fn renaming_retiring_and_restoring() {
        let homework = defaults()[6].id;
        given::<Catalogue>([started()])
            .when(CatalogueCommand::Rename {
                id: homework,
                label: text("Independent study"),
            })
            .then([CatalogueEvent::CatalogueItemRenamed {
                id: homework,
                label: text("Independent study"),
            }]);
        let retired = given::<Catalogue>([started()])
            .when(CatalogueCommand::Retire { id: homework })
            .then([CatalogueEvent::CatalogueItemRetired { id: homework }]);
        assert!(retired.items[6].retired);
        given::<Catalogue>([
            started(),
            CatalogueEvent::CatalogueItemRetired { id: homework },
        ])
        .when(CatalogueCommand::Restore { id: homework })
        .then([CatalogueEvent::CatalogueItemRestored { id: homework }]);
        given::<Catalogue>([started()])
            .when(CatalogueCommand::Retire { id: Uuid::new_v4() })
            .then_rejected(CatalogueRejection::NotFound);
    }
}
