//! Timer firing: 10,000 timers due in the same second, then 10,000 due at distinct times over
//! ten seconds, fired by two workers (as two replicas would). Prints how long the whole lot
//! took and the lateness (fired − due) at p50, p99 and worst.
//!
//! `cargo bench -p waymark-scheduling` (needs PostgreSQL; see README).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use waymark_scheduling::worker::{self, WorkerOptions};
use waymark_testkit::services::TestPlatform;

const TIMERS: i64 = 10_000;

async fn scenario(platform: &TestPlatform, name: &str, spread_ms: i64) {
    sqlx::query("DELETE FROM scheduling.timers")
        .execute(&platform.db.pool)
        .await
        .unwrap();
    let due = Utc::now() + chrono::Duration::seconds(2);
    sqlx::query(
        "INSERT INTO scheduling.timers (timer_id, trust_id, school_id, subject_kind, subject_id, title, reminder, recipient_id, \
         due_date, local_date, fire_at) \
         SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'action', gen_random_uuid(), 'Action ' || n, 'due', \
         gen_random_uuid(), current_date, current_date, $1 + (n * $3 / $2) * interval '1 millisecond' \
         FROM generate_series(0, $2 - 1) n",
    )
    .bind(due)
    .bind(TIMERS)
    .bind(spread_ms)
    .execute(&platform.db.pool)
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let wake = Arc::new(tokio::sync::Notify::new());
    let workers: Vec<_> = (0..2)
        .map(|_| {
            worker::spawn(
                platform.platform.clone(),
                WorkerOptions::default(),
                wake.clone(),
                shutdown.clone(),
            )
        })
        .collect();
    let started = Instant::now();
    loop {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM scheduling.timers WHERE state = 'pending'")
                .fetch_one(&platform.db.pool)
                .await
                .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "timers did not all fire"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    for worker in workers {
        worker.await.unwrap();
    }
    let (p50, p99, worst, first, last): (f64, f64, f64, chrono::DateTime<Utc>, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - fire_at)), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - fire_at)), \
                max(extract(epoch FROM fired_at - fire_at))::float8, min(fire_at), max(fired_at) \
         FROM scheduling.timers",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    let fired: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_store.events WHERE event_type = 'ReminderDue'",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    println!(
        "| {name} | {TIMERS} | {:.2} s | {:.0} ms | {:.0} ms | {:.0} ms |",
        (last - first).num_milliseconds() as f64 / 1000.0,
        p50 * 1000.0,
        p99 * 1000.0,
        worst * 1000.0
    );
    assert!(fired >= TIMERS);
}

#[tokio::main]
async fn main() {
    // The real clock: lateness is measured against it (the tests' clock is elsewhere in time).
    let platform =
        TestPlatform::start_with_clock(None, Arc::new(waymark_runtime::SystemClock)).await;
    waymark_scheduling::migrate(&platform.db.pool)
        .await
        .unwrap();
    println!("Timer firing with two workers (batch 500, poll 200 ms)");
    println!(
        "| timers due | count | first due → last fired | p50 lateness | p99 lateness | worst |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    scenario(&platform, "all in the same second", 0).await;
    scenario(&platform, "spread over 10 s", 10_000).await;
    platform.stop().await;
}
