//! Bus tests against the real PostgreSQL and private nats-server processes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod feed;
mod jetstream;
mod rebuild;
mod support;
