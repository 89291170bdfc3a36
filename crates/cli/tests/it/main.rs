//! The `waymark` command, run as a process against the real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod processes;

use std::process::Output;

use uuid::Uuid;
use waymark_proto::action_tracking::v1 as pb;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_testkit::services::{TEST_KEY, TestPlatform, colleague, new_caller};

async fn waymark(platform: &TestPlatform, args: &[&str]) -> Output {
    waymark_with(platform, &[], args).await
}

async fn waymark_with(platform: &TestPlatform, env: &[(&str, &str)], args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(args)
        .env_clear()
        .env("WAYMARK_DATABASE__URL", &platform.db.url)
        .env("WAYMARK_AUTH__INTERNAL_KEY", TEST_KEY)
        .env("WAYMARK_LOG__FILTER", "warn")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap()
}

/// Creates one action in a new trust; returns the trust and the action's stream.
async fn one_action(platform: &TestPlatform, address: std::net::SocketAddr) -> (String, String) {
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    waymark_testkit::directory::school(
        platform,
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
    (
        leader.trust.to_string(),
        format!("action-{}", action.action_id),
    )
}

/// What someone with the database's superuser could do: rewrite an event's due date.
async fn rewrite_due_date(platform: &TestPlatform, stream: &str) {
    let mut tx = platform.db.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE event_store.events DISABLE TRIGGER events_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE event_store.events SET payload = jsonb_set(payload, '{due_date}', '\"2027-07-01\"') WHERE stream_id = $1")
        .bind(stream)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE event_store.events ENABLE TRIGGER events_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn verify_audit_exits_zero_when_intact_and_five_when_tampered() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (trust, stream) = one_action(&platform, address).await;

    let intact = waymark(&platform, &["verify-audit", "--trust", &trust]).await;
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert_eq!(
        intact.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(stdout.contains("intact, 1 events"), "{stdout}");

    rewrite_due_date(&platform, &stream).await;

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
async fn a_new_audit_key_anchors_and_a_public_key_alone_verifies() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (trust, stream) = one_action(&platform, address).await;
    let keys = waymark(&platform, &["audit-key"]).await;
    let keys = String::from_utf8_lossy(&keys.stdout).into_owned();
    let value = |name: &str| {
        keys.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no {name} in {keys}"))
            .to_owned()
    };
    let (signing, verifying) = (value("signing_key"), value("verifying_key"));
    let dir = tempfile::tempdir().unwrap();
    let place = format!("file://{}", dir.path().display());
    let signer = [
        ("WAYMARK_AUDIT__SIGNING_KEY", signing.as_str()),
        ("WAYMARK_AUDIT__ANCHORS__URL", place.as_str()),
    ];
    let auditor = [
        ("WAYMARK_AUDIT__VERIFYING_KEY", verifying.as_str()),
        ("WAYMARK_AUDIT__ANCHORS__URL", place.as_str()),
    ];

    let anchored = waymark_with(&platform, &signer, &["anchor-audit"]).await;
    let stdout = String::from_utf8_lossy(&anchored.stdout);
    assert_eq!(anchored.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("trust {trust}, actions: anchored through link 1")),
        "{stdout}"
    );
    let checked = waymark_with(&platform, &auditor, &["verify-audit"]).await;
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("intact, 1 events"), "{stdout}");
    assert!(stdout.contains("anchored through link 1"), "{stdout}");
    // The public key cannot sign.
    let refused = waymark_with(&platform, &auditor, &["anchor-audit"]).await;
    assert_ne!(refused.status.code(), Some(0));

    rewrite_due_date(&platform, &stream).await;
    let tampered = waymark_with(&platform, &auditor, &["verify-audit"]).await;
    let stdout = String::from_utf8_lossy(&tampered.stdout);
    assert_eq!(tampered.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("TAMPERED at link 1"), "{stdout}");
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
async fn projections_are_listed_and_one_is_rebuilt_by_name() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    one_action(&platform, address).await;
    let description = || async {
        sqlx::query_scalar::<_, String>("SELECT description FROM action_tracking.actions")
            .fetch_one(&platform.db.pool)
            .await
            .unwrap()
    };
    sqlx::query("UPDATE action_tracking.actions SET description = 'spoiled'")
        .execute(&platform.db.pool)
        .await
        .unwrap();

    let listed = waymark(&platform, &["projections", "list"]).await;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("action-tracking.actions.v1: at "),
        "{stdout}"
    );
    assert!(
        stdout.contains("scheduling.records.v1: not started"),
        "{stdout}"
    );

    let rebuilt = waymark(
        &platform,
        &["projections", "rebuild", "action-tracking.actions.v1"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&rebuilt.stdout);
    assert_eq!(
        rebuilt.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert!(stdout.contains("rebuilt from 1 events"), "{stdout}");
    assert_eq!(
        description().await,
        "Share the marking policy with new staff"
    );

    let unknown = waymark(&platform, &["projections", "rebuild", "actions"]).await;
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no projection called actions")
            && stderr.contains("action-tracking.actions.v1"),
        "{stderr}"
    );
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

/// The role the services run as in production; `scripts/test` creates it.
const SERVICE_ROLE: &str = "waymark_app";

/// `url` with another role signing in (its password is its name).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    format!("{scheme}://{role}:{role}@{host}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_role_works_but_cannot_alter_the_event_store_or_the_chain() {
    use std::sync::Arc;
    use waymark_runtime::{Config, Platform};

    let owner = TestPlatform::start(None).await;
    let app_url = as_role(&owner.db.url, SERVICE_ROLE);
    let service = |url: &str| {
        Config::with(&[
            ("database.url", url),
            ("database.migrate", "false"),
            ("auth.internal_key", TEST_KEY),
        ])
        .unwrap()
    };
    // Before the owner has migrated and granted, the service role cannot start a service:
    // it may not migrate, and says what to run.
    let early = Platform::connect(service(&app_url), Arc::new(waymark_testkit::time::clock()))
        .await
        .unwrap();
    let refused = early.migrate_core().await.unwrap_err();
    let refused = format!("{refused}: {:?}", refused);
    assert!(refused.contains("waymark migrate"), "{refused}");

    let migrated = waymark_with(
        &owner,
        &[("WAYMARK_DATABASE__SERVICE_ROLE", SERVICE_ROLE)],
        &["migrate"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&migrated.stdout);
    assert_eq!(
        migrated.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(stdout.contains("granted waymark_app"), "{stdout}");

    // Action tracking as the service role: it checks the schema, projects, appends, chains.
    let platform = Platform::connect(service(&app_url), Arc::new(waymark_testkit::time::clock()))
        .await
        .unwrap();
    platform.migrate_core().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(waymark_action_tracking::run(
        platform.clone(),
        listener,
        shutdown.clone(),
    ));
    let (trust, _) = one_action(&owner, address).await;
    let checked = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["verify-audit", "--trust", &trust])
        .env_clear()
        .env("WAYMARK_DATABASE__URL", &app_url)
        .env("WAYMARK_DATABASE__MIGRATE", "false")
        .env("WAYMARK_AUTH__INTERNAL_KEY", TEST_KEY)
        .env("WAYMARK_LOG__FILTER", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("intact, 1 events"), "{stdout}");

    // What someone holding the service's credentials cannot do.
    let app = sqlx::PgPool::connect(&app_url).await.unwrap();
    for statement in [
        "ALTER TABLE event_store.events DISABLE TRIGGER events_append_only",
        "DROP TRIGGER events_append_only ON event_store.events",
        "TRUNCATE event_store.events",
        "UPDATE event_store.events SET payload = payload",
        "DELETE FROM event_store.events",
        "ALTER TABLE event_store.events DROP COLUMN payload",
        "UPDATE action_tracking.audit_chain SET hash = hash",
        "DELETE FROM action_tracking.audit_chain",
        "TRUNCATE action_tracking.audit_chain",
        "UPDATE action_tracking.record_chain SET hash = hash",
        "DELETE FROM action_tracking.record_chain",
        "CREATE TABLE event_store.elsewhere (payload jsonb)",
    ] {
        let error = sqlx::query(statement).execute(&app).await.unwrap_err();
        assert_eq!(
            error.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("42501"),
            "{statement}: {error}"
        );
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();
    app.close().await;
    platform.pool.close().await;
    early.pool.close().await;
    owner.stop().await;
}
