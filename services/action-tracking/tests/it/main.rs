//! action-tracking over gRPC and through its consumers, against the real PostgreSQL and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod access;
mod agreements;
mod anchors;
mod audit;
mod evidence;
mod lifecycle;
mod rebuild;
mod restore;
mod support;
