//! Identifier newtypes. Each wraps a UUID so a school id can never be passed where a staff id
//! is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Error returned when a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id")]
pub struct IdParseError {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }
            /// Parses the textual form used at the edges (gRPC, forms, URLs).
            pub fn parse(value: &str) -> Result<Self, IdParseError> {
                Uuid::parse_str(value.trim()).map(Self).map_err(|_| IdParseError {
                    kind: $kind,
                    value: value.chars().take(64).collect(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

id_type!(
    /// A trust (the tenant): a multi-school trust or local authority.
    TrustId,
    "trust"
);
id_type!(
    /// A school within a trust.
    SchoolId,
    "school"
);
id_type!(
    /// A member of staff. Names and contact details live in the directory, not in events.
    StaffId,
    "staff"
);
id_type!(
    /// Whoever caused an event: a staff member, or a service acting on its own (timers).
    ActorId,
    "actor"
);
id_type!(
    /// A file attached to a record as evidence.
    AttachmentId,
    "attachment"
);
id_type!(
    /// A stored event.
    EventId,
    "event"
);
id_type!(
    /// A command as sent by a client; retries carry the same id.
    CommandId,
    "command"
);
id_type!(
    /// Ties together all events that one user intent caused, across services.
    CorrelationId,
    "correlation"
);

impl EventId {
    /// The id of the `index`-th event a command produced. Deriving event ids from the command
    /// id makes a retried command collide with its first attempt instead of appending twice.
    pub fn for_command(command: CommandId, index: usize) -> Self {
        Self(Uuid::new_v5(
            command.as_uuid(),
            &(index as u64).to_be_bytes(),
        ))
    }
}

impl From<StaffId> for ActorId {
    fn from(id: StaffId) -> Self {
        Self(id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        let id = Uuid::new_v4();
        let parsed = SchoolId::parse(&id.to_string()).unwrap();
        assert_eq!(parsed.to_string(), id.to_string());
    }

    #[test]
    fn rejects_garbage_with_the_kind_in_the_message() {
        let err = StaffId::parse("not-a-uuid").unwrap_err();
        assert_eq!(err.to_string(), "`not-a-uuid` is not a valid staff id");
    }

    #[test]
    fn event_ids_for_a_command_are_stable_and_distinct() {
        let command = CommandId::from_uuid(Uuid::new_v4());
        assert_eq!(
            EventId::for_command(command, 0),
            EventId::for_command(command, 0)
        );
        assert_ne!(
            EventId::for_command(command, 0),
            EventId::for_command(command, 1)
        );
    }
}
