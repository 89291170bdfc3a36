//! The decider contract: `decide` turns a command into events (or a rejection) given the
//! current state; `evolve` folds one event into the state. Both are pure and synchronous.

use crate::rejection::Rejection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// An event as the domain knows it. Serialised as JSON with its type in a `type` field.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync
{
    /// The stored type name, e.g. `ReviewScheduled`. Past tense, stable forever.
    fn event_type(&self) -> &'static str;

    /// The schema version of the payload this code writes.
    fn schema_version(&self) -> u32 {
        1
    }

    /// Rewrites an older stored payload into the current shape before it is deserialised.
    /// The default accepts only version 1.
    fn upcast(
        event_type: &str,
        schema_version: u32,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value, UpcastError> {
        if schema_version == 1 {
            Ok(payload)
        } else {
            Err(UpcastError {
                event_type: event_type.to_owned(),
                schema_version,
            })
        }
    }
}

/// A stored event whose schema version this code cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no upcaster for {event_type} schema version {schema_version}")]
pub struct UpcastError {
    pub event_type: String,
    pub schema_version: u32,
}

/// An aggregate's decision logic.
pub trait Decider {
    /// The stream category, e.g. `review`; streams are named `review-<uuid>`.
    const CATEGORY: &'static str;
    type State: Default + Clone + Debug + Send + Sync;
    type Command: Debug + Send + Sync;
    type Event: DomainEvent;
    type Rejection: Rejection;

    fn decide(
        state: &Self::State,
        command: &Self::Command,
    ) -> Result<Vec<Self::Event>, Self::Rejection>;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The state after all of `events`, starting from the initial state.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), |state, event| {
                Self::evolve(state, event)
            })
    }
}
