//! Across services: a command on one service reaches another through the event store, the
//! relay and JetStream (or the in-process feed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod audits;
mod deploy;
mod faults;
mod grpc_tls;
mod health;
mod journeys;
mod nats_auth;
mod slice;
mod stalls;
mod support;
mod traces;
