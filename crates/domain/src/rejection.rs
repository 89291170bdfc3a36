//! Domain rejections: the domain said no. They are a different type from infrastructure
//! failures (a database outage is never a rejection), and each carries a kind that the one
//! mapping table in `waymark-runtime` turns into a gRPC code and an HTTP status.

use std::fmt;

/// The short vocabulary of reasons a command is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// The command is malformed or breaks a rule about its own content.
    InvalidArgument,
    /// The command names something that does not exist (or that the caller may not know of).
    NotFound,
    /// The command is well formed but the current state does not allow it.
    FailedPrecondition,
    /// The thing the command would create exists already.
    AlreadyExists,
    /// The caller is not the person this decision belongs to.
    PermissionDenied,
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidArgument => "invalid argument",
            Self::NotFound => "not found",
            Self::FailedPrecondition => "failed precondition",
            Self::AlreadyExists => "already exists",
            Self::PermissionDenied => "permission denied",
        })
    }
}

/// Implemented by every decider's rejection type.
pub trait Rejection: std::error::Error + Send + Sync + 'static {
    /// How the edge should report it.
    fn kind(&self) -> RejectionKind;
    /// A stable, documented machine-readable code, e.g. `review.not_line_manager`.
    fn code(&self) -> &'static str;
}
