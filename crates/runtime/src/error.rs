//! The one place errors become gRPC codes and HTTP statuses.
//!
//! | kind | gRPC | HTTP | when |
//! |---|---|---|---|
//! | `InvalidArgument` | INVALID_ARGUMENT | 400 | malformed input, a rule about the input itself |
//! | `NotFound` | NOT_FOUND | 404 | no such record in the caller's trust (other trusts' records do not exist for them) |
//! | `FailedPrecondition` | FAILED_PRECONDITION | 409 | the record's state does not allow it now |
//! | `AlreadyExists` | ALREADY_EXISTS | 409 | it exists already |
//! | `PermissionDenied` | PERMISSION_DENIED | 403 | the caller is not the person this belongs to |
//! | `Unauthenticated` | UNAUTHENTICATED | 401 | no valid caller token / session |
//! | `Conflict` | ABORTED | 409 | someone else changed the record at the same moment; retry |
//! | `Unavailable` | UNAVAILABLE | 503 | the database or a service is down; retry later |
//! | `Internal` | INTERNAL | 500 | a bug |
//!
//! Every error also carries a stable machine-readable `code` (e.g. `review.not_line_manager`),
//! sent to gRPC clients in the `x-waymark-code` metadata entry.

use std::borrow::Cow;
use std::fmt;

use tonic::metadata::MetadataValue;
use waymark_domain::{Rejection, RejectionKind};
use waymark_event_store::{AppendError, ExecuteError, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    AlreadyExists,
    PermissionDenied,
    Unauthenticated,
    Conflict,
    Unavailable,
    Internal,
}

/// kind → (gRPC code, HTTP status).
const TABLE: [(ErrorKind, tonic::Code, u16); 9] = [
    (
        ErrorKind::InvalidArgument,
        tonic::Code::InvalidArgument,
        400,
    ),
    (ErrorKind::NotFound, tonic::Code::NotFound, 404),
    (
        ErrorKind::FailedPrecondition,
        tonic::Code::FailedPrecondition,
        409,
    ),
    (ErrorKind::AlreadyExists, tonic::Code::AlreadyExists, 409),
    (
        ErrorKind::PermissionDenied,
        tonic::Code::PermissionDenied,
        403,
    ),
    (
        ErrorKind::Unauthenticated,
        tonic::Code::Unauthenticated,
        401,
    ),
    (ErrorKind::Conflict, tonic::Code::Aborted, 409),
    (ErrorKind::Unavailable, tonic::Code::Unavailable, 503),
    (ErrorKind::Internal, tonic::Code::Internal, 500),
];

impl ErrorKind {
    pub fn grpc_code(self) -> tonic::Code {
        TABLE
            .iter()
            .find(|(kind, ..)| *kind == self)
            .map_or(tonic::Code::Internal, |row| row.1)
    }

    pub fn http_status(self) -> http::StatusCode {
        let status = TABLE
            .iter()
            .find(|(kind, ..)| *kind == self)
            .map_or(500, |row| row.2);
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The kind behind a gRPC code a service returned (codes outside the table are internal).
    pub fn from_grpc(code: tonic::Code) -> Self {
        match code {
            tonic::Code::DeadlineExceeded => Self::Unavailable,
            code => TABLE
                .iter()
                .find(|row| row.1 == code)
                .map_or(Self::Internal, |row| row.0),
        }
    }
}

impl From<RejectionKind> for ErrorKind {
    fn from(kind: RejectionKind) -> Self {
        match kind {
            RejectionKind::InvalidArgument => Self::InvalidArgument,
            RejectionKind::NotFound => Self::NotFound,
            RejectionKind::FailedPrecondition => Self::FailedPrecondition,
            RejectionKind::AlreadyExists => Self::AlreadyExists,
            RejectionKind::PermissionDenied => Self::PermissionDenied,
        }
    }
}

/// An error as a service reports it: a kind, a stable code, a message fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub code: Cow<'static, str>,
    pub message: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ServiceError {}

impl ServiceError {
    pub fn new(
        kind: ErrorKind,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn invalid(field: &str, problem: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::InvalidArgument,
            "invalid_argument",
            format!("{field}: {problem}"),
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "unauthenticated", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, "unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, "internal", message)
    }

    /// A domain rejection, reported with its own code.
    pub fn rejected<R: Rejection>(rejection: &R) -> Self {
        Self::new(
            rejection.kind().into(),
            rejection.code(),
            rejection.to_string(),
        )
    }

    /// Reads back an error another service returned over gRPC.
    pub fn from_status(status: &tonic::Status) -> Self {
        let code = status
            .metadata()
            .get("x-waymark-code")
            .and_then(|value| value.to_str().ok())
            .map_or_else(
                || Cow::Borrowed("upstream"),
                |code| Cow::Owned(code.to_owned()),
            );
        Self {
            kind: ErrorKind::from_grpc(status.code()),
            code,
            message: status.message().to_owned(),
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        let mut status = tonic::Status::new(error.kind.grpc_code(), error.message);
        if let Ok(code) = MetadataValue::try_from(error.code.as_ref()) {
            status.metadata_mut().insert("x-waymark-code", code);
        }
        status
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(error) => error.into(),
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "stored data cannot be read");
                Self::internal("stored data cannot be read")
            }
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        // The details go to the log; the caller learns only that storage is unavailable.
        tracing::error!(%error, "database error");
        Self::unavailable("storage is unavailable; try again")
    }
}

impl From<AppendError> for ServiceError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict(conflict) => Self::new(
                ErrorKind::Conflict,
                "conflict",
                format!("{conflict}; try again"),
            ),
            AppendError::Store(error) => error.into(),
            too_large @ AppendError::TooLarge { .. } => Self::new(
                ErrorKind::InvalidArgument,
                "event.too_large",
                format!("{too_large}: send less at once"),
            ),
            other => Self::internal(other.to_string()),
        }
    }
}

impl<R: Rejection> From<ExecuteError<R>> for ServiceError {
    fn from(error: ExecuteError<R>) -> Self {
        match error {
            ExecuteError::Rejected(rejection) => Self::rejected(&rejection),
            ExecuteError::Conflict(conflict) => Self::new(
                ErrorKind::Conflict,
                "conflict",
                format!("{conflict}; try again"),
            ),
            ExecuteError::CommandReused(id) => Self::new(
                ErrorKind::InvalidArgument,
                "command_id_reused",
                format!("command id {id} was already used for another record"),
            ),
            ExecuteError::TooLarge(error) => error.into(),
            ExecuteError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_grpc() {
        for (kind, code, status) in TABLE {
            assert_eq!(kind.grpc_code(), code);
            assert_eq!(kind.http_status().as_u16(), status);
            assert_eq!(ErrorKind::from_grpc(code), kind);
        }
    }

    #[test]
    fn the_code_travels_in_metadata() {
        let error = ServiceError::new(
            ErrorKind::FailedPrecondition,
            "review.not_agreed",
            "not yet",
        );
        let status = tonic::Status::from(error.clone());
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(ServiceError::from_status(&status), error);
    }
}
