use std::future::Future;

use sqlx::PgConnection;
use waymark_event_store::RecordedEvent;

/// Something that reacts to events: a projection, or a service's consumer of another
/// service's events.
pub trait EventHandler: Send + Sync + 'static {
    /// A stable name: the checkpoint row, the durable consumer. Changing it starts over.
    fn name(&self) -> &str;

    /// The stream categories it wants (e.g. `["review"]`).
    fn categories(&self) -> &[&'static str];

    /// Applies one event through `tx`. Returning an error rolls the effect back.
    fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: the database hiccuped.
    #[error("database error while handling an event")]
    Database(#[from] sqlx::Error),
    /// Worth retrying: something the handler depends on is unavailable for now.
    #[error("temporarily unable to handle event: {0}")]
    Transient(String),
    /// Retrying will not help: the event cannot be handled. It is set aside as a dead letter.
    #[error("cannot handle event: {0}")]
    Permanent(String),
}

impl From<waymark_event_store::StoreError> for HandlerError {
    fn from(error: waymark_event_store::StoreError) -> Self {
        match error {
            waymark_event_store::StoreError::Database(error) => Self::Database(error),
            other => Self::Permanent(other.to_string()),
        }
    }
}

impl From<waymark_event_store::DecodeError> for HandlerError {
    fn from(error: waymark_event_store::DecodeError) -> Self {
        Self::Permanent(format!(
            "{error}: {}",
            std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default()
        ))
    }
}
