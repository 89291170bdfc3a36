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
    /// A database error: worth retrying or not, depending on what it is
    /// ([`HandlerError::is_transient`]).
    #[error("database error while handling an event: {0}")]
    Database(#[from] sqlx::Error),
    /// Worth retrying: something the handler depends on is unavailable for now.
    #[error("temporarily unable to handle event: {0}")]
    Transient(String),
    /// Retrying will not help: the event cannot be handled. It is set aside as a dead letter.
    #[error("cannot handle event: {0}")]
    Permanent(String),
}

impl HandlerError {
    /// Whether trying the same event again may succeed. A lost connection, a deadlock, a
    /// serialization failure, a cancelled statement or a server shutting down may pass; a
    /// broken constraint, bad data or a missing column will fail the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transient(_) => true,
            Self::Permanent(_) => false,
            Self::Database(error) => database_error_is_transient(error),
        }
    }
}

fn database_error_is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => {
            // SQLSTATE classes: 08 connection, 40 transaction rollback (deadlock,
            // serialization), 53 insufficient resources, 55 lock not available, 57 operator
            // intervention (cancelled statement, shutdown), 58 system error.
            let class = error
                .code()
                .map(|code| code.chars().take(2).collect::<String>());
            matches!(
                class.as_deref(),
                Some("08" | "40" | "53" | "55" | "57" | "58")
            )
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
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

/// The span an event is applied in, by consumer or feed: with the correlation id of the
/// command that recorded it, so a trace search finds the command's later effects too.
pub fn event_span(handler: &str, event: &waymark_event_store::RecordedEvent) -> tracing::Span {
    tracing::info_span!(
        "apply",
        handler,
        event_type = %event.event_type,
        position = event.position,
        correlation_id = %event.metadata.correlation_id,
    )
}
