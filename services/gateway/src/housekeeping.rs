//! What the gateway clears away on its own: sessions past their idle or absolute limit,
//! sign-in failure counts older than their 15-minute window, and sign-in flows never
//! finished (older than 10 minutes). Every ten minutes, and tested directly.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waymark_runtime::Platform;

use crate::settings::Web;

/// How many rows went, of each kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    pub sessions: u64,
    pub sign_in_failures: u64,
    pub sign_in_flows: u64,
}

/// Deletes what has run out by `now`.
pub async fn clear(pool: &PgPool, now: DateTime<Utc>, web: &Web) -> Result<Cleared, sqlx::Error> {
    let idle = now - chrono::Duration::minutes(web.session_idle_minutes);
    let absolute = now - chrono::Duration::hours(web.session_absolute_hours);
    let sessions = sqlx::query!(
        "DELETE FROM gateway.sessions WHERE last_seen_at < $1 OR created_at < $2",
        idle,
        absolute
    )
    .execute(pool)
    .await?
    .rows_affected();
    let sign_in_failures = sqlx::query!(
        "DELETE FROM gateway.sign_in_failures WHERE window_start < $1",
        now - chrono::Duration::minutes(15)
    )
    .execute(pool)
    .await?
    .rows_affected();
    let sign_in_flows = sqlx::query!(
        "DELETE FROM gateway.sso_flows WHERE created_at < $1",
        now - chrono::Duration::minutes(10)
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Cleared {
        sessions,
        sign_in_failures,
        sign_in_flows,
    })
}

pub fn spawn(platform: Arc<Platform>, web: Web, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match clear(&platform.pool, platform.clock.now(), &web).await {
                Ok(cleared) if cleared != Cleared::default() => {
                    tracing::info!(?cleared, "cleared expired sign-in records");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "clearing expired sign-in records failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(Duration::from_secs(600)) => {}
            }
        }
    })
}
