//! Readers (feeds and JetStream consumers) that cannot get past an event: they stop there
//! rather than skip it, and say so in `bus.stuck_feeds` until an attempt gets through.

use sqlx::PgPool;
use waymark_domain::EventId;

use crate::handler::HandlerError;

/// After this many failures in a row on one event, a reader whose errors look transient is
/// reported stuck as well (it keeps trying).
const STUCK_AFTER: u32 = 10;

/// Whether a reader is reported stuck, kept in step with `bus.stuck_feeds` and the
/// `waymark_feed_stuck` gauge.
pub(crate) struct Stuck {
    name: String,
    reported: bool,
}

impl Stuck {
    /// Not known at start: a record left by an earlier run is cleared by the first success.
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            reported: true,
        }
    }

    /// The reader got past whatever stopped it.
    pub(crate) async fn cleared(&mut self, pool: &PgPool) {
        if !self.reported {
            return;
        }
        match unstick(pool, &self.name).await {
            Ok(()) => {
                self.reported = false;
                metrics::gauge!("waymark_feed_stuck", "feed" => self.name.clone()).set(0.0);
            }
            Err(error) => {
                tracing::warn!(reader = %self.name, %error, "could not clear the stuck record")
            }
        }
    }

    /// The `failures`-th attempt in a row failed with `error` (on `event`, if known): reported
    /// stuck when the error will not pass by itself or has not for a while, logged otherwise.
    pub(crate) async fn failed(
        &mut self,
        pool: &PgPool,
        event: Option<(EventId, i64)>,
        error: &HandlerError,
        failures: u32,
    ) {
        let transient = error.is_transient();
        let error = error.to_string();
        if transient && failures < STUCK_AFTER {
            tracing::warn!(reader = %self.name, %error, failures, "handling failed; retrying");
            return;
        }
        tracing::error!(reader = %self.name, ?event, %error, failures, transient, "stuck on an event it cannot handle");
        if let Err(error) = stick(pool, &self.name, event, &error, failures).await {
            tracing::warn!(reader = %self.name, %error, "could not record the stuck reader");
        }
        metrics::gauge!("waymark_feed_stuck", "feed" => self.name.clone()).set(1.0);
        self.reported = true;
    }
}

/// Records that `name` cannot get past `event`, for operators (and `/readyz`).
async fn stick(
    pool: &PgPool,
    name: &str,
    event: Option<(EventId, i64)>,
    error: &str,
    attempts: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bus.stuck_feeds (name, event_id, position, error, attempts) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET event_id = $2, position = $3, error = $4, \
             attempts = $5, last_attempt_at = now()",
    )
    .bind(name)
    .bind(event.map(|(id, _)| id.into_uuid()))
    .bind(event.map(|(_, position)| position))
    .bind(error)
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

async fn unstick(pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM bus.stuck_feeds WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}
