//! `waymark projections rebuild`: action tracking's read models made again from the store,
//! equal to what the live projection made, and the audit chain left as it is (the old
//! rebuild path jammed on the chain's unique event id).

use sqlx::PgPool;
use waymark_testkit::services::{TestPlatform, staff};

use crate::audit::{History, history, verify};
use crate::support::*;

/// Every row of `table`, as text, in a fixed order.
async fn rows(pool: &PgPool, table: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]')::text FROM {table} t"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

const TABLES: [&str; 3] = [
    "action_tracking.actions",
    "action_tracking.action_notes",
    "action_tracking.directories",
];

async fn read_models(pool: &PgPool) -> Vec<String> {
    let mut all = Vec::new();
    for table in TABLES {
        all.push(rows(pool, table).await);
    }
    all
}

async fn rebuild(platform: &TestPlatform, name: &str) -> waymark_bus::rebuild::Rebuilt {
    let projections = waymark_action_tracking::projections();
    let projection = projections.iter().find(|p| p.name() == name).unwrap();
    projection
        .run(&platform.platform.store, &mut |_| {})
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilt_read_models_equal_the_live_ones_and_the_chain_is_not_extended() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let History {
        leader,
        teacher,
        school,
        ..
    } = history(&platform, address).await;
    let pool = platform.db.pool.clone();
    let live = read_models(&pool).await;
    assert!(live.iter().all(|rows| rows != "[]"), "{live:?}");

    // Read models gone wrong (a projection bug, a hand edit).
    for statement in [
        "UPDATE action_tracking.actions SET description = 'spoiled', status = 'open'",
        "DELETE FROM action_tracking.action_notes",
        "DELETE FROM action_tracking.directories",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    let actions = rebuild(&platform, "action-tracking.actions.v1").await;
    assert_eq!(actions.events, 9);
    let directory = rebuild(&platform, "action_tracking.directory").await;
    assert!(directory.events >= 1);
    assert_eq!(read_models(&pool).await, live);
    let mut leading = client(&platform, address, leader);
    let report = verify(&mut leading).await;
    assert!(
        report.intact && report.events_checked == 9,
        "the chain as it was: {report:?}"
    );

    // The live projection carries on from the rebuild: a new action shows, chained once.
    let new = client(&platform, address, teacher)
        .create_action(create(
            school,
            &staff(teacher).to_string(),
            "2027-01-15",
            "Action after the rebuild",
        ))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let shown = leading
        .get_action(waymark_proto::action_tracking::v1::GetActionRequest { action_id: new })
        .await
        .unwrap()
        .into_inner()
        .action
        .unwrap();
    assert_eq!(shown.description, "Action after the rebuild");
    waymark_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the chain to take the new action in",
        || {
            let mut leading = leading.clone();
            async move { verify(&mut leading).await.events_checked == 10 }
        },
    )
    .await;
    assert!(verify(&mut leading).await.intact);
    platform.stop().await;
}
