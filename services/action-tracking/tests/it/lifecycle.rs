use tonic::Code;
use uuid::Uuid;
use waymark_proto::action_tracking::v1 as pb;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

use crate::support::*;

#[tokio::test]
async fn an_action_is_followed_to_done_and_every_change_is_in_its_trail() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (teacher_caller, teacher) = colleague(leader);
    let (cover_caller, cover) = colleague(leader);
    let school = Uuid::new_v4();
    crate::support::school(&platform, leader, school, &[teacher, cover]).await;
    let mut client = client(&platform, address, leader);

    let request = create(
        school,
        &teacher.to_string(),
        "2026-12-11",
        "Model worked examples first",
    );
    let created = client
        .create_action(request.clone())
        .await
        .unwrap()
        .into_inner();
    let id = created.action_id.clone();
    let retry = client.create_action(request).await.unwrap().into_inner();
    assert_eq!(
        (retry.action_id.as_str(), retry.replayed),
        (id.as_str(), true)
    );

    let mut teacher_client = crate::support::client(&platform, address, teacher_caller);
    teacher_client
        .start_action(pb::ActionRequest {
            command_id: command(),
            action_id: id.clone(),
        })
        .await
        .unwrap();
    teacher_client
        .note_progress(text(&id, "Tried with 8B on Monday"))
        .await
        .unwrap();
    client
        .change_due_date(pb::ChangeDueDateRequest {
            command_id: command(),
            action_id: id.clone(),
            due_date: "2026-12-18".into(),
            reason: "Mock exams week".into(),
        })
        .await
        .unwrap();
    client
        .reassign_action(pb::ReassignActionRequest {
            command_id: command(),
            action_id: id.clone(),
            owner_id: cover.to_string(),
            reason: "Teacher on leave".into(),
        })
        .await
        .unwrap();
    // Now the cover teacher's: theirs to complete, not the leader's.
    let refused = client
        .complete_action(text(&id, "Claimed for them"))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), code(&refused)),
        (tonic::Code::PermissionDenied, "action.not_permitted")
    );
    let mut cover_client = crate::support::client(&platform, address, cover_caller);
    cover_client
        .complete_action(text(&id, "Starts of lessons are calmer"))
        .await
        .unwrap();
    cover_client
        .record_evidence(text(&id, "Book look, week 14"))
        .await
        .unwrap();

    let detail = client
        .get_action(pb::GetActionRequest {
            action_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let action = detail.action.unwrap();
    assert_eq!(action.status, "done");
    assert_eq!(action.owner_id, cover.to_string());
    assert_eq!(action.due_date, "2026-12-18");
    assert_eq!(action.impact, "Starts of lessons are calmer");
    assert_eq!(action.origin_kind, "direct");
    let notes: Vec<(&str, &str)> = detail
        .notes
        .iter()
        .map(|n| (n.kind.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            ("progress", "Tried with 8B on Monday"),
            ("evidence", "Book look, week 14")
        ]
    );
    assert_eq!(detail.notes[0].author_id, teacher.to_string());

    let trail = client
        .get_audit_trail(pb::GetActionRequest {
            action_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let kinds: Vec<&str> = trail.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ActionCreated",
            "ActionStarted",
            "ProgressNoted",
            "DueDateChanged",
            "ActionReassigned",
            "ActionCompleted",
            "EvidenceRecorded"
        ]
    );
    let moved = &trail[3];
    assert_eq!(
        moved.summary,
        "Due date moved from 11 December 2026 to 18 December 2026"
    );
    assert_eq!(moved.reason, "Mock exams week");
    // What was written is in the trail, not only that something was.
    let said: Vec<&str> = [2, 5, 6]
        .iter()
        .map(|&n| trail[n].summary.as_str())
        .collect();
    assert_eq!(
        said,
        [
            "Progress noted: Tried with 8B on Monday",
            "Done. Impact: Starts of lessons are calmer",
            "Evidence of impact recorded: Book look, week 14"
        ]
    );
    assert_eq!(moved.actor_id, staff(leader).to_string());
    assert_eq!(trail[1].actor_id, teacher.to_string(), "who started it");
    assert!(trail.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    platform.stop().await;
}

#[tokio::test]
async fn refusals_and_bad_input_have_their_codes_and_change_nothing() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (teacher_caller, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    crate::support::school(&platform, leader, school, &[teacher]).await;
    let mut client = client(&platform, address, leader);
    let mut owner = crate::support::client(&platform, address, teacher_caller);
    let id = client
        .create_action(create(
            school,
            &teacher.to_string(),
            "2026-12-11",
            "Homework audit",
        ))
        .await
        .unwrap()
        .into_inner()
        .action_id;

    let no_reason = client
        .change_due_date(pb::ChangeDueDateRequest {
            command_id: command(),
            action_id: id.clone(),
            due_date: "2026-12-20".into(),
            reason: "  ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    assert!(no_reason.message().starts_with("reason:"));

    let bad_date = client
        .change_due_date(pb::ChangeDueDateRequest {
            command_id: command(),
            action_id: id.clone(),
            due_date: "20/12/2026".into(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_date.code(), Code::InvalidArgument);

    // A due date far from the present is a slip, not a plan: refused, with the range.
    for (due, shown) in [
        ("1900-01-01", "1 January 1900"),
        ("2206-03-01", "1 March 2206"),
    ] {
        let far = client
            .change_due_date(pb::ChangeDueDateRequest {
                command_id: command(),
                action_id: id.clone(),
                due_date: due.into(),
                reason: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(far.code(), Code::InvalidArgument);
        assert!(
            far.message().starts_with(&format!(
                "due_date: {shown} is not between 1 August 2025 and 31 July 2030"
            )),
            "{}",
            far.message()
        );
        let created = client
            .create_action(create(
                Uuid::new_v4(),
                &teacher.to_string(),
                due,
                "Old plan",
            ))
            .await
            .unwrap_err();
        assert_eq!(created.code(), Code::InvalidArgument);
    }
    assert_eq!(get(&mut client, &id).await.due_date, "2026-12-11");

    client
        .drop_action(text(&id, "Superseded by the new homework policy"))
        .await
        .unwrap();
    let closed = owner
        .note_progress(text(&id, "late note"))
        .await
        .unwrap_err();
    assert_eq!(
        (closed.code(), code(&closed)),
        (Code::FailedPrecondition, "action.closed")
    );
    let again = client.drop_action(text(&id, "twice")).await.unwrap_err();
    assert_eq!(code(&again), "action.closed");
    client
        .reopen_action(text(&id, "Policy delayed"))
        .await
        .unwrap();
    assert_eq!(get(&mut client, &id).await.status, "in_progress");

    let missing = client
        .start_action(pb::ActionRequest {
            command_id: command(),
            action_id: Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), code(&missing)),
        (Code::NotFound, "action.not_found")
    );

    // Another trust can neither see nor change it.
    let mut stranger = crate::support::client(&platform, address, new_caller());
    let hidden = stranger
        .get_action(pb::GetActionRequest {
            action_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let blocked = stranger
        .complete_action(text(&id, "not yours"))
        .await
        .unwrap_err();
    assert_eq!(blocked.code(), Code::NotFound);
    assert!(
        stranger
            .get_audit_trail(pb::GetActionRequest {
                action_id: id.clone()
            })
            .await
            .is_err()
    );
    assert_eq!(get(&mut client, &id).await.status, "in_progress");
    platform.stop().await;
}

#[tokio::test]
async fn views_put_overdue_first_and_filter_by_person_school_origin_and_status() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (me_caller, me) = colleague(leader);
    let (_, other) = colleague(leader);
    let (school, other_school) = (Uuid::new_v4(), Uuid::new_v4());
    crate::support::school(&platform, leader, school, &[me, other]).await;
    let mut client = client(&platform, address, leader);
    let mine = me.to_string();
    let mut make = async |school, owner: &str, due: &str, what: &str| {
        client
            .create_action(create(school, owner, due, what))
            .await
            .unwrap()
            .into_inner()
            .action_id
    };
    let later = make(school, &mine, "2026-11-27", "later this week").await;
    let overdue = make(school, &mine, "2026-11-16", "overdue").await;
    let next_month = make(school, &mine, "2026-12-20", "next month").await;
    let elsewhere = make(other_school, &mine, "2026-11-25", "other school").await;
    let theirs = make(school, &other.to_string(), "2026-11-24", "someone else's").await;
    let mut supported_request = create(school, &other.to_string(), "2026-11-26", "I support this");
    supported_request.supporter_ids = vec![mine.clone()];
    let supported = client
        .create_action(supported_request)
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let done = client
        .create_action(create(school, &mine, "2026-11-20", "finished"))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    crate::support::client(&platform, address, me_caller)
        .complete_action(text(&done, "It worked"))
        .await
        .unwrap();

    let list =
        async |client: &mut Client, request: pb::ListActionsRequest| -> Vec<(String, bool)> {
            client
                .list_actions(request)
                .await
                .unwrap()
                .into_inner()
                .actions
                .into_iter()
                .map(|a| (a.action_id, a.overdue))
                .collect()
        };
    // My week, as of Monday 23 November: overdue first, then by date.
    let my_week = list(
        &mut client,
        pb::ListActionsRequest {
            person_ids: vec![mine.clone()],
            include_supported: true,
            due_on_or_before: "2026-11-29".into(),
            today: "2026-11-23".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        my_week,
        [
            (overdue.clone(), true),
            (elsewhere.clone(), false),
            (supported.clone(), false),
            (later.clone(), false)
        ]
    );
    let owned_only = list(
        &mut client,
        pb::ListActionsRequest {
            person_ids: vec![mine.clone()],
            ..Default::default()
        },
    )
    .await;
    assert!(!owned_only.iter().any(|(id, _)| *id == supported));
    let by_school = list(
        &mut client,
        pb::ListActionsRequest {
            school_id: school.to_string(),
            today: "2026-11-23".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_school.len(), 5);
    assert!(
        !by_school
            .iter()
            .any(|(id, _)| *id == elsewhere || *id == done)
    );
    let overdue_only = list(
        &mut client,
        pb::ListActionsRequest {
            overdue_only: true,
            today: "2026-11-25".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        overdue_only,
        [(overdue.clone(), true), (theirs.clone(), true)]
    );
    let finished = list(
        &mut client,
        pb::ListActionsRequest {
            statuses: vec!["done".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(finished, [(done.clone(), false)]);
    let direct = list(
        &mut client,
        pb::ListActionsRequest {
            origin_kind: "direct".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(direct.len(), 6);
    assert!(direct.iter().any(|(id, _)| *id == next_month));
    let bad = client
        .list_actions(pb::ListActionsRequest {
            statuses: vec!["finished".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    platform.stop().await;
}

#[tokio::test]
async fn carrying_forward_links_the_old_action_to_its_successor() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    crate::support::school(&platform, leader, school, &[teacher]).await;
    let mut client = client(&platform, address, leader);
    let request = create(
        school,
        &teacher.to_string(),
        "2026-12-11",
        "Reading age screening",
    );
    let id = client
        .create_action(request)
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let carry = pb::CarryForwardRequest {
        command_id: command(),
        action_id: id.clone(),
        due_date: "2027-02-12".into(),
        note: "Screening software arrives in January".into(),
    };
    let reply = client
        .carry_forward_action(carry.clone())
        .await
        .unwrap()
        .into_inner();
    let retry = client
        .carry_forward_action(carry)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry.next_action_id, reply.next_action_id);
    let old = get(&mut client, &id).await;
    let new = get(&mut client, &reply.next_action_id).await;
    assert_eq!(old.status, "carried_forward");
    assert_eq!(old.carried_forward_to, reply.next_action_id);
    assert_eq!(new.carried_forward_from, id);
    assert_eq!(
        (new.status.as_str(), new.due_date.as_str()),
        ("open", "2027-02-12")
    );
    assert_eq!(
        (new.description.as_str(), new.owner_id.as_str()),
        ("Reading age screening", teacher.to_string().as_str())
    );
    platform.stop().await;
}
