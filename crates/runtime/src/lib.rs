//! What every Waymark service shares.
//!
//! - [`config`]: typed, layered configuration (defaults → file → `WAYMARK_*` env vars).
//! - [`telemetry`]: tracing and the Prometheus recorder.
//! - [`error`]: the one table from error kinds to gRPC codes and HTTP statuses.
//! - [`auth`]: signed caller tokens; every gRPC request carries one.
//! - [`grpc`]: one port per service for gRPC, health, reflection and `/metrics`; the
//!   channels between services.
//! - [`tls`]: TLS on those ports and calls.
//! - [`platform`]: the connections a service runs on, built once from the config.
//! - [`clock`]: the one injectable clock.
//! - [`schema`]: migrating, or checking, each component's schema; the service role's grants.
//! - [`objects`]: files kept outside the database (a local directory or an S3 bucket).
//! - [`evidence`]: files attached to records, kept by the service that owns the record.

pub mod access;
pub mod auth;
pub mod clock;
pub mod config;
pub mod directory;
pub mod error;
pub mod evidence;
pub mod grpc;
pub mod net;
pub mod objects;
pub mod parse;
pub mod personal_data;
pub mod platform;
pub mod process;
pub mod retention;
pub mod schema;
pub mod secret;
pub mod telemetry;
pub mod tls;

pub use auth::{Caller, Keys};
pub use clock::{Clock, ManualClock, RunningClock, SystemClock};
pub use config::Config;
pub use error::{ErrorKind, ServiceError};
pub use platform::Platform;
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken as Shutdown;
