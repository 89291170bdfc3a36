//! Retention against the real service: the job deletes the delivery log after
//! `retention.deliveries_days` and notices after `retention.notices_days`, by the service's
//! clock, and reports each deletion in `notifications.retention_runs`.

use chrono::Duration;
use uuid::Uuid;
use waymark_runtime::ManualClock;
use waymark_testkit::services::colleague;
use waymark_testkit::{NatsServer, eventually};

use crate::support::*;

async fn count(platform: &waymark_testkit::services::TestPlatform, sql: &str, who: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(who)
        .fetch_one(&platform.platform.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_and_notices_are_deleted_once_past_keeping() {
    let nats = NatsServer::start().await;
    let smtp_port = port();
    let sink = waymark_testkit::smtp::SmtpSink::start(smtp_port);
    let clock = ManualClock::new(at(2026, 11, 24, 8, 0));
    let (platform, address) = start(
        Some(nats.url()),
        Some(clock.clone()),
        smtp_port,
        &[
            ("retention.interval_s", "1"),
            ("retention.deliveries_days", "90"),
            ("retention.notices_days", "365"),
        ],
    )
    .await;
    let head = trust_admin(&platform).await;
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    contact(
        &platform,
        address,
        head,
        teacher,
        "sam@example.org",
        None,
        school,
    )
    .await;
    remind(&platform, head, teacher, school, "due").await;
    eventually(PATIENCE, "the e-mail", || async { sink.count() == 1 }).await;
    let who = teacher.into_uuid();
    let deliveries = "SELECT count(*) FROM notifications.deliveries WHERE recipient_id = $1";
    let notices = "SELECT count(*) FROM notifications.notices WHERE recipient_id = $1";
    eventually(PATIENCE, "the delivery recorded as sent", || async {
        count(
            &platform,
            "SELECT count(*) FROM notifications.deliveries WHERE recipient_id = $1 AND state = 'sent'",
            who,
        )
        .await
            == 1
    })
    .await;

    // Eighty-nine days on, everything is kept.
    clock.advance(Duration::days(89));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(count(&platform, deliveries, who).await, 1);
    // Ninety-one days on, the delivery log goes; the notice stays.
    clock.advance(Duration::days(2));
    eventually(PATIENCE, "the delivery deleted", || async {
        count(&platform, deliveries, who).await == 0
    })
    .await;
    assert_eq!(count(&platform, notices, who).await, 1);
    // After a year and a day, the notice goes too.
    clock.advance(Duration::days(275));
    eventually(PATIENCE, "the notice deleted", || async {
        count(&platform, notices, who).await == 0
    })
    .await;
    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT rule, deleted FROM notifications.retention_runs ORDER BY ran_at, rule",
    )
    .fetch_all(&platform.platform.pool)
    .await
    .unwrap();
    assert_eq!(
        runs,
        vec![("deliveries".to_owned(), 1), ("notices".to_owned(), 1)]
    );
    platform.stop().await;
}
