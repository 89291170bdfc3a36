//! scheduling over gRPC and through its timers, against the real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod access;
mod checklists;
mod holding;
mod plan_changes;
mod support;
mod timers;
mod year;
