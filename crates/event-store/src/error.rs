use waymark_domain::decider::UpcastError;
use waymark_domain::{EventId, StreamId};

use crate::types::ExpectedVersion;

/// The store could not do its job: the database failed, or what it holds cannot be read.
/// Never a domain decision.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("event store database error")]
    Database(#[from] sqlx::Error),
    #[error("stored event is unreadable: {0}")]
    Corrupt(String),
}

/// The stream was not at the version the writer expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stream} is at version {actual}, the append expected {expected}")]
pub struct VersionConflict {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub actual: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Conflict(#[from] VersionConflict),
    /// An event id is already stored for a different stream or a different batch: a client
    /// bug, never a retry.
    #[error("event id {0} is already used by another append")]
    EventIdReused(EventId),
    #[error("an append needs at least one event")]
    Empty,
    /// An event's payload is larger than [`crate::MAX_EVENT_BYTES`]: it could not be
    /// published to JetStream, so it is not stored.
    #[error("a {event_type} event of {bytes} bytes is larger than the {limit} an event may be")]
    TooLarge {
        event_type: String,
        bytes: usize,
        limit: usize,
    },
    /// Starting new streams, one of them existed already.
    #[error("one of the streams to start exists already")]
    StreamExists,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

/// A stored event could not be turned back into a domain event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("event {event_id} does not match its type")]
    Json {
        event_id: EventId,
        #[source]
        source: serde_json::Error,
    },
    #[error("event {event_id} cannot be upcast")]
    Upcast {
        event_id: EventId,
        #[source]
        source: UpcastError,
    },
}

impl From<DecodeError> for StoreError {
    fn from(error: DecodeError) -> Self {
        Self::Corrupt(format!(
            "{error}: {}",
            std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default()
        ))
    }
}
