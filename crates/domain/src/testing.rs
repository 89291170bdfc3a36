//! Given/when/then specifications for deciders:
//!
//! ```text
//! given::<Review>([scheduled()]).when(hold_meeting()).then([meeting_held()]);
//! given::<Review>([]).when(agree()).then_rejected(ReviewRejection::NotScheduled);
//! ```

use crate::decider::Decider;
use crate::rejection::{Rejection, RejectionKind};
use std::fmt::Debug;

/// Starts a specification from the events already in the stream.
pub fn given<D: Decider>(events: impl IntoIterator<Item = D::Event>) -> Given<D> {
    Given {
        events: events.into_iter().collect(),
    }
}

pub struct Given<D: Decider> {
    events: Vec<D::Event>,
}

impl<D: Decider> Given<D> {
    pub fn when(self, command: D::Command) -> Then<D> {
        let state = D::fold(self.events.iter());
        let result = D::decide(&state, &command);
        Then { state, result }
    }
}

pub struct Then<D: Decider> {
    state: D::State,
    result: Result<Vec<D::Event>, D::Rejection>,
}

impl<D: Decider> Then<D> {
    /// Asserts the command produced exactly these events; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = D::Event>) -> D::State {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events");
                events
                    .iter()
                    .fold(self.state, |state, event| D::evolve(state, event))
            }
            Err(rejection) => panic!(
                "expected events {expected:?}, the command was rejected: {rejection} ({})",
                rejection.code()
            ),
        }
    }

    /// Asserts the command was rejected with exactly this rejection.
    #[track_caller]
    pub fn then_rejected(self, expected: D::Rejection)
    where
        D::Rejection: PartialEq + Debug,
    {
        match self.result {
            Ok(events) => panic!("expected rejection {expected:?}, got events {events:?}"),
            Err(rejection) => assert_eq!(rejection, expected),
        }
    }

    /// Asserts the command was rejected with this kind and code.
    #[track_caller]
    pub fn then_rejected_as(self, kind: RejectionKind, code: &str) {
        match self.result {
            Ok(events) => panic!("expected a `{code}` rejection, got events {events:?}"),
            Err(rejection) => {
                assert_eq!(
                    (rejection.kind(), rejection.code()),
                    (kind, code),
                    "{rejection}"
                );
            }
        }
    }

    /// Gives the raw outcome for assertions the helpers above do not cover.
    pub fn outcome(self) -> Result<Vec<D::Event>, D::Rejection> {
        self.result
    }
}
