use uuid::Uuid;
use waymark_proto::action_tracking::v1 as pb;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

use crate::support::*;

/// Who made [`some_history`], where, and the actions' ids.
pub(crate) struct History {
    pub leader: waymark_runtime::auth::Caller,
    pub teacher: waymark_runtime::auth::Caller,
    pub school: Uuid,
    pub ids: Vec<String>,
}

/// Three actions a teacher sets themselves, with a few changes each: 9 events in the
/// trust's chain; and a client for the leader, who also administers the trust (who
/// verifies the chain and reads every trail).
pub(crate) async fn some_history(
    platform: &TestPlatform,
    address: std::net::SocketAddr,
) -> (Client, Vec<String>) {
    let history = history(platform, address).await;
    (
        crate::support::client(platform, address, history.leader),
        history.ids,
    )
}

/// As [`some_history`], returning who and where.
pub(crate) async fn history(platform: &TestPlatform, address: std::net::SocketAddr) -> History {
    let leader = new_caller();
    let (teacher_caller, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    crate::support::school(platform, leader, school, &[teacher]).await;
    let mut client = client(platform, address, teacher_caller);
    let owner = teacher.to_string();
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = client
            .create_action(create(school, &owner, "2026-12-11", &format!("Action {n}")))
            .await
            .unwrap()
            .into_inner()
            .action_id;
        client.note_progress(text(&id, "Under way")).await.unwrap();
        client
            .complete_action(text(&id, "Pupils respond to feedback"))
            .await
            .unwrap();
        ids.push(id);
    }
    waymark_testkit::directory::grant_trust_role(
        platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        leader,
        waymark_domain::directory::Role::TrustAdmin,
    )
    .await;
    // Verifying the trust's chain is not for a teacher, even one whose actions it holds.
    let refused = client
        .verify_audit_trail(pb::VerifyAuditTrailRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    History {
        leader,
        teacher: teacher_caller,
        school,
        ids,
    }
}

pub(crate) async fn verify(client: &mut Client) -> pb::VerifyReport {
    client
        .verify_audit_trail(pb::VerifyAuditTrailRequest::default())
        .await
        .unwrap()
        .into_inner()
}

pub(crate) async fn chained_event(platform: &TestPlatform, seq: i64) -> Uuid {
    sqlx::query_scalar("SELECT event_id FROM action_tracking.audit_chain WHERE seq = $1")
        .bind(seq)
        .fetch_one(&platform.db.pool)
        .await
        .unwrap()
}

/// What someone with direct database access could do: switch off the append-only guard.
pub(crate) async fn tamper(platform: &TestPlatform, sql: &str, event: Uuid) {
    let mut tx = platform.db.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE event_store.events DISABLE TRIGGER events_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(event)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    sqlx::query("ALTER TABLE event_store.events ENABLE TRIGGER events_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn an_intact_chain_verifies_and_an_altered_event_is_named() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, _) = some_history(&platform, address).await;

    let report = verify(&mut client).await;
    assert!(report.intact, "{:?}", report.problem);
    assert_eq!(report.events_checked, 9);
    assert_eq!(report.head_hash.len(), 64);

    // Rewrite the impact recorded by the sixth event (the second action's completion).
    let victim = chained_event(&platform, 6).await;
    tamper(
        &platform,
        "UPDATE event_store.events SET payload = jsonb_set(payload, '{impact}', '\"Forged impact\"') WHERE event_id = $1",
        victim,
    )
    .await;
    let report = verify(&mut client).await;
    assert!(!report.intact);
    let problem = report.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (6, "altered"));
    assert_eq!(problem.event_id, victim.to_string());
    assert_eq!(report.events_checked, 5, "everything before it checked out");
    platform.stop().await;
}

/// The trail of an action, as people read it.
async fn trail(client: &mut Client, action: &str) -> Vec<pb::AuditEntry> {
    client
        .get_audit_trail(pb::GetActionRequest {
            action_id: action.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries
}

#[tokio::test]
async fn the_trail_people_read_is_what_the_chain_covers() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, ids) = some_history(&platform, address).await;
    // The chain keeps links and what the trail is looked up by; no copy of what it shows.
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'action_tracking' AND table_name = 'audit_chain' ORDER BY column_name",
    )
    .fetch_all(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!(
        columns,
        [
            "action_id",
            "event_id",
            "hash",
            "prev_hash",
            "school_id",
            "seq",
            "trust_id"
        ]
    );
    let done = trail(&mut client, &ids[1]).await;
    assert_eq!(done[2].summary, "Done. Impact: Pupils respond to feedback");

    // Rewrite what the trail shows: the trail shows it, and verification names it.
    let victim = chained_event(&platform, 6).await;
    assert_eq!(done[2].event_id, victim.to_string());
    tamper(
        &platform,
        "UPDATE event_store.events SET payload = jsonb_set(payload, '{impact}', '\"Forged impact\"') WHERE event_id = $1",
        victim,
    )
    .await;
    assert_eq!(
        trail(&mut client, &ids[1]).await[2].summary,
        "Done. Impact: Forged impact"
    );
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (6, "altered"));
    platform.stop().await;
}

#[tokio::test]
async fn a_link_filed_under_another_school_or_action_is_detected() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, ids) = some_history(&platform, address).await;
    // Move one link to another school (so a school's audit would leave it out).
    sqlx::query("UPDATE action_tracking.audit_chain SET school_id = $1 WHERE seq = 5")
        .bind(Uuid::new_v4())
        .execute(&platform.db.pool)
        .await
        .unwrap();
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (5, "altered"));
    assert!(
        problem.detail.contains("another action or school"),
        "{problem:?}"
    );
    // Put it back, and file a link under another action instead.
    sqlx::query(
        "UPDATE action_tracking.audit_chain SET school_id = (SELECT school_id FROM action_tracking.audit_chain WHERE seq = 4) WHERE seq = 5",
    )
    .execute(&platform.db.pool)
    .await
    .unwrap();
    assert!(verify(&mut client).await.intact);
    sqlx::query("UPDATE action_tracking.audit_chain SET action_id = $1::uuid WHERE seq = 8")
        .bind(&ids[0])
        .execute(&platform.db.pool)
        .await
        .unwrap();
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (8, "altered"));
    platform.stop().await;
}

#[tokio::test]
async fn a_removed_event_and_a_reordered_chain_are_detected() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, _) = some_history(&platform, address).await;

    // Swap two links of the chain.
    let mut tx = platform.db.pool.begin().await.unwrap();
    for (from, to) in [(3, -1), (4, 3), (-1, 4)] {
        sqlx::query("UPDATE action_tracking.audit_chain SET seq = $2 WHERE seq = $1")
            .bind(from as i64)
            .bind(to as i64)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (3, "reordered"));

    // Put them back, then delete a stored event.
    let mut tx = platform.db.pool.begin().await.unwrap();
    for (from, to) in [(3, -1), (4, 3), (-1, 4)] {
        sqlx::query("UPDATE action_tracking.audit_chain SET seq = $2 WHERE seq = $1")
            .bind(from as i64)
            .bind(to as i64)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert!(verify(&mut client).await.intact);
    let victim = chained_event(&platform, 8).await;
    tamper(
        &platform,
        "DELETE FROM event_store.events WHERE event_id = $1",
        victim,
    )
    .await;
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (8, "removed"));
    platform.stop().await;
}

#[tokio::test]
async fn an_event_slipped_into_the_store_is_unchained() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, _) = some_history(&platform, address).await;
    // Forge a copy of a chained event under a new id, at a position behind every reader, as
    // if it had been inserted behind the service's back: no projection ever chains it.
    let original = chained_event(&platform, 2).await;
    let forged = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO event_store.events (position, tx_id, stream_id, stream_version, event_id, event_type, \
         schema_version, trust_id, actor_id, correlation_id, payload) OVERRIDING SYSTEM VALUE \
         SELECT -position, tx_id, stream_id, stream_version + 100, $2, event_type, schema_version, trust_id, \
         actor_id, correlation_id, payload FROM event_store.events WHERE event_id = $1",
    )
    .bind(original)
    .bind(forged)
    .execute(&platform.db.pool)
    .await
    .unwrap();
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!(problem.kind, "unchained");
    assert_eq!(problem.event_id, forged.to_string());
    platform.stop().await;
}

#[tokio::test]
async fn the_trust_wide_audit_filters_by_school_person_and_dates() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (deputy_caller, teacher) = colleague(leader);
    let (north, south) = (Uuid::new_v4(), Uuid::new_v4());
    // The leader heads the north school; the teacher teaches in both.
    crate::support::school(&platform, leader, north, &[teacher]).await;
    waymark_testkit::directory::append(
        &platform,
        leader,
        &[waymark_domain::directory::DirectoryEvent::RoleGranted {
            staff_id: teacher,
            grant: waymark_domain::directory::Grant {
                school: Some(waymark_domain::SchoolId::from_uuid(south)),
                role: waymark_domain::directory::Role::ClassTeacher,
            },
        }],
    )
    .await;
    waymark_testkit::eventually(std::time::Duration::from_secs(30), "both roles", || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT jsonb_array_length(doc -> 'staff' -> $1 -> 'grants') FROM action_tracking.directories",
        )
        .bind(teacher.to_string())
        .fetch_one(&platform.db.pool)
        .await
        .unwrap_or(0)
            == 2
    })
    .await;
    // The trust-wide trail is for those who lead the trust.
    waymark_testkit::directory::grant_trust_role(
        &platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        leader,
        waymark_domain::directory::Role::TrustLeader,
    )
    .await;
    let mut lead = client(&platform, address, leader);
    let mut deputy = crate::support::client(&platform, address, deputy_caller);
    let a = lead
        .create_action(create(
            north,
            &teacher.to_string(),
            "2026-12-11",
            "North action",
        ))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    deputy
        .create_action(create(
            south,
            &teacher.to_string(),
            "2026-12-11",
            "South action",
        ))
        .await
        .unwrap();
    deputy
        .note_progress(text(&a, "Deputy checked in"))
        .await
        .unwrap();

    let query = async |client: &mut Client, request: pb::QueryAuditRequest| {
        client
            .query_audit(request)
            .await
            .unwrap()
            .into_inner()
            .entries
    };
    let north_entries = query(
        &mut lead,
        pb::QueryAuditRequest {
            school_id: north.to_string(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(north_entries.len(), 2);
    assert!(
        north_entries
            .iter()
            .all(|e| e.school_id == north.to_string())
    );
    let by_deputy = query(
        &mut lead,
        pb::QueryAuditRequest {
            actor_id: staff(deputy_caller).to_string(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_deputy
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["ActionCreated", "ProgressNoted"]
    );
    let today = waymark_testkit::time::today();
    let in_range = query(
        &mut lead,
        pb::QueryAuditRequest {
            from_date: today.to_string(),
            to_date: today.to_string(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(in_range.len(), 3);
    let before = query(
        &mut lead,
        pb::QueryAuditRequest {
            to_date: (today - chrono::Days::new(1)).to_string(),
            ..Default::default()
        },
    )
    .await;
    assert!(before.is_empty());
    let page = query(
        &mut lead,
        pb::QueryAuditRequest {
            after_seq: in_range[0].seq,
            limit: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, in_range[1].seq);
    // A teacher, and another trust's people, are refused it.
    for caller in [deputy_caller, new_caller()] {
        let refused = crate::support::client(&platform, address, caller)
            .query_audit(pb::QueryAuditRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    }
    let backwards = lead
        .query_audit(pb::QueryAuditRequest {
            from_date: "2026-12-02".into(),
            to_date: "2026-12-01".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    platform.stop().await;
}

async fn status(client: &mut Client) -> pb::AuditStatus {
    client
        .get_audit_status(pb::GetAuditStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_is_checked_on_a_schedule_and_a_new_problem_is_raised_once() {
    let mut platform = TestPlatform::start_configured(
        None,
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[("audit.verify_interval_s", "1")],
    )
    .await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, _) = some_history(&platform, address).await;
    let patience = std::time::Duration::from_secs(10);
    waymark_testkit::eventually(patience, "a scheduled check of all nine", || {
        let mut client = client.clone();
        async move {
            status(&mut client).await.chains[0]
                .last
                .clone()
                .is_some_and(|last| last.intact && last.events_checked == 9)
        }
    })
    .await;
    let shown = status(&mut client).await;
    assert_eq!(shown.chains[0].chain, "actions");
    assert!(
        shown.chains[0].verified_at.starts_with("2026-11-17T10:0"),
        "{shown:?}"
    );
    assert!(!shown.anchors_configured);

    let victim = chained_event(&platform, 6).await;
    tamper(
        &platform,
        "UPDATE event_store.events SET payload = jsonb_set(payload, '{impact}', '\"Forged impact\"') WHERE event_id = $1",
        victim,
    )
    .await;
    waymark_testkit::eventually(patience, "the schedule finding it", || {
        let mut client = client.clone();
        async move {
            status(&mut client).await.chains[0]
                .last
                .clone()
                .and_then(|last| last.problem)
                .is_some_and(|p| (p.seq, p.kind.as_str()) == (6, "altered"))
        }
    })
    .await;
    // Checked again, on the schedule and on request: still one alert for the one problem.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(!verify(&mut client).await.intact);
    let alerts: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload FROM event_store.events WHERE stream_id LIKE 'audit_trail-%' AND event_type = 'AuditVerificationFailed'",
    )
    .fetch_all(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["event_id"], victim.to_string());
    assert_eq!(alerts[0]["kind"], "altered");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_reviews_and_visits_is_chained_and_checked_too() {
    use waymark_action_tracking::anchors::Anchors;
    use waymark_action_tracking::chain::Chain;
    use waymark_domain::{CorrelationId, EventId, EventMetadata, StreamId};
    use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};

    let dir = tempfile::tempdir().unwrap();
    let (signing, _) = waymark_action_tracking::anchors::new_key();
    let place = format!("file://{}", dir.path().display());
    let mut platform = TestPlatform::start_configured(
        None,
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[
            ("audit.signing_key", &signing),
            ("audit.anchors.url", &place),
        ],
    )
    .await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    waymark_testkit::directory::grant_trust_role(
        &platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        leader,
        waymark_domain::directory::Role::TrustAdmin,
    )
    .await;
    let mut client = client(&platform, address, leader);
    // As review dialogue records them: a review drafted and agreed, a visit agreed.
    let (review, visit) = (Uuid::new_v4(), Uuid::new_v4());
    for (stream, kind, payload) in [
        (
            StreamId::new("review", review),
            "RecordDrafted",
            serde_json::json!({"draft": 1}),
        ),
        (
            StreamId::new("review", review),
            "RecordAgreed",
            serde_json::json!({"draft": 1}),
        ),
        (
            StreamId::new("review", review),
            "ReviewAgreed",
            serde_json::json!({"draft": 1}),
        ),
        (
            StreamId::new("visit", visit),
            "VisitRecorded",
            serde_json::json!({"record": "Strong modelling"}),
        ),
        (
            StreamId::new("visit", visit),
            "VisitAgreed",
            serde_json::json!({}),
        ),
    ] {
        platform
            .platform
            .store
            .append(
                leader.trust,
                &stream,
                ExpectedVersion::Any,
                &EventMetadata {
                    actor: leader.actor,
                    causation_id: None,
                    correlation_id: CorrelationId::from_uuid(Uuid::now_v7()),
                    command_id: None,
                },
                &[NewEvent {
                    event_id: EventId::from_uuid(Uuid::now_v7()),
                    event_type: kind.into(),
                    schema_version: 1,
                    payload,
                }],
            )
            .await
            .unwrap();
    }
    let records = |chain: &str| pb::VerifyAuditTrailRequest {
        chain: chain.to_owned(),
    };
    waymark_testkit::eventually(
        std::time::Duration::from_secs(10),
        "five record events chained",
        || {
            let mut client = client.clone();
            async move {
                client
                    .verify_audit_trail(records("records"))
                    .await
                    .unwrap()
                    .into_inner()
                    .events_checked
                    == 5
            }
        },
    )
    .await;
    let report = client
        .verify_audit_trail(records("records"))
        .await
        .unwrap()
        .into_inner();
    assert!(report.intact, "{report:?}");
    let filed: Vec<Uuid> =
        sqlx::query_scalar("SELECT record_id FROM action_tracking.record_chain ORDER BY seq")
            .fetch_all(&platform.db.pool)
            .await
            .unwrap();
    assert_eq!(filed, [review, review, review, visit, visit]);

    // Anchored like the actions: the visit's agreement cut off afterwards is found.
    let anchors = Anchors::from_config(&platform.platform.config, platform.platform.clock.clone())
        .unwrap()
        .unwrap();
    let anchored = anchors
        .anchor_all(&platform.db.pool, &platform.platform.store)
        .await
        .unwrap();
    assert_eq!(anchored.len(), 1);
    assert_eq!(anchored[0].chain, Chain::Records);
    assert_eq!(*anchored[0].outcome.as_ref().unwrap(), 5);
    let last: Uuid =
        sqlx::query_scalar("SELECT event_id FROM action_tracking.record_chain WHERE seq = 5")
            .fetch_one(&platform.db.pool)
            .await
            .unwrap();
    tamper(
        &platform,
        "DELETE FROM event_store.events WHERE event_id = $1",
        last,
    )
    .await;
    sqlx::query("DELETE FROM action_tracking.record_chain WHERE seq = 5")
        .execute(&platform.db.pool)
        .await
        .unwrap();
    let problem = client
        .verify_audit_trail(records("records"))
        .await
        .unwrap()
        .into_inner()
        .problem
        .unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (5, "truncated"));
    assert_eq!(problem.event_id, last.to_string());

    // Who agreed what, when, rewritten: found, and named.
    let agreed: Uuid =
        sqlx::query_scalar("SELECT event_id FROM action_tracking.record_chain WHERE seq = 2")
            .fetch_one(&platform.db.pool)
            .await
            .unwrap();
    tamper(
        &platform,
        "UPDATE event_store.events SET payload = jsonb_set(payload, '{draft}', '2') WHERE event_id = $1",
        agreed,
    )
    .await;
    let report = client
        .verify_audit_trail(records("records"))
        .await
        .unwrap()
        .into_inner();
    let problem = report.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (2, "altered"));
    assert_eq!(problem.event_id, agreed.to_string());
    // The actions' chain is another chain; an unknown one is refused.
    assert!(
        client
            .verify_audit_trail(records("actions"))
            .await
            .unwrap()
            .into_inner()
            .intact
    );
    let unknown = client
        .verify_audit_trail(records("payments"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    platform.stop().await;
}
