//! The demonstration trust (`waymark demo`), built through the services' own commands on a
//! running Waymark: its records reach every state the demo promises, its people can sign
//! in and use their pages, the pages pass axe-core, and the same seed names the same people.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use waymark_demo::{Demo, Options, SignIn};
use waymark_domain::directory::Role;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_runtime::auth::Caller;

use crate::browser::Browser;
use crate::http::Client;
use crate::stack::{PASSWORD, Stack};

fn options(trust: &str, schools: usize, teachers: usize, seed: u64) -> Options {
    Options {
        trust_name: trust.to_owned(),
        schools,
        teachers,
        active_teachers: teachers,
        seed,
        password: PASSWORD.to_owned(),
    }
}

fn who(demo: &Demo, role: Role) -> &SignIn {
    demo.sign_ins
        .iter()
        .find(|s| s.role == role.label())
        .unwrap_or_else(|| panic!("no {} to sign in as", role.label()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demonstration_trust_reaches_every_state_and_its_pages_pass_the_checks() {
    let stack = Stack::start().await;
    let platform = stack.platform.platform.clone();
    // Five teachers a school: one review at each stage, and every kind of meeting.
    let demo = waymark_demo::build(platform.clone(), &options("Demo Trust", 2, 5, 42))
        .await
        .unwrap();
    // An administrator and a director; a head, a deputy and five teachers a school.
    assert_eq!(demo.staff, 2 + 2 * (2 + 5));
    assert_eq!(demo.sign_ins.len(), 5);

    let director = Caller {
        trust: demo.trust,
        actor: who(&demo, Role::TrustLeader).id.into(),
    };
    let mut reviews = ReviewDialogueClient::new(stack.platform.client(stack.reviews, director));
    let mut actions = ActionTrackingClient::new(stack.platform.client(stack.actions, director));

    let listed = reviews
        .list_reviews(rd::ListReviewsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reviews;
    let statuses: BTreeSet<String> = listed.iter().map(|r| r.status.clone()).collect();
    assert_eq!(listed.len(), 10, "one review a teacher");
    assert_eq!(
        statuses,
        ["agreed", "discussed", "drafted", "gathering", "scheduled"]
            .map(String::from)
            .into(),
    );

    let meetings = reviews
        .list_meetings(rd::ListMeetingsRequest {
            page_size: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .meetings;
    let count = |status: &str| meetings.iter().filter(|m| m.status == status).count();
    // Each teacher's first meeting, and the next one of three teachers in four, are closed;
    // the fourth's next meeting is still to come.
    assert_eq!((count("closed"), count("scheduled")), (2 * (5 + 4), 2));
    assert!(
        meetings
            .iter()
            .filter(|m| m.status == "closed" && !m.previous_meeting_id.is_empty())
            .all(|m| m.previous_actions.len() == 2
                && m.previous_actions.iter().all(|a| !a.outcome.is_empty())),
        "each later meeting reviewed both of the first one's actions"
    );

    // Action tracking learns of the agreed actions from the meetings' and reviews' events.
    let every_status = ["open", "in_progress", "done", "carried_forward", "dropped"];
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = actions
            .list_actions(at::ListActionsRequest {
                statuses: every_status.map(String::from).to_vec(),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .actions;
        if seen.len() >= demo.actions {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.len(), demo.actions, "every action the demo agreed");
    let statuses: BTreeSet<&str> = seen.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, every_status.into(), "an action in every state");
    assert!(seen.iter().any(|a| a.overdue), "some actions are overdue");
    assert!(
        seen.iter()
            .any(|a| a.status == "done" && !a.impact.is_empty()),
        "a done action says its impact"
    );

    // Each person printed signs in with the password and uses their pages.
    let pages: [(Role, &[&str]); 5] = [
        (Role::TrustAdmin, &["/", "/admin", "/admin/staff"]),
        (
            Role::TrustLeader,
            &["/", "/trust", "/schools/overview", "/actions"],
        ),
        (
            Role::HeadTeacher,
            &[
                "/",
                "/actions",
                "/reviews",
                "/meetings",
                "/calendar",
                "/visits",
            ],
        ),
        (Role::SeniorLeader, &["/", "/reviews", "/meetings"]),
        (
            Role::ClassTeacher,
            &["/", "/actions", "/meetings", "/calendar"],
        ),
    ];
    for (role, paths) in pages {
        let person = who(&demo, role);
        let mut client = Client::signed_in(&stack.base, &person.email, PASSWORD).await;
        for path in paths {
            let page = client.get(path).await;
            assert_eq!(
                page.status,
                StatusCode::OK,
                "{} on {path}: {}",
                role.label(),
                page.body
            );
        }
    }

    // The head's pages in the browser, checked with axe-core, down to one meeting's record.
    let head = who(&demo, Role::HeadTeacher);
    let mut client = Client::signed_in(&stack.base, &head.email, PASSWORD).await;
    let list = client.get("/meetings").await.body;
    let meeting = list
        .split("href=\"/meetings/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(|id| format!("/meetings/{id}"))
        .expect("a meeting on the head's list");
    let mut browser = Browser::start(&stack.base, "demo").await;
    browser.sign_in(&head.email, PASSWORD).await;
    for path in ["/", "/actions", "/reviews", "/meetings", meeting.as_str()] {
        browser.visit(path).await;
    }
    browser.close().await;

    // The same seed names the same people and schools; another seed does not.
    let names =
        |demo: &Demo| -> Vec<String> { demo.sign_ins.iter().map(|s| s.name.clone()).collect() };
    let again = waymark_demo::build(platform.clone(), &options("Demo Trust Again", 1, 1, 42))
        .await
        .unwrap();
    let other = waymark_demo::build(platform, &options("Demo Trust Other", 1, 1, 43))
        .await
        .unwrap();
    assert_eq!(names(&again), names(&demo));
    assert_ne!(names(&other), names(&demo));
    stack.platform.stop().await;
}
