//! The gateway's tests, against the whole of Waymark running for real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http;
mod sign_in;
mod stack;
