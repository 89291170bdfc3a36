//! Whole workflows across review dialogue and action tracking, over NATS JetStream.

use std::time::Duration;

use tokio::net::TcpListener;
use uuid::Uuid;
use waymark_domain::directory::{DirectoryEvent, Grant, Role};
use waymark_domain::{SchoolId, StaffId};
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};
use waymark_testkit::{NatsServer, eventually};

const PATIENCE: Duration = Duration::from_secs(30);

fn command() -> String {
    Uuid::new_v4().to_string()
}

/// Both services, over a private NATS, each knowing where the other is (and so would
/// notifications, if a test serves it).
async fn platform(nats: &NatsServer) -> (TestPlatform, std::net::SocketAddr, std::net::SocketAddr) {
    let actions_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reviews_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let actions = actions_listener.local_addr().unwrap();
    let reviews = reviews_listener.local_addr().unwrap();
    let (actions_url, reviews_url) = (format!("http://{actions}"), format!("http://{reviews}"));
    let mut platform = TestPlatform::start_configured(
        Some(nats.url()),
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[
            ("action_tracking.url", actions_url.as_str()),
            ("review_dialogue.url", reviews_url.as_str()),
        ],
    )
    .await;
    platform.serve_on(actions_listener, waymark_action_tracking::run);
    platform.serve_on(reviews_listener, waymark_review_dialogue::run);
    (platform, reviews, actions)
}

/// Appends, as scheduling would the day before `meeting`, its reminder to `teacher`.
async fn remind_of_meeting(
    platform: &TestPlatform,
    leader: waymark_runtime::auth::Caller,
    teacher: StaffId,
    school: Uuid,
    meeting: &str,
    day: chrono::NaiveDate,
) {
    use waymark_domain::scheduling::reminders::{ReminderDue, ReminderEvent, SubjectKind};
    use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};
    let timer = Uuid::new_v4();
    let reminder = ReminderEvent::ReminderDue(ReminderDue {
        timer_id: timer,
        school_id: SchoolId::from_uuid(school),
        subject_kind: SubjectKind::Meeting,
        subject_id: meeting.parse().unwrap(),
        title: waymark_domain::Text::parse("Spring assessment meeting").unwrap(),
        reminder: "upcoming_1".into(),
        recipient_id: teacher,
        due_date: day,
        local_date: day.pred_opt().unwrap(),
        sent_on: None,
    });
    let event = NewEvent::from_domain(
        waymark_domain::EventId::from_uuid(Uuid::new_v4()),
        &reminder,
    )
    .unwrap();
    let metadata = waymark_domain::EventMetadata {
        actor: waymark_domain::ids::ActorId::from_uuid(Uuid::new_v4()),
        causation_id: None,
        correlation_id: waymark_domain::ids::CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    };
    platform
        .platform
        .store
        .append(
            leader.trust,
            &waymark_domain::StreamId::new("reminder", timer),
            ExpectedVersion::NoStream,
            &metadata,
            &[event],
        )
        .await
        .unwrap();
}

/// The leader (a middle leader of `school`) and the teacher they line-manage, in the
/// directory: the services read records and actions only to people they know.
async fn known(
    platform: &TestPlatform,
    caller: waymark_runtime::auth::Caller,
    school: Uuid,
    people: &[StaffId],
) {
    let mut events = Vec::new();
    for (staff_id, role) in people.iter().zip([Role::MiddleLeader, Role::ClassTeacher]) {
        events.push(DirectoryEvent::StaffAdded {
            staff_id: *staff_id,
        });
        events.push(DirectoryEvent::RoleGranted {
            staff_id: *staff_id,
            grant: Grant {
                school: Some(SchoolId::from_uuid(school)),
                role,
            },
        });
    }
    events.push(DirectoryEvent::LineManagerSet {
        staff_id: people[1],
        manager: Some(people[0]),
    });
    waymark_testkit::directory::append(platform, caller, &events).await;
    for table in [
        waymark_review_dialogue::DIRECTORY_TABLE,
        waymark_action_tracking::access::DIRECTORY_TABLE,
    ] {
        waymark_testkit::directory::caught_up(platform, table, caller).await;
    }
}

fn step(description: &str, owner: &str, due: &str) -> rd::NextStep {
    rd::NextStep {
        description: description.into(),
        owner_id: owner.into(),
        due_date: due.into(),
        success_criteria: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_progress_meeting_starts_from_the_last_ones_actions() {
    let nats = NatsServer::start().await;
    let (mut platform, reviews, actions) = platform(&nats).await;
    let leader = new_caller();
    let (teacher_caller, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    known(&platform, leader, school, &[staff(leader), teacher]).await;
    let teacher_id = teacher.to_string();
    let mut dialogue = ReviewDialogueClient::new(platform.client(reviews, leader));
    let tracking = ActionTrackingClient::new(platform.client(actions, leader));
    let schedule = |date: &str, point: &str| rd::ScheduleMeetingRequest {
        occurrence_id: String::new(),
        command_id: command(),
        school_id: school.to_string(),
        academic_year: "2026-27".into(),
        assessment_point: point.into(),
        teacher_id: teacher_id.clone(),
        class_group: "7B".into(),
        leader_ids: vec![staff(leader).to_string()],
        date: date.into(),
    };

    // Autumn: the first meeting agrees three actions.
    let autumn = dialogue
        .schedule_meeting(schedule("2026-12-08", "Autumn assessment"))
        .await
        .unwrap()
        .into_inner()
        .id;
    dialogue
        .open_meeting(rd::RecordRequest {
            command_id: command(),
            id: autumn.clone(),
        })
        .await
        .unwrap();
    dialogue
        .close_meeting(rd::CloseMeetingRequest {
            command_id: command(),
            meeting_id: autumn.clone(),
            actions: vec![
                step("Daily retrieval starters", &teacher_id, "2027-02-12"),
                step("Reading group for four pupils", &teacher_id, "2027-02-12"),
                step("Fractions intervention", &teacher_id, "2027-02-12"),
            ],
        })
        .await
        .unwrap();
    let actions_of = |origin: String| {
        let mut tracking = tracking.clone();
        async move {
            tracking
                .list_actions(at::ListActionsRequest {
                    origin_id: origin,
                    statuses: ["open", "in_progress", "done", "carried_forward", "dropped"]
                        .map(String::from)
                        .to_vec(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .actions
        }
    };
    eventually(
        PATIENCE,
        "action tracking to create the autumn actions",
        || async { actions_of(autumn.clone()).await.len() == 3 },
    )
    .await;

    // Spring: the agenda starts with them.
    let spring = dialogue
        .schedule_meeting(schedule("2027-03-23", "Spring assessment"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let agenda = dialogue
        .get_meeting(rd::GetRecordRequest { id: spring.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agenda.previous_meeting_id, autumn);
    assert_eq!(agenda.previous_actions.len(), 3);
    // So does the teacher's reminder the day before: notifications asks review dialogue for
    // the list (as the teacher), outside its consumer's transaction.
    platform.serve(waymark_notifications::run).await;
    let day = chrono::NaiveDate::from_ymd_opt(2027, 3, 23).unwrap();
    remind_of_meeting(&platform, leader, teacher, school, &spring, day).await;
    eventually(
        PATIENCE,
        "the reminder, listing the autumn actions",
        || async {
            // (Notifications may still be creating its schema.)
            let bodies: Vec<String> = sqlx::query_scalar(
                "SELECT body FROM notifications.notices WHERE recipient_id = $1",
            )
            .bind(teacher.into_uuid())
            .fetch_all(&platform.db.pool)
            .await
            .unwrap_or_default();
            bodies.iter().any(|body| {
                body.contains("It starts with the previous meeting's actions")
                    && [
                        "Daily retrieval starters",
                        "Reading group for four pupils",
                        "Fractions intervention",
                    ]
                    .iter()
                    .all(|action| body.contains(&format!("- {action}")))
            })
        },
    )
    .await;
    dialogue
        .open_meeting(rd::RecordRequest {
            command_id: command(),
            id: spring.clone(),
        })
        .await
        .unwrap();
    let opened = dialogue
        .get_meeting(rd::GetRecordRequest { id: spring.clone() })
        .await
        .unwrap()
        .into_inner();
    let previous: Vec<String> = opened
        .previous_actions
        .iter()
        .map(|a| a.action_id.clone())
        .collect();
    assert_eq!(previous.len(), 3);

    let new_action = rd::CloseMeetingRequest {
        command_id: command(),
        meeting_id: spring.clone(),
        actions: vec![step(
            "Pre-teach vocabulary for the science unit",
            &teacher_id,
            "2027-06-25",
        )],
    };
    let refused = dialogue
        .close_meeting(new_action.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        refused.metadata().get("x-waymark-code").unwrap(),
        "meeting.previous_actions_unreviewed"
    );
    let review =
        |action: &str, outcome: &str, text: &str, due: &str| rd::ReviewPreviousActionRequest {
            command_id: command(),
            meeting_id: spring.clone(),
            action_id: action.into(),
            outcome: outcome.into(),
            text: text.into(),
            due_date: due.into(),
        };
    let mut as_teacher = ReviewDialogueClient::new(platform.client(reviews, teacher_caller));
    as_teacher
        .review_previous_action(review(
            &previous[0],
            "done",
            "Recall of key facts is quicker",
            "",
        ))
        .await
        .unwrap();
    dialogue
        .review_previous_action(review(
            &previous[1],
            "carried_forward",
            "Two pupils still need it",
            "2027-05-21",
        ))
        .await
        .unwrap();
    let still = dialogue
        .close_meeting(new_action.clone())
        .await
        .unwrap_err();
    assert!(
        still.message().contains("1 still to review"),
        "{}",
        still.message()
    );
    dialogue
        .review_previous_action(review(
            &previous[2],
            "dropped",
            "Covered by the new maths scheme",
            "",
        ))
        .await
        .unwrap();
    dialogue.close_meeting(new_action).await.unwrap();

    // Action tracking records the outcomes on the autumn actions, and the spring ones.
    eventually(PATIENCE, "outcomes on the autumn actions", || async {
        actions_of(autumn.clone())
            .await
            .iter()
            .all(|a| a.status != "open")
    })
    .await;
    let autumn_actions = actions_of(autumn.clone()).await;
    let status_of = |id: &str| {
        autumn_actions
            .iter()
            .find(|a| a.action_id == id)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(status_of(&previous[0]), "done");
    assert_eq!(status_of(&previous[1]), "carried_forward");
    assert_eq!(status_of(&previous[2]), "dropped");
    eventually(PATIENCE, "the spring actions", || async {
        actions_of(spring.clone()).await.len() == 2
    })
    .await;
    let spring_actions = actions_of(spring.clone()).await;
    assert!(
        spring_actions
            .iter()
            .any(|a| a.carried_forward_from == previous[1] && a.due_date == "2027-05-21")
    );
    assert!(
        spring_actions
            .iter()
            .any(|a| a.description == "Pre-teach vocabulary for the science unit")
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agreed_reviews_next_steps_become_actions_and_the_next_visit_looks_back() {
    let nats = NatsServer::start().await;
    let (platform, reviews, actions) = platform(&nats).await;
    let manager = new_caller();
    let (teacher_caller, teacher) = colleague(manager);
    let school = Uuid::new_v4();
    known(&platform, manager, school, &[staff(manager), teacher]).await;
    let mut manager_client = ReviewDialogueClient::new(platform.client(reviews, manager));
    let mut teacher_client = ReviewDialogueClient::new(platform.client(reviews, teacher_caller));
    let mut tracking = ActionTrackingClient::new(platform.client(actions, manager));

    // A visit whose next step the teacher agrees.
    let plan = |date: &str| rd::PlanVisitRequest {
        occurrence_id: String::new(),
        command_id: command(),
        school_id: school.to_string(),
        kind: "learning_walk".into(),
        visitor_id: staff(manager).to_string(),
        teacher_id: teacher.to_string(),
        date: date.into(),
        focus: "Use of modelling".into(),
    };
    let first = manager_client
        .plan_visit(plan("2026-11-26"))
        .await
        .unwrap()
        .into_inner()
        .id;
    teacher_client
        .agree_visit_focus(rd::RecordRequest {
            command_id: command(),
            id: first.clone(),
        })
        .await
        .unwrap();
    manager_client
        .record_visit(rd::RecordVisitRequest {
            command_id: command(),
            visit_id: first.clone(),
            observations: "Clear worked examples".into(),
            next_steps: vec![step(
                "Fade the worked examples sooner",
                &teacher.to_string(),
                "2027-01-15",
            )],
            ..Default::default()
        })
        .await
        .unwrap();
    teacher_client
        .agree_visit(rd::AgreeVisitRequest {
            command_id: command(),
            visit_id: first.clone(),
            record_version: 1,
        })
        .await
        .unwrap();
    eventually(PATIENCE, "the visit's next step as an action", || {
        let mut tracking = tracking.clone();
        let first = first.clone();
        async move {
            tracking
                .list_actions(at::ListActionsRequest {
                    origin_id: first,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .actions
                .len()
                == 1
        }
    })
    .await;

    // The next visit to the teacher starts from that next step.
    let second = manager_client
        .plan_visit(plan("2027-01-20"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let planned = manager_client
        .get_visit(rd::GetRecordRequest { id: second })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(planned.previous_next_steps.len(), 1);
    assert_eq!(
        planned.previous_next_steps[0].description,
        "Fade the worked examples sooner"
    );

    let origins = tracking
        .list_origins(at::ListOriginsRequest {
            school_id: school.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .origins;
    assert!(
        origins
            .iter()
            .any(|o| o.kind == "visit" && o.label == "Visit, 26 November 2026"),
        "{origins:?}"
    );
    platform.stop().await;
}
