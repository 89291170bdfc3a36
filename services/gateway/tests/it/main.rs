//! The gateway's tests, against the whole of Waymark running for real, in a real browser
//! where a person would use one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_log;
mod admin;
mod audits;
mod authorization;
mod browser;
mod demo;
mod fair_visits;
mod files;
mod forms;
mod home;
mod http;
mod journeys;
mod meetings;
mod notices;
mod occurrences;
mod people;
mod priorities;
mod search;
mod sign_in;
mod sso;
mod stack;
mod stale;
mod subject_access;
mod term;
mod trust;
mod visits;
