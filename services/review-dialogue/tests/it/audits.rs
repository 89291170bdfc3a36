use tonic::Code;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_proto::review_dialogue::v1::self_evaluation_client::SelfEvaluationClient;
use waymark_testkit::services::{TestPlatform, new_caller};

use crate::support::*;

#[tokio::test]
async fn the_default_framework_is_the_audit_tools_and_refusals_have_codes() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut lead = SelfEvaluationClient::new(platform.client(address, team.manager));
    let framework = lead
        .get_framework(pb::GetFrameworkRequest::default())
        .await
        .unwrap()
        .into_inner();
    let content = framework.content.unwrap();
    assert!(framework.is_default);
    assert_eq!(
        content
            .sections
            .iter()
            .map(|s| s.statements.len())
            .collect::<Vec<_>>(),
        [19, 15, 9]
    );
    assert_eq!(
        content
            .rubric
            .iter()
            .map(|r| r.level.as_str())
            .collect::<Vec<_>>(),
        ["Good", "Excellent"]
    );

    let audit = lead
        .start_audit(pb::StartAuditRequest {
            command_id: command(),
            school_id: team.school.to_string(),
            title: "Autumn self-evaluation".into(),
            participant_ids: vec![id(team.teacher)],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let rate = |statement: &str, rating: &str| pb::RateStatementRequest {
        command_id: command(),
        audit_id: audit.clone(),
        statement_id: statement.into(),
        rating: rating.into(),
        ..Default::default()
    };
    let bad = lead
        .rate_statement(rate("kq.expectations", "purple"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let unknown = lead
        .rate_statement(rate("no.such", "red"))
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "audit.unknown_statement");
    let mut outsider = SelfEvaluationClient::new(platform.client(address, team.slt));
    let denied = outsider
        .rate_statement(rate("kq.expectations", "red"))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), code(&denied)),
        (Code::PermissionDenied, "audit.not_permitted")
    );
    lead.rate_statement(rate("kq.expectations", "amber"))
        .await
        .unwrap();
    let early = lead
        .finalise_audit(pb::FinaliseAuditRequest {
            command_id: command(),
            audit_id: audit.clone(),
            on: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&early), "audit.unrated");
    assert!(
        early.message().contains("42 statement(s)"),
        "{}",
        early.message()
    );
    let mut stranger = SelfEvaluationClient::new(platform.client(address, new_caller()));
    assert_eq!(
        stranger
            .get_audit(pb::GetAuditRequest { audit_id: audit })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    platform.stop().await;
}
