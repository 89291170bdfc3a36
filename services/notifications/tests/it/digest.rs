use std::time::Duration;

use uuid::Uuid;
use waymark_domain::action_tracking::action::ActionEvent;
use waymark_domain::agreed::Origin;
use waymark_domain::{SchoolId, StreamId, Text};
use waymark_proto::notifications::v1 as pb;
use waymark_runtime::ManualClock;
use waymark_testkit::eventually;
use waymark_testkit::services::{colleague, new_caller};

use crate::support::*;

#[tokio::test]
async fn a_weekly_digest_gathers_the_week_once() {
    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    // Wednesday 18 November 2026, midday.
    let clock = ManualClock::new(at(2026, 11, 18, 12, 0));
    // The digest asks action tracking and review dialogue what is due and what awaits.
    let tracking_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dialogue_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tracking = format!("http://{}", tracking_listener.local_addr().unwrap());
    let dialogue = format!("http://{}", dialogue_listener.local_addr().unwrap());
    let (mut platform, address) = start(
        None,
        Some(clock.clone()),
        smtp_port,
        &[
            ("action_tracking.url", tracking.as_str()),
            ("review_dialogue.url", dialogue.as_str()),
        ],
    )
    .await;
    platform.serve_on(tracking_listener, waymark_action_tracking::run);
    platform.serve_on(dialogue_listener, waymark_review_dialogue::run);
    let head = new_caller();
    let (teacher_caller, teacher) = colleague(head);
    let school = Uuid::new_v4();
    // Action tracking reads a person's actions only to people it knows.
    waymark_testkit::directory::school(
        &platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        head,
        school,
        &[teacher],
    )
    .await;
    contact(
        &platform,
        address,
        head,
        teacher,
        "sam@example.org",
        None,
        school,
    )
    .await;
    client(&platform, address, teacher_caller)
        .set_preferences(pb::Preferences {
            email: true,
            webhook: false,
            mode: "weekly".into(),
            weekly_digest: true,
            ..Default::default()
        })
        .await
        .unwrap();

    // Three actions are given to the teacher during the week: gathered, not sent.
    let days = [
        ("2026-11-24", "Share the marking policy"),
        ("2026-11-27", "Plan the Year 9 trip"),
        ("2026-12-18", "Review reading ages"),
    ];
    for (due, what) in days {
        let action = Uuid::new_v4();
        let created = ActionEvent::ActionCreated {
            action_id: action,
            school_id: SchoolId::from_uuid(school),
            origin: Origin::direct(),
            description: Text::parse(what).unwrap(),
            owner_id: teacher,
            supporter_ids: vec![],
            due_date: chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").unwrap(),
            success_criteria: None,
            carried_forward_from: None,
        };
        append(&platform, head, StreamId::new("action", action), &created).await;
    }
    let inbox = client(&platform, address, teacher_caller);
    eventually(PATIENCE, "three notices gathered", || {
        let mut inbox = inbox.clone();
        async move {
            inbox
                .list_inbox(pb::ListInboxRequest::default())
                .await
                .unwrap()
                .into_inner()
                .notices
                .len()
                == 3
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 0, "nothing sent one by one");

    // Monday 23 November, 07:00 in London: the digest.
    clock.set(at(2026, 11, 23, 7, 0));
    eventually(PATIENCE, "the digest", || async { sink.count() == 1 }).await;
    let digest = sink.all()[0].clone();
    assert!(
        digest.contains("Subject: Your week in Waymark: 23 November 2026"),
        "{digest}"
    );
    let due_week = digest.split("Due this week").nth(1).unwrap();
    assert!(
        due_week.contains("Share the marking policy (due 24 November 2026)"),
        "{digest}"
    );
    assert!(due_week.contains("Plan the Year 9 trip"));
    assert!(
        !due_week
            .split("Since your last digest")
            .next()
            .unwrap()
            .contains("Review reading ages"),
        "not due this week"
    );
    let gathered = digest.split("Since your last digest").nth(1).unwrap();
    for (_, what) in days {
        assert!(gathered.contains(what), "{what} gathered");
    }
    // Later the same morning: no second digest.
    clock.set(at(2026, 11, 23, 9, 30));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.count(), 1);
    platform.stop().await;
}
