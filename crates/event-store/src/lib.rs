//! Waymark's event store: append-only streams in one PostgreSQL table, read back per stream or
//! globally in position order without ever skipping an event that commits late.
//!
//! - [`EventStore`] is the port; [`PgEventStore`] its PostgreSQL adapter.
//! - [`Subscription`] follows the global log from a checkpoint (catch-up, then live).
//! - [`execute`] runs one command through a pure decider: load, decide, append, retry on
//!   conflict, and return the original result when a command is retried.

mod aggregate;
mod error;
mod migrate;
mod postgres;
mod subscription;
mod types;

pub use aggregate::{CommandContext, ExecuteError, Executed, execute};
pub use error::{AppendError, DecodeError, StoreError, VersionConflict};
pub use migrate::{MigrateError, SCHEMA_HISTORY, migrate, migrator};
pub use postgres::{Now, PgEventStore};
pub use subscription::Subscription;
pub use types::{
    AppendOutcome, Checkpoint, ExpectedVersion, Filter, NewEvent, ReadBatch, RecordedEvent, decode,
};

/// The largest payload an event may have, in bytes of JSON. The relay publishes each event
/// to JetStream as one message, and NATS refuses messages over its `max_payload` (1 MiB by
/// default); an event that could never be published would hold up every one after it, so it
/// is refused when appended instead (`AppendError::TooLarge`).
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

use std::future::Future;
use waymark_domain::ids::CommandId;
use waymark_domain::{EventMetadata, StreamId, TrustId};

/// The event store port.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends `events` to `stream` if its version matches `expected`, in one statement.
    /// Appending events whose ids are already stored (a retry) returns the original outcome
    /// with `replayed` set instead of storing them twice.
    fn append(
        &self,
        trust: TrustId,
        stream: &StreamId,
        expected: ExpectedVersion,
        metadata: &EventMetadata,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<AppendOutcome, AppendError>> + Send;

    /// The events of one stream of one trust from `from_version` on, in version order. A
    /// stream of another trust reads as empty.
    fn read_stream(
        &self,
        trust: TrustId,
        stream: &StreamId,
        from_version: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Up to `limit` committed events after `after`, in position order, gap-safe.
    fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
        filter: &Filter,
    ) -> impl Future<Output = Result<ReadBatch, StoreError>> + Send;

    /// The events a command produced, if it ran before (for idempotent retries).
    fn find_command(
        &self,
        trust: TrustId,
        command: CommandId,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;
}
