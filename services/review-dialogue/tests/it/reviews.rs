use tonic::Code;
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

fn schedule(
    command_id: Uuid,
    school: Uuid,
    reviewer: &str,
    reviewee: &str,
    line_manager: &str,
) -> pb::ScheduleReviewRequest {
    pb::ScheduleReviewRequest {
        command_id: command_id.to_string(),
        school_id: school.to_string(),
        academic_year: "2026-27".into(),
        year_group: "Year 8".into(),
        reviewer_id: reviewer.into(),
        reviewee_id: reviewee.into(),
        window_opens: "2026-11-02".into(),
        window_closes: "2026-11-20".into(),
        reviewee_line_manager_id: line_manager.into(),
        slt_line_manager_id: String::new(),
    }
}

#[tokio::test]
async fn a_scheduled_review_reads_back_at_once_and_a_retry_returns_the_original() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let mut client = ReviewDialogueClient::new(platform.client(address, leader));
    let me = staff(leader).to_string();
    let school = Uuid::new_v4();
    let request = schedule(Uuid::new_v4(), school, &me, &teacher.to_string(), &me);

    let reply = client
        .schedule_review(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reply.version, reply.replayed), (1, false));
    let review = client
        .get_review(pb::GetReviewRequest {
            review_id: reply.review_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(review.year_group, "Year 8");
    assert_eq!(review.status, "scheduled");
    assert_eq!(review.reviewee_id, teacher.to_string());

    let retry = client.schedule_review(request).await.unwrap().into_inner();
    assert_eq!(retry.review_id, reply.review_id);
    assert!(retry.replayed);
    let listed = client
        .list_reviews(pb::ListReviewsRequest {
            school_id: school.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reviews.len(), 1, "the retry scheduled nothing new");
    platform.stop().await;
}

#[tokio::test]
async fn bad_input_and_broken_rules_get_their_documented_codes() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let (_, someone_else) = colleague(leader);
    let mut client = ReviewDialogueClient::new(platform.client(address, leader));
    let me = staff(leader).to_string();

    let mut bad_school = schedule(
        Uuid::new_v4(),
        Uuid::new_v4(),
        &me,
        &teacher.to_string(),
        &me,
    );
    bad_school.school_id = "not-a-school".into();
    let status = client.schedule_review(bad_school).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("school_id:"),
        "{}",
        status.message()
    );

    let mut backwards = schedule(
        Uuid::new_v4(),
        Uuid::new_v4(),
        &me,
        &teacher.to_string(),
        &me,
    );
    backwards.window_closes = "2026-10-01".into();
    assert_eq!(
        client.schedule_review(backwards).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    let not_manager = schedule(
        Uuid::new_v4(),
        Uuid::new_v4(),
        &me,
        &teacher.to_string(),
        &someone_else.to_string(),
    );
    let status = client.schedule_review(not_manager).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.metadata().get("x-waymark-code").unwrap(),
        "review.not_line_manager"
    );

    let missing = client
        .get_review(pb::GetReviewRequest {
            review_id: Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    platform.stop().await;
}

#[tokio::test]
async fn requests_need_a_caller_token_and_see_only_their_trust() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let me = staff(leader).to_string();
    let school = Uuid::new_v4();
    let mut ours = ReviewDialogueClient::new(platform.client(address, leader));
    let reply = ours
        .schedule_review(schedule(
            Uuid::new_v4(),
            school,
            &me,
            &teacher.to_string(),
            &me,
        ))
        .await
        .unwrap()
        .into_inner();

    let mut anonymous = ReviewDialogueClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let status = anonymous
        .get_review(pb::GetReviewRequest {
            review_id: reply.review_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // Someone from another trust asking for this review, or this school, finds nothing.
    let mut theirs = ReviewDialogueClient::new(platform.client(address, new_caller()));
    let status = theirs
        .get_review(pb::GetReviewRequest {
            review_id: reply.review_id,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let listed = theirs
        .list_reviews(pb::ListReviewsRequest {
            school_id: school.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reviews.is_empty());
    platform.stop().await;
}
