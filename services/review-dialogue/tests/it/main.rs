//! review-dialogue over gRPC, against the real PostgreSQL, started in-process on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod access;
mod audits;
mod catalogue;
mod meetings;
mod retention;
mod reviews;
mod support;
mod trust_access;
mod visits;
