//! Action tracking: every agreed action followed to done.

pub mod action;
pub mod audit_trail;
mod trail;
