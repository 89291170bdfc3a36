use serde_json::value::RawValue;
use waymark_domain::envelope::Envelope;
use waymark_domain::{DomainEvent, EventId, StreamId};

use crate::error::DecodeError;

/// What the writer believes the stream's version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version (1 for one event).
    Exact(i64),
}

impl ExpectedVersion {
    /// The expectation for a stream last seen at `version` (0 = empty).
    pub fn from_version(version: i64) -> Self {
        if version == 0 {
            Self::NoStream
        } else {
            Self::Exact(version)
        }
    }

    pub(crate) fn as_sql(self) -> Option<i64> {
        match self {
            Self::Any => None,
            Self::NoStream => Some(0),
            Self::Exact(v) => Some(v),
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: EventId,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub fn from_domain<E: DomainEvent>(
        event_id: EventId,
        event: &E,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            event_id,
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            payload: serde_json::to_value(event)?,
        })
    }
}

/// The result of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub stream_id: StreamId,
    /// The stream's version after the append (the last new event's version).
    pub version: i64,
    /// The global positions of the new events, in order.
    pub positions: Vec<i64>,
    /// Where a reader stands once it has read the last of these events.
    pub checkpoint: Checkpoint,
    /// True when these events were stored by an earlier attempt of the same append.
    pub replayed: bool,
}

/// A stored event, payload still JSON.
pub type RecordedEvent = Envelope<Box<RawValue>>;

/// Decodes a stored event into a domain event, upcasting older schema versions first.
pub fn decode<E: DomainEvent>(event: &RecordedEvent) -> Result<E, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_str(event.payload.get()).map_err(|source| DecodeError::Json {
            event_id: event.event_id,
            source,
        })?;
    let value = E::upcast(&event.event_type, event.schema_version, value).map_err(|source| {
        DecodeError::Upcast {
            event_id: event.event_id,
            source,
        }
    })?;
    serde_json::from_value(value).map_err(|source| DecodeError::Json {
        event_id: event.event_id,
        source,
    })
}

/// A reader's place in the global log: every position up to this one has been read.
/// Readers read in position order only up to the store's horizon, below which nothing can
/// still commit, so an event that commits late is read after the others, never skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Checkpoint {
    pub position: i64,
}

impl Checkpoint {
    /// Before the first event.
    pub const START: Self = Self { position: 0 };

    /// The checkpoint just after `event`.
    pub fn of<P>(event: &Envelope<P>) -> Self {
        Self {
            position: event.position,
        }
    }
}

/// Which events a global read returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only streams of these categories (e.g. `review`); `None` for all.
    pub categories: Option<Vec<String>>,
}

impl Filter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn categories<I: IntoIterator<Item = S>, S: Into<String>>(categories: I) -> Self {
        Self {
            categories: Some(categories.into_iter().map(Into::into).collect()),
        }
    }
}

/// One page of the global log.
#[derive(Debug)]
pub struct ReadBatch {
    pub events: Vec<RecordedEvent>,
    /// Where the next read starts. It can move past the last event returned when the store
    /// knows no earlier event can still commit.
    pub checkpoint: Checkpoint,
    /// True when committed events exist that are not readable yet because a transaction
    /// appending below them is still open: worth polling again soon.
    pub held_back: bool,
}
