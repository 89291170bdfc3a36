use tonic::Code;
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_testkit::services::TestPlatform;

use crate::support::*;

#[tokio::test]
async fn a_visit_agrees_its_focus_first_and_the_teacher_answers_the_record() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut visitor = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let visit = visitor
        .plan_visit(pb::PlanVisitRequest {
            occurrence_id: String::new(),
            command_id: command(),
            school_id: Uuid::new_v4().to_string(),
            kind: "observation".into(),
            visitor_id: id(team.manager),
            teacher_id: id(team.teacher),
            date: "2026-12-03".into(),
            focus: "Questioning to check understanding".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let record = |steps: Vec<pb::NextStep>| pb::RecordVisitRequest {
        command_id: command(),
        visit_id: visit.clone(),
        observations: "Cold calling used well; little wait time".into(),
        feedback: "Try a three-second pause".into(),
        next_steps: steps,
        ..Default::default()
    };
    let early = visitor.record_visit(record(vec![])).await.unwrap_err();
    assert_eq!(
        (early.code(), code(&early)),
        (Code::FailedPrecondition, "visit.focus_not_agreed")
    );
    let wrong = visitor
        .agree_visit_focus(pb::RecordRequest {
            command_id: command(),
            id: visit.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied);
    teacher
        .agree_visit_focus(pb::RecordRequest {
            command_id: command(),
            id: visit.clone(),
        })
        .await
        .unwrap();
    let step = pb::NextStep {
        description: "Mini whiteboards for hinge questions".into(),
        owner_id: id(team.teacher),
        due_date: "2027-01-22".into(),
        success_criteria: String::new(),
    };
    visitor.record_visit(record(vec![step])).await.unwrap();

    let waiting = teacher
        .awaiting_agreement(pb::AwaitingAgreementRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(waiting.visits.len(), 1);
    teacher
        .respond_to_visit(text(&visit, "Agreed; I will trial it with 9A"))
        .await
        .unwrap();
    teacher
        .agree_visit(pb::AgreeVisitRequest {
            command_id: command(),
            visit_id: visit.clone(),
            record_version: 1,
        })
        .await
        .unwrap();
    let agreed = visitor
        .get_visit(pb::GetRecordRequest { id: visit.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (agreed.status.as_str(), agreed.response.as_str()),
        ("agreed", "Agreed; I will trial it with 9A")
    );
    assert!(
        teacher
            .awaiting_agreement(pb::AwaitingAgreementRequest::default())
            .await
            .unwrap()
            .into_inner()
            .visits
            .is_empty()
    );
    platform.stop().await;
}
