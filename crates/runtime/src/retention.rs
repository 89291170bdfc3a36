//! Retention: each service deletes its own rows once they are older than the trust keeps
//! them, on a schedule, and records what it did in its `retention_runs` table (one row per
//! rule per run that deleted anything). The ages are settings (`retention.*`, in days), the
//! same for every trust of an installation.
//!
//! | key | what is kept that long | default |
//! |---|---|---|
//! | `notices_days` | notices in people's inboxes | 365 |
//! | `deliveries_days` | the e-mail and webhook delivery log (sent or parked only) | 90 |
//! | `access_log_days` | who opened which record | 2190 (six years) |
//! | `interval_s` | how often the job runs | 3600 |

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;

use crate::clock::Clock;
use crate::config::Config;

/// The longest any retention setting may be: a hundred years.
const MOST_DAYS: u32 = 36_500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    pub notices_days: u32,
    pub deliveries_days: u32,
    pub access_log_days: u32,
    pub interval_s: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            notices_days: 365,
            deliveries_days: 90,
            access_log_days: 2190,
            interval_s: 3600,
        }
    }
}

impl RetentionSettings {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let settings: Self = config
            .section("retention")
            .map_err(|error| error.to_string())?;
        for (key, days) in [
            ("notices_days", settings.notices_days),
            ("deliveries_days", settings.deliveries_days),
            ("access_log_days", settings.access_log_days),
        ] {
            if !(1..=MOST_DAYS).contains(&days) {
                return Err(format!("retention.{key} must be 1 to {MOST_DAYS} days"));
            }
        }
        if settings.interval_s == 0 {
            return Err("retention.interval_s must be at least 1".to_owned());
        }
        Ok(settings)
    }
}

/// Rows of `table` whose `age` column is older than `days`, and that match `only`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What the report calls it ("notices").
    pub name: &'static str,
    pub table: &'static str,
    /// The column the age is counted from.
    pub age: &'static str,
    /// A further condition (SQL), or "true".
    pub only: &'static str,
    pub days: u32,
}

/// Applies every rule once, as of `now`; the rows deleted per rule, in order. Each rule's
/// deletion and its line in `runs` (the service's `retention_runs`) go in one transaction.
pub async fn apply(
    pool: &PgPool,
    runs: &str,
    rules: &[Rule],
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
    let mut done = Vec::new();
    for rule in rules {
        let before = now - chrono::Duration::days(i64::from(rule.days));
        let mut tx = pool.begin().await?;
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {} WHERE {} < $1 AND ({})",
            rule.table, rule.age, rule.only
        )))
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted > 0 {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {runs} (ran_at, rule, older_than, deleted) VALUES ($1, $2, $3, $4)"
            )))
            .bind(now)
            .bind(rule.name)
            .bind(before)
            .bind(i64::try_from(deleted).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        done.push((rule.name, deleted));
    }
    Ok(done)
}

/// Runs [`apply`] every `interval_s` until `shutdown`.
pub fn spawn(
    pool: PgPool,
    clock: Arc<dyn Clock>,
    runs: &'static str,
    rules: Vec<Rule>,
    interval_s: u64,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(interval_s));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            match apply(&pool, runs, &rules, clock.now()).await {
                Ok(done) => {
                    for (rule, deleted) in done.into_iter().filter(|(_, n)| *n > 0) {
                        tracing::info!(rule, deleted, "retention: deleted what is past keeping");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "the retention job failed; it runs again later");
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused_not_used() {
        let settings = |key: &str, value: &str| {
            RetentionSettings::from_config(&Config::with(&[(key, value)]).unwrap())
        };
        assert_eq!(
            settings("retention.notices_days", "30")
                .unwrap()
                .notices_days,
            30
        );
        assert!(settings("retention.notices_days", "0").is_err());
        assert!(settings("retention.deliveries_days", "40000").is_err());
        assert!(settings("retention.access_log_days", "0").is_err());
        assert!(settings("retention.interval_s", "0").is_err());
        assert!(settings("retention.forever", "1").is_err());
    }
}
