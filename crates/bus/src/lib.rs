//! Moving events from the store to whoever reacts to them.
//!
//! - [`relay`]: publishes every committed event to JetStream, from a checkpoint, with the
//!   event id as `Nats-Msg-Id`; one active relay among replicas (a PostgreSQL advisory lock).
//! - [`jetstream`]: durable pull consumers that apply each event exactly once in effect.
//! - [`feed`]: the same contract straight from the event store, for projections and for
//!   running every service in one process without NATS.
//! - [`rebuild`]: a projection built again from the start of the store while the old one
//!   keeps serving.
//!
//! Handlers implement [`EventHandler`]; they receive a database transaction and must make
//! their effect through it, so the effect and the record of having processed the event
//! commit together.

pub mod feed;
mod handler;
pub mod jetstream;
mod migrate;
pub mod rebuild;
pub mod relay;
mod stuck;
mod wait;

pub use feed::{FeedHandle, spawn_feed};
pub use handler::{EventHandler, HandlerError};
pub use migrate::{SCHEMA_HISTORY, migrate, migrator};
pub use rebuild::{Projection, Rebuild};
