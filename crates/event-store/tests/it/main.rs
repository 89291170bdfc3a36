//! Event store tests against the real PostgreSQL: one database per test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod append;
mod concurrency;
mod execute;
mod gap_safety;
mod support;
