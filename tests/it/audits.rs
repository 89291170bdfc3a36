//! Self-evaluation audits across review dialogue and action tracking, over NATS.

use std::time::Duration;

use tokio::net::TcpListener;
use uuid::Uuid;
use waymark_domain::directory::Role;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::self_evaluation_client::SelfEvaluationClient;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};
use waymark_testkit::{NatsServer, eventually};

fn command() -> String {
    Uuid::new_v4().to_string()
}

fn framework(version_note: &str) -> rd::FrameworkContent {
    let statement = |id: &str, text: &str| rd::StatementText {
        id: id.into(),
        text: text.into(),
    };
    rd::FrameworkContent {
        name: format!("Department tracking check ({version_note})"),
        sections: vec![rd::FrameworkSection {
            id: "dept".into(),
            title: "Department tracking".into(),
            statements: vec![
                statement("dept.meetings", "We hold tracking meetings each half term."),
                statement("dept.moderation", "We moderate judgements together."),
                statement(
                    "dept.interventions",
                    "Tracking leads to timely interventions.",
                ),
            ],
        }],
        rubric: vec![],
        labels: Some(rd::RagLabels {
            red: "Not yet".into(),
            amber: "Developing".into(),
            green: "Secure".into(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_rate_link_evidence_agree_actions_and_show_trends() {
    let nats = NatsServer::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let actions = listener.local_addr().unwrap();
    let url = format!("http://{actions}");
    let mut platform = TestPlatform::start_configured(
        Some(nats.url()),
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[("action_tracking.url", url.as_str())],
    )
    .await;
    platform.serve_on(listener, waymark_action_tracking::run);
    let dialogue = platform.serve(waymark_review_dialogue::run).await;
    let head = new_caller();
    let (deputy_caller, deputy) = colleague(head);
    let (north, south) = (Uuid::new_v4(), Uuid::new_v4());
    // Action tracking reads actions only to people it knows: the head of the north school.
    waymark_testkit::directory::school(
        &platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        head,
        north,
        &[deputy],
    )
    .await;
    // The head also leads the trust (audits in both schools, the heat map) and administers
    // it (its frameworks).
    for role in [Role::TrustLeader, Role::TrustAdmin] {
        waymark_testkit::directory::grant_trust_role(
            &platform,
            waymark_review_dialogue::DIRECTORY_TABLE,
            head,
            role,
        )
        .await;
    }
    let mut lead = SelfEvaluationClient::new(platform.client(dialogue, head));
    let deputy_client = SelfEvaluationClient::new(platform.client(dialogue, deputy_caller));
    let mut tracking = ActionTrackingClient::new(platform.client(actions, head));

    let framework_id = lead
        .publish_framework(rd::PublishFrameworkRequest {
            command_id: command(),
            framework_id: String::new(),
            content: Some(framework("v1")),
        })
        .await
        .unwrap()
        .into_inner()
        .id;

    // An audit of a school, finalised with ratings, evidence, a strength and a weakness.
    let (audit_lead, audit_deputy) = (lead.clone(), deputy_client);
    let run_audit =
        async |school: Uuid, title: &str, on: &str, ratings: [(&str, &str); 3], weakness: bool| {
            let mut lead = audit_lead.clone();
            let mut deputy_client = audit_deputy.clone();
            let audit = lead
                .start_audit(rd::StartAuditRequest {
                    command_id: command(),
                    school_id: school.to_string(),
                    title: title.into(),
                    framework_id: framework_id.clone(),
                    participant_ids: vec![deputy.to_string()],
                    started_on: "2026-11-02".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .id;
            for (statement, rating) in ratings {
                lead.rate_statement(rd::RateStatementRequest {
                    command_id: command(),
                    audit_id: audit.clone(),
                    statement_id: statement.into(),
                    rating: rating.into(),
                    note: "From the autumn tracking meetings".into(),
                    evidence: vec![rd::EvidenceLink {
                        kind: "source".into(),
                        r#ref: "Tracking meeting minutes".into(),
                    }],
                })
                .await
                .unwrap();
            }
            // The deputy rates one statement lower: the combined rating takes the cautious middle.
            deputy_client
                .rate_statement(rd::RateStatementRequest {
                    command_id: command(),
                    audit_id: audit.clone(),
                    statement_id: "dept.meetings".into(),
                    rating: "red".into(),
                    evidence: vec![rd::EvidenceLink {
                        kind: "meeting".into(),
                        r#ref: Uuid::new_v4().to_string(),
                    }],
                    ..Default::default()
                })
                .await
                .unwrap();
            lead.add_strength(rd::AddStrengthRequest {
                command_id: command(),
                audit_id: audit.clone(),
                text: "Moderation is routine".into(),
                statement_id: "dept.moderation".into(),
            })
            .await
            .unwrap();
            if weakness {
                lead.add_weakness(rd::AddWeaknessRequest {
                    command_id: command(),
                    audit_id: audit.clone(),
                    text: "Meetings slip when reports are due".into(),
                    statement_id: "dept.meetings".into(),
                    action: Some(rd::NextStepMessage {
                        description: "Fix tracking meetings in the calendar for the year".into(),
                        owner_id: deputy.to_string(),
                        due_date: "2027-01-15".into(),
                        success_criteria: String::new(),
                    }),
                })
                .await
                .unwrap();
            }
            lead.finalise_audit(rd::FinaliseAuditRequest {
                command_id: command(),
                audit_id: audit.clone(),
                on: on.into(),
            })
            .await
            .unwrap();
            audit
        };
    let autumn = run_audit(
        north,
        "Autumn check",
        "2026-11-20",
        [
            ("dept.meetings", "amber"),
            ("dept.moderation", "green"),
            ("dept.interventions", "red"),
        ],
        true,
    )
    .await;

    let record = lead
        .get_audit(rd::GetAuditRequest {
            audit_id: autumn.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(record.status, "finalised");
    let meetings = &record.statements[0];
    assert_eq!(
        (meetings.combined.as_str(), meetings.combined_label.as_str()),
        ("red", "Not yet")
    );
    assert_eq!(meetings.ratings.len(), 2);
    assert_eq!(
        meetings.ratings[0].evidence[0].r#ref,
        "Tracking meeting minutes"
    );
    assert_eq!(record.strengths[0].statement_id, "dept.moderation");

    // The weakness's next step becomes exactly one agreed action.
    let audit_actions = || {
        let mut tracking = tracking.clone();
        let autumn = autumn.clone();
        async move {
            tracking
                .list_actions(at::ListActionsRequest {
                    origin_id: autumn,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .actions
        }
    };
    eventually(Duration::from_secs(30), "the audit's action", || async {
        audit_actions().await.len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = audit_actions().await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        (
            created[0].origin_kind.as_str(),
            created[0].owner_id.as_str()
        ),
        ("audit", deputy.to_string().as_str())
    );
    let origins = tracking
        .list_origins(at::ListOriginsRequest {
            school_id: north.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .origins;
    assert!(
        origins
            .iter()
            .any(|o| o.label == "Self-evaluation audit: Autumn check")
    );

    // The framework is edited; the autumn audit keeps the version it was taken with.
    let mut revised = framework("v2");
    revised.sections[0].statements[0].text = "We hold tracking meetings every four weeks.".into();
    lead.publish_framework(rd::PublishFrameworkRequest {
        command_id: command(),
        framework_id: framework_id.clone(),
        content: Some(revised),
    })
    .await
    .unwrap();
    let current = lead
        .get_framework(rd::GetFrameworkRequest {
            framework_id: framework_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(current.version, 2);
    let listed = lead
        .list_frameworks(rd::ListFrameworksRequest {})
        .await
        .unwrap()
        .into_inner()
        .frameworks;
    assert_eq!(listed.len(), 2);
    assert!(listed[0].is_default, "the default is offered first");
    assert_eq!(listed[1].framework_id, framework_id);
    let kept = lead
        .get_audit(rd::GetAuditRequest {
            audit_id: autumn.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.framework_version, 1);
    assert_eq!(
        kept.statements[0].text,
        "We hold tracking meetings each half term."
    );

    // A second audit of the same school shows the trend; another school fills the heat-map.
    run_audit(
        north,
        "Spring check",
        "2027-03-19",
        [
            ("dept.meetings", "green"),
            ("dept.moderation", "green"),
            ("dept.interventions", "red"),
        ],
        false,
    )
    .await;
    run_audit(
        south,
        "Autumn check",
        "2026-11-25",
        [
            ("dept.meetings", "green"),
            ("dept.moderation", "amber"),
            ("dept.interventions", "amber"),
        ],
        false,
    )
    .await;
    // The north school's trend, and its row of the heat-map, as they stand.
    let (trend_lead, heat_lead, framework) = (lead.clone(), lead.clone(), framework_id.clone());
    let north_trend = async || {
        trend_lead
            .clone()
            .audit_trend(rd::AuditTrendRequest {
                school_id: north.to_string(),
                framework_id: framework.clone(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let heat_map = async || {
        heat_lead
            .clone()
            .heat_map(rd::HeatMapRequest {
                framework_id: framework.clone(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let trend = north_trend().await;
    assert_eq!(trend.audits.len(), 2);
    let by_id = |id: &str| {
        trend
            .statements
            .iter()
            .find(|s| s.statement_id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_id("dept.meetings").ratings,
        ["red", "red"],
        "the deputy's red keeps it red"
    );
    assert!(by_id("dept.interventions").stayed_red);
    assert!(!by_id("dept.moderation").moved);
    assert_eq!(
        by_id("dept.meetings").text,
        "We hold tracking meetings every four weeks."
    );
    let heat = heat_map().await;
    assert_eq!(heat.schools.len(), 2, "the latest audit per school");
    let north_row = heat
        .schools
        .iter()
        .find(|r| r.school_id == north.to_string())
        .unwrap();
    assert_eq!(north_row.ratings, ["red", "green", "red"]);
    assert_eq!(heat.labels.unwrap().amber, "Developing");

    // An audit finalised the same day as another comes after it, in the trend and the heat-map.
    let recheck = run_audit(
        north,
        "Spring recheck",
        "2027-03-19",
        [
            ("dept.meetings", "green"),
            ("dept.moderation", "amber"),
            ("dept.interventions", "amber"),
        ],
        false,
    )
    .await;
    let trend = north_trend().await;
    let order: Vec<&str> = trend.audits.iter().map(|a| a.audit_id.as_str()).collect();
    assert_eq!(order.len(), 3);
    assert_eq!(
        order[2], recheck,
        "the later of two same-day audits is last"
    );
    let heat = heat_map().await;
    let north_row = heat
        .schools
        .iter()
        .find(|r| r.school_id == north.to_string())
        .unwrap();
    assert_eq!(north_row.audit_id, recheck);
    assert_eq!(north_row.ratings, ["red", "amber", "amber"]);
    let _ = staff(head);
    platform.stop().await;
}
