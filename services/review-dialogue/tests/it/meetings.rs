use tonic::Code;
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_testkit::services::TestPlatform;

use crate::support::*;

fn meeting(team: &Team, school: Uuid, date: &str) -> pb::ScheduleMeetingRequest {
    pb::ScheduleMeetingRequest {
        occurrence_id: String::new(),
        command_id: command(),
        school_id: school.to_string(),
        academic_year: "2026-27".into(),
        assessment_point: "Autumn assessment".into(),
        teacher_id: id(team.teacher),
        class_group: "7B".into(),
        leader_ids: vec![id(team.manager)],
        date: date.into(),
    }
}

#[tokio::test]
async fn a_first_meeting_records_analysis_discussion_and_actions() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut leader = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let id_ = leader
        .schedule_meeting(meeting(&team, team.school, "2026-12-08"))
        .await
        .unwrap()
        .into_inner()
        .id;

    let named = pb::Analysis {
        strengths: "Number fluency".into(),
        learners: vec![pb::LearnerNote {
            learner: "Amy Brown".into(),
            note: "Not yet secure on fractions".into(),
        }],
        ..Default::default()
    };
    let refused = teacher
        .record_analysis(pb::RecordAnalysisRequest {
            command_id: command(),
            meeting_id: id_.clone(),
            analysis: Some(named.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("initials or an MIS id"),
        "{}",
        refused.message()
    );
    let mut pseudonymous = named;
    pseudonymous.learners[0].learner = "AB".into();
    teacher
        .record_analysis(pb::RecordAnalysisRequest {
            command_id: command(),
            meeting_id: id_.clone(),
            analysis: Some(pseudonymous),
        })
        .await
        .unwrap();

    let too_soon = leader
        .note_discussion(pb::NoteDiscussionRequest {
            command_id: command(),
            meeting_id: id_.clone(),
            level: "class".into(),
            note: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&too_soon), "meeting.not_opened");
    leader
        .open_meeting(pb::RecordRequest {
            command_id: command(),
            id: id_.clone(),
        })
        .await
        .unwrap();
    leader
        .note_discussion(pb::NoteDiscussionRequest {
            command_id: command(),
            meeting_id: id_.clone(),
            level: "group".into(),
            about: "Lower-attaining readers".into(),
            note: "Decoding is the barrier".into(),
            adaptation: "targeted_support".into(),
            research: "EEF guidance on phonics".into(),
        })
        .await
        .unwrap();
    leader
        .close_meeting(pb::CloseMeetingRequest {
            command_id: command(),
            meeting_id: id_.clone(),
            actions: vec![pb::NextStep {
                description: "Daily phonics catch-up".into(),
                owner_id: id(team.teacher),
                due_date: "2027-03-26".into(),
                success_criteria: String::new(),
            }],
        })
        .await
        .unwrap();
    let closed = teacher
        .get_meeting(pb::GetRecordRequest { id: id_.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, "closed");
    assert_eq!(closed.analysis.unwrap().learners[0].learner, "AB");
    assert_eq!(
        (
            closed.discussion[0].adaptation.as_str(),
            closed.discussion[0].research.as_str()
        ),
        ("targeted_support", "EEF guidance on phonics")
    );
    assert_eq!(
        closed.agreed_actions[0].description,
        "Daily phonics catch-up"
    );
    let late = leader
        .note_discussion(pb::NoteDiscussionRequest {
            command_id: command(),
            meeting_id: id_,
            level: "class".into(),
            note: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (late.code(), code(&late)),
        (Code::FailedPrecondition, "meeting.closed")
    );
    platform.stop().await;
}

#[tokio::test]
async fn the_trust_can_allow_learner_names() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut leader = client(&platform, address, team.manager);
    client(&platform, address, team.admin)
        .set_learner_names_policy(pb::SetLearnerNamesPolicyRequest {
            command_id: command(),
            allowed: true,
        })
        .await
        .unwrap();
    let id_ = leader
        .schedule_meeting(meeting(&team, team.school, "2026-12-08"))
        .await
        .unwrap()
        .into_inner()
        .id;
    leader
        .open_meeting(pb::RecordRequest {
            command_id: command(),
            id: id_.clone(),
        })
        .await
        .unwrap();
    leader
        .note_discussion(pb::NoteDiscussionRequest {
            command_id: command(),
            meeting_id: id_,
            level: "learner".into(),
            about: "Amy Brown".into(),
            note: "Ready for extension".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    platform.stop().await;
}
