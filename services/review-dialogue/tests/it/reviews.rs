use tonic::Code;
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_testkit::services::{TestPlatform, new_caller};

use crate::support::*;

#[tokio::test]
async fn a_review_goes_from_evidence_through_dialogue_to_a_record_both_agree() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut manager = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let review = manager
        .schedule_review(schedule(&team, Uuid::new_v4(), "Year 8"))
        .await
        .unwrap()
        .into_inner()
        .id;

    // Only the reviewer notes evidence; nothing is written before the dialogue.
    let source = catalogue_id(&mut manager, "source", "Student voice").await;
    let status = teacher
        .note_evidence(pb::NoteEvidenceRequest {
            command_id: command(),
            review_id: review.clone(),
            source_id: source,
            look_for_ids: vec![],
            note: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), code(&status)),
        (Code::PermissionDenied, "review.wrong_party")
    );
    let early = manager
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (early.code(), code(&early)),
        (Code::FailedPrecondition, "review.no_dialogue")
    );

    discussed(&mut manager, &review).await;
    manager
        .note_triangulation(text(&review, "Student voice matches the attitude data"))
        .await
        .unwrap();
    teacher
        .add_reflection(text(&review, "I want to stretch the top set more"))
        .await
        .unwrap();
    let challenge = catalogue_id(&mut manager, "look_for", "Challenge").await;
    let responses = catalogue_id(&mut manager, "look_for", "Student responses").await;
    teacher
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            look_fors: vec![
                pb::LookForEntry {
                    look_for_id: responses.clone(),
                    comment: "Green-pen responses throughout".into(),
                    exemplary: true,
                    ..Default::default()
                },
                entry(&challenge, false, true),
            ],
            good_practice: "Feedback lessons".into(),
            areas_to_focus: "Stretch for the most able".into(),
            next_steps: vec![pb::NextStep {
                description: "Plan two stretch tasks a week".into(),
                owner_id: id(team.teacher),
                due_date: "2027-01-29".into(),
                success_criteria: String::new(),
            }],
            based_on_draft: 0,
        })
        .await
        .unwrap();

    let drafted = manager
        .get_review(pb::GetRecordRequest { id: review.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((drafted.status.as_str(), drafted.draft), ("drafted", 1));
    assert_eq!(drafted.look_fors[0].label, "Student responses");
    assert_eq!(
        drafted.evidence[0].source.as_ref().unwrap().label,
        "Book look"
    );
    assert_eq!(drafted.reflection, "I want to stretch the top set more");
    assert_eq!(drafted.awaiting_agreement_of.len(), 2);

    let agreed_once = teacher
        .agree_record(pb::AgreeRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            draft: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!agreed_once.replayed);
    let waiting = manager
        .awaiting_agreement(pb::AwaitingAgreementRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        waiting.reviews.len(),
        1,
        "the record waits for the reviewer"
    );
    assert!(
        teacher
            .awaiting_agreement(pb::AwaitingAgreementRequest::default())
            .await
            .unwrap()
            .into_inner()
            .reviews
            .is_empty()
    );
    let stale = manager
        .agree_record(pb::AgreeRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            draft: 7,
        })
        .await
        .unwrap_err();
    assert_eq!(code(&stale), "review.stale_draft");
    manager
        .agree_record(pb::AgreeRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            draft: 1,
        })
        .await
        .unwrap();

    let agreed = manager
        .get_review(pb::GetRecordRequest { id: review.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agreed.status, "agreed");
    assert_eq!(
        agreed.shared_with,
        id(team.slt),
        "a copy goes to the SLT line manager"
    );
    assert!(agreed.awaiting_agreement_of.is_empty());
    let late = teacher
        .add_response(text(&review, "one more thing"))
        .await
        .unwrap_err();
    assert_eq!(
        (late.code(), code(&late)),
        (Code::FailedPrecondition, "review.agreed")
    );
    teacher
        .add_correction(pb::AddCorrectionRequest {
            command_id: command(),
            review_id: review.clone(),
            correction: "The set was 8C".into(),
            reason: "Wrong class named".into(),
        })
        .await
        .unwrap();
    let corrected = manager
        .get_review(pb::GetRecordRequest { id: review.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.corrections.len(), 1);
    assert_eq!(
        corrected.look_fors, agreed.look_fors,
        "the record itself is unchanged"
    );

    // The next steps went out as agreed actions, for action tracking.
    let agreed_actions: i64 = sqlx::query_scalar("SELECT count(*) FROM event_store.events WHERE event_type = 'ActionsAgreed' AND stream_id = $1")
        .bind(format!("review-{review}"))
        .fetch_one(&platform.db.pool)
        .await
        .unwrap();
    assert_eq!(agreed_actions, 1);
    platform.stop().await;
}

#[tokio::test]
async fn either_can_send_a_draft_back_and_a_new_draft_needs_both_again() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut manager = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let review = manager
        .schedule_review(schedule(&team, Uuid::new_v4(), "Year 9"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &review).await;
    manager
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            good_practice: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    manager
        .agree_record(pb::AgreeRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            draft: 1,
        })
        .await
        .unwrap();
    teacher
        .send_back_draft(text(&review, "The homework comment needs context"))
        .await
        .unwrap();
    let sent_back = teacher
        .get_review(pb::GetRecordRequest { id: review.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            sent_back.status.as_str(),
            sent_back.sent_back_reason.as_str()
        ),
        ("discussed", "The homework comment needs context")
    );
    assert!(sent_back.agreed_by.is_empty());
    let outsider = client(&platform, address, team.slt)
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (outsider.code(), code(&outsider)),
        (Code::PermissionDenied, "review.not_a_party")
    );
    platform.stop().await;
}

#[tokio::test]
async fn the_second_review_of_a_year_group_is_compared_with_the_first() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let school = Uuid::new_v4();
    let mut manager = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let [challenge, homework, progress] = [
        catalogue_id(&mut manager, "look_for", "Challenge").await,
        catalogue_id(&mut manager, "look_for", "Homework").await,
        catalogue_id(&mut manager, "look_for", "Progress").await,
    ];
    let autumn = manager
        .schedule_review(schedule(&team, school, "Year 10"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &autumn).await;
    agree(
        &mut manager,
        &mut teacher,
        &autumn,
        vec![
            entry(&challenge, false, true),
            entry(&homework, false, true),
        ],
    )
    .await;
    let too_soon = manager
        .compare_reviews(pb::CompareReviewsRequest {
            school_id: school.to_string(),
            year_group: "Year 10".into(),
            academic_year: "2026-27".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&too_soon), "review.nothing_to_compare");

    let spring = manager
        .schedule_review(schedule(&team, school, "Year 10"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &spring).await;
    agree(
        &mut manager,
        &mut teacher,
        &spring,
        vec![
            entry(&challenge, false, false),
            entry(&homework, false, true),
            entry(&progress, true, false),
        ],
    )
    .await;
    let comparison = teacher
        .compare_reviews(pb::CompareReviewsRequest {
            school_id: school.to_string(),
            year_group: "Year 10".into(),
            academic_year: "2026-27".into(),
            reviewee_id: id(team.teacher),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(comparison.first.unwrap().review_id, autumn);
    assert_eq!(comparison.second.unwrap().review_id, spring);
    let changes: Vec<(&str, &str)> = comparison
        .changes
        .iter()
        .map(|c| (c.label.as_str(), c.change.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("Challenge", "focus_covered"),
            ("Homework", "focus_repeated"),
            ("Progress", "new_exemplary")
        ]
    );
    platform.stop().await;
}

#[tokio::test]
async fn bad_input_broken_rules_retries_and_other_trusts() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut manager = client(&platform, address, team.manager);
    let school = Uuid::new_v4();

    let mut bad_school = schedule(&team, school, "Year 8");
    bad_school.school_id = "not-a-school".into();
    let status = manager.schedule_review(bad_school).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("school_id:"),
        "{}",
        status.message()
    );
    let mut backwards = schedule(&team, school, "Year 8");
    backwards.window_closes = "2026-10-01".into();
    assert_eq!(
        manager.schedule_review(backwards).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let mut senior = schedule(&team, school, "Year 8");
    senior.reviewer_id = id(team.slt);
    let status = manager.schedule_review(senior).await.unwrap_err();
    assert_eq!(
        (status.code(), code(&status)),
        (Code::InvalidArgument, "review.not_line_manager")
    );

    let request = schedule(&team, school, "Year 8");
    let first = manager
        .schedule_review(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retry = manager.schedule_review(request).await.unwrap().into_inner();
    assert_eq!(
        (retry.id.as_str(), retry.replayed),
        (first.id.as_str(), true)
    );
    let listed = manager
        .list_reviews(pb::ListReviewsRequest {
            school_id: school.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reviews.len(), 1);

    let mut anonymous =
        waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient::connect(
            format!("http://{address}"),
        )
        .await
        .unwrap();
    assert_eq!(
        anonymous
            .get_review(pb::GetRecordRequest {
                id: first.id.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let mut stranger = client(&platform, address, new_caller());
    assert_eq!(
        stranger
            .get_review(pb::GetRecordRequest {
                id: first.id.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let blocked = stranger
        .cancel_review(text(&first.id, "not mine"))
        .await
        .unwrap_err();
    assert_eq!(blocked.code(), Code::NotFound);
    assert!(
        stranger
            .list_reviews(pb::ListReviewsRequest {
                school_id: school.to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .reviews
            .is_empty()
    );
    platform.stop().await;
}

/// The line managers come from the directory's events, never from the request: a colleague
/// who names themselves the reviewee's line manager is refused, and the copy of the agreed
/// record goes to the reviewer's line manager as the directory has it.
#[tokio::test]
async fn the_line_manager_comes_from_the_directory_not_the_request() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let (pretender, _) = waymark_testkit::services::colleague(team.manager);
    let mut as_pretender = client(&platform, address, pretender);
    let mut forged = schedule(&team, Uuid::new_v4(), "Year 5");
    forged.reviewer_id = id(pretender);
    forged.reviewee_line_manager_id = id(pretender);
    forged.slt_line_manager_id = id(pretender);
    let refused = as_pretender.schedule_review(forged).await.unwrap_err();
    assert_eq!(
        (refused.code(), code(&refused)),
        (Code::InvalidArgument, "review.not_line_manager")
    );

    // The real line manager schedules it; the request's copy-to is ignored.
    let mut manager = client(&platform, address, team.manager);
    let mut request = schedule(&team, Uuid::new_v4(), "Year 5");
    request.slt_line_manager_id = id(pretender);
    let review = manager
        .schedule_review(request)
        .await
        .unwrap()
        .into_inner()
        .id;
    let scheduled = manager
        .get_review(pb::GetRecordRequest { id: review })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scheduled.slt_line_manager_id, id(team.slt));
    platform.stop().await;
}
