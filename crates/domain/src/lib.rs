//! Waymark's domain kernel.
//!
//! Everything here is pure: deciders take a state and a command and return events or a
//! rejection; they never read a clock, a database or the network. Whatever a decision needs
//! from the outside world (the time, who line-manages whom) is looked up *before* deciding and
//! arrives inside the command.

pub mod action_tracking;
pub mod agreed;
pub mod decider;
pub mod directory;
pub mod envelope;
pub mod evidence;
pub mod ids;
pub mod pages;
pub mod rejection;
pub mod review_dialogue;
pub mod scheduling;
pub mod school_year;
pub mod testing;
pub mod text;

pub use decider::{Decider, DomainEvent};
pub use envelope::{EventMetadata, StreamId};
pub use ids::{
    ActorId, AttachmentId, CommandId, CorrelationId, EventId, SchoolId, StaffId, TrustId,
};
pub use rejection::{Rejection, RejectionKind};
pub use text::{Text, TextError};
