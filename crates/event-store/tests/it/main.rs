//! Event store tests against the real PostgreSQL: one database per test.

mod append;
mod concurrency;
mod execute;
mod gap_safety;
mod support;
