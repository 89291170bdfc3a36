//! Bus tests against the real PostgreSQL and private nats-server processes.

mod feed;
mod jetstream;
mod support;
