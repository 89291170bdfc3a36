//! The access log is kept for `retention.access_log_days` by the service's clock, then
//! deleted by the retention job, which reports the deletion in
//! `review_dialogue.retention_runs`.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::ManualClock;
use waymark_testkit::eventually;
use waymark_testkit::services::TestPlatform;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_is_deleted_once_past_keeping() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap());
    let mut platform = TestPlatform::start_configured(
        None,
        Arc::new(clock.clone()),
        &[
            ("retention.interval_s", "1"),
            ("retention.access_log_days", "30"),
        ],
    )
    .await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut manager = client(&platform, address, team.manager);
    let review = manager
        .schedule_review(schedule(&team, Uuid::new_v4(), "Year 8"))
        .await
        .unwrap()
        .into_inner()
        .id;
    manager
        .get_review(pb::GetRecordRequest { id: review.clone() })
        .await
        .unwrap();
    let record = Uuid::parse_str(&review).unwrap();
    let logged = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM review_dialogue.access_log WHERE record_id = $1")
            .bind(record)
            .fetch_one(&platform.platform.pool)
            .await
            .unwrap()
    };
    assert_eq!(logged().await, 1, "the read is logged");

    // Twenty-nine days on, it is kept; thirty-one days on, it is gone.
    clock.advance(Duration::days(29));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(logged().await, 1);
    clock.advance(Duration::days(2));
    eventually(
        std::time::Duration::from_secs(30),
        "the entry deleted",
        || async { logged().await == 0 },
    )
    .await;
    let runs: Vec<(String, i64)> =
        sqlx::query_as("SELECT rule, deleted FROM review_dialogue.retention_runs")
            .fetch_all(&platform.platform.pool)
            .await
            .unwrap();
    assert_eq!(runs, vec![("access_log".to_owned(), 1)]);
    platform.stop().await;
}
