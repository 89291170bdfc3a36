//! notifications against the real PostgreSQL, NATS, an SMTP sink and an HTTP endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod access;
mod agenda;
mod delivery;
mod digest;
mod retention;
mod slow_smtp;
mod support;
