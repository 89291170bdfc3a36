//! Readers (feeds and JetStream consumers) that cannot get past an event: they stop there
//! rather than skip it, and say so in `bus.stuck_feeds` until an attempt gets through.

use sqlx::PgPool;
use waymark_domain::EventId;

/// After this many failures in a row on one event, a reader whose errors look transient is
/// reported stuck as well (it keeps trying).
pub(crate) const STUCK_AFTER: u32 = 10;

/// Records that `name` cannot get past `event`, for operators (and `/readyz`).
pub(crate) async fn stick(
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

pub(crate) async fn unstick(pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM bus.stuck_feeds WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}
