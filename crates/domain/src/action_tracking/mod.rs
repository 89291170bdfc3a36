//! Action tracking: every agreed action followed to done.

pub mod action;
mod trail;
