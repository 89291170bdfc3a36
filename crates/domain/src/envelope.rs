//! The event envelope: what the store keeps around every domain event.

use crate::ids::{ActorId, CommandId, CorrelationId, EventId, TrustId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A stream name: `<category>-<uuid>`, e.g. `review-0190…`. The category says which
/// aggregate (and so which service) owns the stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a stream id (expected <category>-<id>, lowercase letters and digits)")]
pub struct StreamIdError(String);

impl StreamId {
    pub fn new(category: &str, id: Uuid) -> Self {
        Self(format!("{category}-{id}"))
    }

    pub fn parse(value: &str) -> Result<Self, StreamIdError> {
        let valid = value.len() <= 200
            && value.split_once('-').is_some_and(|(category, rest)| {
                !category.is_empty()
                    && !rest.is_empty()
                    && category
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(StreamIdError(value.chars().take(64).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn category(&self) -> &str {
        self.0
            .split_once('-')
            .map_or(&self.0, |(category, _)| category)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who and what caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub actor: ActorId,
    /// The event this one reacted to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<EventId>,
    pub correlation_id: CorrelationId,
    /// The command that produced it, if a command did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<CommandId>,
}

/// A stored event with everything the store knows about it. `P` is the payload: the raw JSON
/// as stored, or a decoded domain event. Serialised as is when events travel over the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<P> {
    /// Global order: readers read in position order, up to the point below which nothing
    /// can still commit.
    pub position: i64,
    /// The storing transaction's id, as a record (not an order: it does not survive a move
    /// to another database cluster).
    pub tx_id: i64,
    pub event_id: EventId,
    pub stream_id: StreamId,
    /// 1 for the first event of a stream.
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: u32,
    pub trust_id: TrustId,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
    pub payload: P,
}

impl<P> Envelope<P> {
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Envelope<Q> {
        Envelope {
            position: self.position,
            tx_id: self.tx_id,
            event_id: self.event_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_type: self.event_type,
            schema_version: self.schema_version,
            trust_id: self.trust_id,
            metadata: self.metadata,
            recorded_at: self.recorded_at,
            payload: f(self.payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_carry_their_category() {
        let id = StreamId::new("review", Uuid::nil());
        assert_eq!(id.category(), "review");
        assert_eq!(StreamId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn malformed_stream_ids_are_refused() {
        for bad in ["", "review", "-x", "Review-1", "a b-1", "review-"] {
            assert!(StreamId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
