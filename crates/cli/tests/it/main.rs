//! The `waymark` command, run as a process against the real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::process::Output;

use uuid::Uuid;
use waymark_proto::action_tracking::v1 as pb;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_testkit::services::{TEST_KEY, TestPlatform, colleague, new_caller};

async fn waymark(platform: &TestPlatform, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(args)
        .env_clear()
        .env("WAYMARK_DATABASE__URL", &platform.db.url)
        .env("WAYMARK_AUTH__INTERNAL_KEY", TEST_KEY)
        .env("WAYMARK_LOG__FILTER", "warn")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn verify_audit_exits_zero_when_intact_and_five_when_tampered() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    waymark_testkit::directory::school(
        &platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        leader,
        school,
        &[teacher],
    )
    .await;
    let mut client = ActionTrackingClient::new(platform.client(address, leader));
    let action = client
        .create_action(pb::CreateActionRequest {
            command_id: Uuid::new_v4().to_string(),
            school_id: school.to_string(),
            description: "Share the marking policy with new staff".into(),
            owner_id: teacher.to_string(),
            due_date: "2026-12-04".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let trust = leader.trust.to_string();

    let intact = waymark(&platform, &["verify-audit", "--trust", &trust]).await;
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert_eq!(
        intact.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(stdout.contains("intact, 1 events"), "{stdout}");

    let mut tx = platform.db.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE event_store.events DISABLE TRIGGER events_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE event_store.events SET payload = jsonb_set(payload, '{due_date}', '\"2027-07-01\"') WHERE stream_id = $1")
        .bind(format!("action-{}", action.action_id))
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE event_store.events ENABLE TRIGGER events_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let tampered = waymark(&platform, &["verify-audit"]).await;
    let stdout = String::from_utf8_lossy(&tampered.stdout);
    assert_eq!(tampered.status.code(), Some(5), "{stdout}");
    assert!(
        stdout.contains("TAMPERED at link 1") && stdout.contains("altered"),
        "{stdout}"
    );
    platform.stop().await;
}

#[tokio::test]
async fn configuration_and_usage_errors_have_their_own_exit_codes() {
    let platform = TestPlatform::start(None).await;
    let no_key = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["migrate"])
        .env_clear()
        .env("WAYMARK_DATABASE__URL", &platform.db.url)
        .output()
        .await
        .unwrap();
    assert_eq!(no_key.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("auth.internal_key"));
    let usage = waymark(&platform, &["serve"]).await;
    assert_eq!(usage.status.code(), Some(2));
    let bad_trust = waymark(&platform, &["verify-audit", "--trust", "nope"]).await;
    assert_eq!(bad_trust.status.code(), Some(2));
    let unreachable = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["migrate"])
        .env_clear()
        .env(
            "WAYMARK_DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .env("WAYMARK_AUTH__INTERNAL_KEY", TEST_KEY)
        .output()
        .await
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(4));
    platform.stop().await;
}

#[tokio::test]
async fn bootstrap_creates_a_trust_and_an_invitation_for_its_administrator() {
    let platform = TestPlatform::start(None).await;
    let done = waymark(
        &platform,
        &[
            "bootstrap",
            "--trust",
            "Riverbend Learning Trust",
            "--school",
            "Riverbend Primary",
            "--admin-name",
            "Ada Admin",
            "--admin-email",
            "ada@riverbend.example",
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("/invitations/"), "{stdout}");
    let (email, schools): (String, i32) = sqlx::query_as(
        "SELECT p.email, jsonb_array_length(jsonb_path_query_array(d.doc, '$.schools.*')) \
         FROM gateway.people p JOIN gateway.directories d USING (trust_id)",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!((email.as_str(), schools), ("ada@riverbend.example", 1));

    // A missing argument is a usage error.
    let wrong = waymark(&platform, &["bootstrap", "--trust", "No admin"]).await;
    assert_eq!(wrong.status.code(), Some(2));
    platform.stop().await;
}
