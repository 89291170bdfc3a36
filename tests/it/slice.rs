use std::time::Duration;

use futures::StreamExt;
use uuid::Uuid;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};
use waymark_testkit::{NatsServer, eventually};

/// Schedules a review on review-dialogue and waits for action-tracking to know of it.
async fn review_reaches_action_tracking(platform: &mut TestPlatform) -> (Uuid, String) {
    let reviews = platform.serve(waymark_review_dialogue::run).await;
    let actions = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    let me = staff(leader).to_string();
    // Review dialogue learns who line-manages whom from the directory's events.
    waymark_testkit::directory::append(
        platform,
        leader,
        &[
            waymark_domain::directory::DirectoryEvent::StaffAdded {
                staff_id: staff(leader),
            },
            waymark_domain::directory::DirectoryEvent::RoleGranted {
                staff_id: staff(leader),
                grant: waymark_domain::directory::Grant {
                    school: Some(waymark_domain::SchoolId::from_uuid(school)),
                    role: waymark_domain::directory::Role::MiddleLeader,
                },
            },
            waymark_domain::directory::DirectoryEvent::StaffAdded { staff_id: teacher },
            waymark_domain::directory::DirectoryEvent::LineManagerSet {
                staff_id: teacher,
                manager: Some(staff(leader)),
            },
        ],
    )
    .await;
    for table in [
        waymark_review_dialogue::DIRECTORY_TABLE,
        waymark_action_tracking::access::DIRECTORY_TABLE,
    ] {
        waymark_testkit::directory::caught_up(platform, table, leader).await;
    }
    let reply = ReviewDialogueClient::new(platform.client(reviews, leader))
        .schedule_review(rd::ScheduleReviewRequest {
            occurrence_id: String::new(),
            command_id: Uuid::new_v4().to_string(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            year_group: "Year 9".into(),
            reviewer_id: me.clone(),
            reviewee_id: teacher.to_string(),
            window_opens: "2027-01-11".into(),
            window_closes: "2027-01-29".into(),
            reviewee_line_manager_id: me,
            slt_line_manager_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    let origins = ActionTrackingClient::new(platform.client(actions, leader));
    let list = || {
        let mut origins = origins.clone();
        let request = at::ListOriginsRequest {
            school_id: school.to_string(),
        };
        async move {
            origins
                .list_origins(request)
                .await
                .unwrap()
                .into_inner()
                .origins
        }
    };
    eventually(
        Duration::from_secs(30),
        "action-tracking to learn of the review",
        || async { !list().await.is_empty() },
    )
    .await;
    let found = list().await;
    assert_eq!(found.len(), 1);
    let origin = &found[0];
    assert_eq!(origin.origin_id, reply.id);
    assert_eq!(origin.kind, "progress_review");
    assert_eq!(origin.label, "Progress review: Year 9, 2026-27");

    // Another trust's people are refused it.
    let mut theirs = ActionTrackingClient::new(platform.client(actions, new_caller()));
    let refused = theirs
        .list_origins(at::ListOriginsRequest {
            school_id: school.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    (school, reply.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_flows_through_the_relay_and_jetstream_to_another_service() {
    let nats = NatsServer::start().await;
    let mut platform = TestPlatform::start(Some(nats.url())).await;
    let (_, review_id) = review_reaches_action_tracking(&mut platform).await;

    // The event is on JetStream, on a subject naming trust, category and type, with its
    // event id as the message id.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("WAYMARK_EVENTS").await.unwrap();
    // (The directory's events go first; this looks at the review's.)
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: "waymark.events.*.review.>".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = messages.next().await.unwrap().unwrap();
    assert!(
        message.subject.ends_with(".review.ReviewScheduled"),
        "{}",
        message.subject
    );
    let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(event["payload"]["review_id"], review_id);
    let msg_id = message
        .headers
        .as_ref()
        .unwrap()
        .get("Nats-Msg-Id")
        .unwrap();
    assert_eq!(msg_id.as_str(), event["event_id"].as_str().unwrap());
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_nats_the_in_process_feed_carries_the_same_events() {
    let mut platform = TestPlatform::start(None).await;
    review_reaches_action_tracking(&mut platform).await;
    platform.stop().await;
}

/// Every reader (each service's projections and consumers), the store's listener and the
/// calls share one small pool, as `serve --all` shares `database.max_connections`. Each takes
/// one connection at a time, so they take turns and nothing waits for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_of_two_connections_shared_by_every_reader_still_carries_the_events() {
    let mut platform = TestPlatform::start_configured(
        None,
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[("database.max_connections", "2")],
    )
    .await;
    review_reaches_action_tracking(&mut platform).await;
    platform.stop().await;
}
