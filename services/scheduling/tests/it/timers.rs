use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_domain::action_tracking::action::{Action, ActionEvent};
use waymark_domain::agreed::Origin;
use waymark_domain::review_dialogue::review::{DraftRecord, Review, ReviewEvent};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{SchoolId, StaffId, Text};
use waymark_proto::scheduling::v1 as pb;
use waymark_runtime::ManualClock;
use waymark_scheduling::worker::{self, WorkerOptions};
use waymark_testkit::eventually;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

use crate::support::*;

const PATIENCE: Duration = Duration::from_secs(30);

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn date(value: &str) -> NaiveDate {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").unwrap()
}

fn text(value: &str) -> Text {
    Text::parse(value).unwrap()
}

async fn timers(client: &mut Client, subject: Uuid, state: &str) -> Vec<pb::Timer> {
    client
        .list_timers(pb::ListTimersRequest {
            subject_id: subject.to_string(),
            state: state.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .timers
}

fn created(action: Uuid, school: Uuid, owner: StaffId, due: &str) -> ActionEvent {
    ActionEvent::ActionCreated {
        action_id: action,
        school_id: SchoolId::from_uuid(school),
        origin: Origin::direct(),
        description: text("Model worked examples first"),
        owner_id: owner,
        supporter_ids: vec![],
        due_date: date(due),
        success_criteria: None,
        carried_forward_from: None,
    }
}

async fn reminders_fired(platform: &TestPlatform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event_store.events WHERE event_type = 'ReminderDue'")
        .fetch_one(&platform.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_actions_reminders_fire_once_move_with_its_due_date_and_stop_when_done() {
    let clock = ManualClock::new(at(2026, 11, 20, 12, 0));
    let mut platform = TestPlatform::start_with_clock(None, Arc::new(clock.clone())).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher]).await;
    make_trust_admin(&platform, head).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;

    let action = Uuid::new_v4();
    append::<Action>(
        &platform,
        head,
        action,
        created(action, school, teacher, "2026-12-10"),
    )
    .await;
    eventually(PATIENCE, "five timers planned", || {
        let mut client = client.clone();
        async move { timers(&mut client, action, "pending").await.len() == 5 }
    })
    .await;
    let planned = timers(&mut client, action, "pending").await;
    let days: Vec<(&str, &str)> = planned
        .iter()
        .map(|t| (t.reminder.as_str(), t.local_date.as_str()))
        .collect();
    assert_eq!(
        days,
        [
            ("upcoming_7", "2026-12-03"),
            ("upcoming_1", "2026-12-09"),
            ("due", "2026-12-10"),
            ("overdue", "2026-12-11"),
            ("escalation", "2026-12-16")
        ]
    );
    assert!(
        planned
            .iter()
            .all(|t| t.recipient_id == teacher.to_string())
    );

    // A week before, at nine: the first reminder fires, once.
    clock.set(at(2026, 12, 3, 9, 0));
    eventually(PATIENCE, "the seven-day reminder", || {
        let mut client = client.clone();
        async move { timers(&mut client, action, "fired").await.len() == 1 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders_fired(&platform).await, 1);

    // The due date moves: what is pending moves with it; what fired stays fired.
    append::<Action>(
        &platform,
        head,
        action,
        ActionEvent::DueDateChanged {
            action_id: action,
            from: date("2026-12-10"),
            to: date("2026-12-17"),
            reason: text("Mock exams"),
        },
    )
    .await;
    eventually(PATIENCE, "timers moved to the new date", || {
        let mut client = client.clone();
        async move {
            timers(&mut client, action, "pending")
                .await
                .iter()
                .any(|t| t.due_date == "2026-12-17")
        }
    })
    .await;
    let pending = timers(&mut client, action, "pending").await;
    assert!(pending.iter().all(|t| t.due_date == "2026-12-17"));
    assert_eq!(
        pending
            .iter()
            .map(|t| t.reminder.as_str())
            .collect::<Vec<_>>(),
        ["upcoming_7", "upcoming_1", "due", "overdue", "escalation"]
    );

    // Done: nothing more is sent.
    append::<Action>(
        &platform,
        head,
        action,
        ActionEvent::ActionCompleted {
            action_id: action,
            impact: text("Calmer starts"),
        },
    )
    .await;
    eventually(PATIENCE, "pending timers cancelled", || {
        let mut client = client.clone();
        async move { timers(&mut client, action, "pending").await.is_empty() }
    })
    .await;
    clock.set(at(2027, 1, 20, 9, 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders_fired(&platform).await, 1);
    let event: serde_json::Value = sqlx::query_scalar(
        "SELECT payload FROM event_store.events WHERE event_type = 'ReminderDue'",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!(event["reminder"], "upcoming_7");
    assert_eq!(event["recipient_id"], teacher.to_string());
    assert_eq!(event["title"], "Model worked examples first");
    platform.stop().await;
}

#[tokio::test]
async fn holidays_are_skipped_and_nine_oclock_stays_nine_oclock_across_the_clock_change() {
    let clock = ManualClock::new(at(2026, 10, 1, 12, 0));
    let mut platform = TestPlatform::start_with_clock(None, Arc::new(clock.clone())).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher]).await;
    make_trust_admin(&platform, head).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;
    // Due the Monday after half term; British Summer Time ends on Sunday 25 October.
    let action = Uuid::new_v4();
    append::<Action>(
        &platform,
        head,
        action,
        created(action, school, teacher, "2026-11-02"),
    )
    .await;
    eventually(PATIENCE, "timers planned", || {
        let mut client = client.clone();
        async move { timers(&mut client, action, "pending").await.len() == 4 }
    })
    .await;
    let planned = timers(&mut client, action, "pending").await;
    let fire: Vec<(&str, &str, &str)> = planned
        .iter()
        .map(|t| {
            (
                t.reminder.as_str(),
                t.local_date.as_str(),
                t.fire_at.as_str(),
            )
        })
        .collect();
    assert_eq!(
        fire,
        [
            ("upcoming_7", "2026-10-23", "2026-10-23T08:00:00Z"),
            ("due", "2026-11-02", "2026-11-02T09:00:00Z"),
            ("overdue", "2026-11-03", "2026-11-03T09:00:00Z"),
            ("escalation", "2026-11-06", "2026-11-06T09:00:00Z"),
        ],
        "the one-day reminder would fall on the Sunday in half term; it joins the Friday before"
    );
    platform.stop().await;
}

#[tokio::test]
async fn a_record_waiting_for_agreement_nudges_whoever_has_not_agreed() {
    let clock = ManualClock::new(at(2026, 11, 20, 12, 0));
    let mut platform = TestPlatform::start_with_clock(None, Arc::new(clock.clone())).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let manager = new_caller();
    let (_, reviewer) = (manager, StaffId::from_uuid(manager.actor.into_uuid()));
    let (_, reviewee) = colleague(manager);
    let school = Uuid::new_v4();
    make_trust_admin(&platform, manager).await;
    let client = client(&platform, address, manager);
    let review = Uuid::new_v4();
    append::<Review>(
        &platform,
        manager,
        review,
        ReviewEvent::ReviewScheduled {
            review_id: review,
            school_id: SchoolId::from_uuid(school),
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            year_group: text("Year 8"),
            reviewer_id: reviewer,
            reviewee_id: reviewee,
            window_opens: date("2026-11-23"),
            window_closes: date("2026-12-11"),
            slt_line_manager_id: None,
            occurrence: None,
        },
    )
    .await;
    append::<Review>(
        &platform,
        manager,
        review,
        ReviewEvent::RecordDrafted {
            review_id: review,
            draft: 1,
            by: reviewer,
            record: DraftRecord::default(),
        },
    )
    .await;
    let nudges = async |client: &mut Client| -> Vec<String> {
        let mut people: Vec<String> = timers(client, review, "pending")
            .await
            .into_iter()
            .filter(|t| t.reminder == "awaiting_agreement")
            .map(|t| t.recipient_id)
            .collect();
        people.sort();
        people
    };
    eventually(PATIENCE, "both nudged", || {
        let mut client = client.clone();
        async move { nudges(&mut client).await.len() == 2 }
    })
    .await;
    append::<Review>(
        &platform,
        manager,
        review,
        ReviewEvent::RecordAgreed {
            review_id: review,
            draft: 1,
            by: reviewer,
        },
    )
    .await;
    eventually(PATIENCE, "only the reviewee still nudged", || {
        let mut client = client.clone();
        async move { nudges(&mut client).await == vec![reviewee.to_string()] }
    })
    .await;
    append::<Review>(
        &platform,
        manager,
        review,
        ReviewEvent::ReviewAgreed {
            review_id: review,
            draft: 1,
        },
    )
    .await;
    eventually(PATIENCE, "nothing pending once agreed", || {
        let mut client = client.clone();
        async move { timers(&mut client, review, "pending").await.is_empty() }
    })
    .await;
    platform.stop().await;
}

/// Thousands of due timers, two workers (as two replicas would run), one of them stopped part
/// way and replaced: every timer fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_and_a_restart_fire_every_timer_exactly_once() {
    const TIMERS: i64 = 3000;
    let clock = ManualClock::new(at(2026, 12, 1, 9, 0));
    let platform = TestPlatform::start_with_clock(None, Arc::new(clock)).await;
    waymark_scheduling::migrate(&platform.db.pool)
        .await
        .unwrap();
    let trust = new_caller().trust.into_uuid();
    sqlx::query(
        "INSERT INTO scheduling.timers (timer_id, trust_id, school_id, subject_kind, subject_id, title, reminder, recipient_id, \
         due_date, local_date, fire_at) \
         SELECT gen_random_uuid(), $1, gen_random_uuid(), 'action', gen_random_uuid(), 'Action ' || n, 'due', gen_random_uuid(), \
         '2026-12-01', '2026-12-01', '2026-12-01T08:59:00Z'::timestamptz + (n % 60) * interval '1 second' FROM generate_series(1, $2) n",
    )
    .bind(trust)
    .bind(TIMERS)
    .execute(&platform.db.pool)
    .await
    .unwrap();
    let options = WorkerOptions {
        batch: 100,
        poll: Duration::from_millis(10),
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let (first, second, third) = (
        CancellationToken::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    let _ = &first;
    let a = worker::spawn(
        platform.platform.clone(),
        options,
        wake.clone(),
        first.clone(),
    );
    let b = worker::spawn(
        platform.platform.clone(),
        options,
        wake.clone(),
        second.clone(),
    );
    let fired = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM scheduling.timers WHERE state = 'fired'")
            .fetch_one(&platform.db.pool)
            .await
            .unwrap()
    };
    eventually(PATIENCE, "some fired", || async { fired().await >= 300 }).await;
    // A crash: the worker stops wherever it is, possibly inside a transaction.
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());
    assert!(
        fired().await < TIMERS,
        "the restart should come part way through"
    );
    let c = worker::spawn(platform.platform.clone(), options, wake, third.clone());
    eventually(PATIENCE, "all fired", || async { fired().await == TIMERS }).await;
    second.cancel();
    third.cancel();
    b.await.unwrap();
    c.await.unwrap();

    let (events, streams): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT stream_id) FROM event_store.events WHERE event_type = 'ReminderDue'",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (events, streams),
        (TIMERS, TIMERS),
        "one reminder per timer, never two"
    );
    let linked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scheduling.timers t JOIN event_store.events e ON e.event_id = t.event_id \
         WHERE e.stream_id = 'reminder-' || t.timer_id",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!(linked, TIMERS);
    platform.stop().await;
}

#[tokio::test]
async fn a_meeting_recorded_after_it_happened_reminds_nobody_while_it_is_written_up() {
    use waymark_domain::review_dialogue::meeting::{Meeting, MeetingEvent};
    // Thursday 10 December, recording Monday's meeting.
    let clock = ManualClock::new(at(2026, 12, 10, 15, 0));
    let mut platform = TestPlatform::start_with_clock(None, Arc::new(clock.clone())).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher]).await;
    make_trust_admin(&platform, head).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;

    let meeting = Uuid::new_v4();
    append::<Meeting>(
        &platform,
        head,
        meeting,
        MeetingEvent::MeetingScheduled {
            meeting_id: meeting,
            school_id: SchoolId::from_uuid(school),
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            assessment_point: text("Autumn"),
            teacher_id: teacher,
            class_group: text("3B"),
            leader_ids: vec![StaffId::from_uuid(head.actor.into_uuid())],
            date: date("2026-12-07"),
            previous_meeting_id: None,
            occurrence: None,
        },
    )
    .await;
    eventually(PATIENCE, "its lateness planned", || {
        let mut client = client.clone();
        async move { timers(&mut client, meeting, "pending").await.len() == 2 }
    })
    .await;
    let planned = timers(&mut client, meeting, "pending").await;
    let days: Vec<(&str, &str)> = planned
        .iter()
        .map(|t| (t.reminder.as_str(), t.local_date.as_str()))
        .collect();
    assert_eq!(
        days,
        [("overdue", "2026-12-11"), ("escalation", "2026-12-16")],
        "late from tomorrow, not from Monday"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders_fired(&platform).await, 0, "nothing fires at once");

    // Closed the same afternoon: nothing is left to remind anyone of.
    append::<Meeting>(
        &platform,
        head,
        meeting,
        MeetingEvent::MeetingClosed {
            meeting_id: meeting,
        },
    )
    .await;
    eventually(PATIENCE, "its timers cancelled", || {
        let mut client = client.clone();
        async move { timers(&mut client, meeting, "pending").await.is_empty() }
    })
    .await;
    clock.set(at(2026, 12, 17, 9, 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders_fired(&platform).await, 0);
    platform.stop().await;
}

#[tokio::test]
async fn a_timer_that_cannot_make_a_reminder_is_parked_and_holds_up_nothing() {
    let clock = ManualClock::new(at(2026, 12, 1, 9, 0));
    let platform = TestPlatform::start_with_clock(None, Arc::new(clock)).await;
    waymark_scheduling::migrate(&platform.db.pool)
        .await
        .unwrap();
    let trust = new_caller().trust.into_uuid();
    let pool = &platform.db.pool;
    let timer = |kind: &'static str, title: &'static str, minute: u32| async move {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO scheduling.timers (timer_id, trust_id, school_id, subject_kind, subject_id, title, reminder, \
             recipient_id, due_date, local_date, fire_at) \
             VALUES ($1, $2, gen_random_uuid(), $3, gen_random_uuid(), $4, 'due', gen_random_uuid(), '2026-12-01', '2026-12-01', $5)",
        )
        .bind(id)
        .bind(trust)
        .bind(kind)
        .bind(title)
        .bind(at(2026, 12, 1, 8, minute))
        .execute(pool)
        .await
        .unwrap();
        id
    };
    // Due first: a row naming no kind of subject, and one whose title is blank.
    let unknown = timer("spaceship", "Launch", 1).await;
    let blank = timer("action", "   ", 2).await;
    let fine = [
        timer("action", "Plan", 3).await,
        timer("action", "Mark", 4).await,
    ];
    // One at a time, so the bad rows come first in every round they are in.
    let mut rounds = 0;
    while worker::fire_due(&platform.platform, 1).await.unwrap() > 0 {
        rounds += 1;
        assert!(rounds <= 4, "every timer is dealt with once");
    }
    let state = |id: Uuid| async move {
        sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT state, reason FROM scheduling.timers WHERE timer_id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let (unknown_state, unknown_reason) = state(unknown).await;
    assert_eq!(unknown_state, "parked");
    assert!(unknown_reason.unwrap().contains("spaceship"));
    let (blank_state, blank_reason) = state(blank).await;
    assert_eq!(blank_state, "parked");
    assert!(blank_reason.unwrap().starts_with("title"));
    for id in fine {
        assert_eq!(state(id).await.0, "fired");
    }
    // A timer whose reminder is stored already (its row left pending, as after restoring
    // the timers from before they were marked) is marked, not fired again, and holds up
    // nothing.
    sqlx::query("UPDATE scheduling.timers SET state = 'pending' WHERE timer_id = $1")
        .bind(fine[0])
        .execute(pool)
        .await
        .unwrap();
    let later = timer("action", "Moderate", 5).await;
    while worker::fire_due(&platform.platform, 500).await.unwrap() > 0 {}
    assert_eq!(state(fine[0]).await.0, "fired");
    assert_eq!(state(later).await.0, "fired");
    let reminders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_store.events WHERE stream_id LIKE 'reminder-%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        reminders, 3,
        "one reminder each for the timers that could make one"
    );
    platform.stop().await;
}

/// Each timer of `subject`, as `(reminder, state)` in the order they fall.
async fn states(platform: &TestPlatform, subject: Uuid) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT reminder, state FROM scheduling.timers WHERE subject_id = $1 ORDER BY fire_at, reminder",
    )
    .bind(subject)
    .fetch_all(&platform.db.pool)
    .await
    .unwrap()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(reminder, state)| ((*reminder).to_owned(), (*state).to_owned()))
        .collect()
}

/// Scheduling is down while an action's reminders fall due, and the reminders are planned
/// again meanwhile (as a calendar change does). Nothing due is dropped by the re-plan, and on
/// scheduling's return each person hears only the latest reminder still true, in words true on
/// the day it is sent.
#[tokio::test]
async fn after_downtime_each_person_hears_only_the_latest_reminder_still_true() {
    let clock = ManualClock::new(at(2026, 11, 20, 12, 0));
    let platform = TestPlatform::start_with_clock(None, Arc::new(clock.clone())).await;
    let down = CancellationToken::new();
    let (address, service) = platform
        .serve_until(waymark_scheduling::run, down.clone())
        .await;
    let p = &platform;
    let head = new_caller();
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher]).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;
    let (thursday, monday) = (Uuid::new_v4(), Uuid::new_v4());
    append::<Action>(
        &platform,
        head,
        thursday,
        created(thursday, school, teacher, "2026-12-10"),
    )
    .await;
    append::<Action>(
        &platform,
        head,
        monday,
        created(monday, school, teacher, "2026-12-14"),
    )
    .await;
    eventually(PATIENCE, "both actions' timers planned", || async move {
        states(p, thursday).await.len() == 5 && states(p, monday).await.len() == 5
    })
    .await;
    down.cancel();
    service.await.unwrap();

    // Down until Thursday 10 December, 10:30: the seven-day, one-day and due-today reminders of
    // Thursday's action and the seven-day one of Monday's are due, none sent. A re-plan now
    // keeps every one of them.
    clock.set(at(2026, 12, 10, 10, 30));
    let planner = waymark_scheduling::planner::Planner {
        settings: Default::default(),
        clock: Arc::new(clock.clone()),
        wake: Arc::new(tokio::sync::Notify::new()),
    };
    let mut tx = platform.db.pool.begin().await.unwrap();
    let calendar: serde_json::Value =
        sqlx::query_scalar("SELECT doc FROM scheduling.calendars WHERE school_id = $1")
            .bind(school)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let calendar = serde_json::from_value(calendar).unwrap();
    planner
        .replan_school(&mut tx, head.trust, school, &calendar)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all_pending = pairs(&[
        ("upcoming_7", "pending"),
        ("upcoming_1", "pending"),
        ("due", "pending"),
        ("overdue", "pending"),
        ("escalation", "pending"),
    ]);
    assert_eq!(states(&platform, thursday).await, all_pending);
    assert_eq!(states(&platform, monday).await, all_pending);

    // Back up: Thursday's action says "due today" once; Monday's says how long is left now.
    let up = CancellationToken::new();
    let (_, service) = platform
        .serve_until(waymark_scheduling::run, up.clone())
        .await;
    eventually(PATIENCE, "the due reminders dealt with", || async move {
        states(p, monday).await[0].1 != "pending" && states(p, thursday).await[2].1 != "pending"
    })
    .await;
    assert_eq!(
        states(&platform, thursday).await,
        pairs(&[
            ("upcoming_7", "skipped"),
            ("upcoming_1", "skipped"),
            ("due", "fired"),
            ("overdue", "pending"),
            ("escalation", "pending"),
        ])
    );
    assert_eq!(
        states(&platform, monday).await[..2],
        pairs(&[("upcoming_7", "fired"), ("upcoming_1", "pending")])
    );
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM scheduling.timers WHERE subject_id = $1 AND reminder = 'upcoming_7'",
    )
    .bind(thursday)
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    assert_eq!(reason, "the later due reminder was due as well");
    let sent = |subject: Uuid| {
        let pool = platform.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, serde_json::Value>(
                "SELECT payload FROM event_store.events WHERE event_type = 'ReminderDue' \
                 AND payload->>'subject_id' = ($1::uuid)::text ORDER BY position",
            )
            .bind(subject)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let thursday_sent = sent(thursday).await;
    assert_eq!(thursday_sent.len(), 1);
    assert_eq!(thursday_sent[0]["reminder"], "due");
    assert!(
        thursday_sent[0].get("sent_on").is_none(),
        "sent on its own day"
    );
    let monday_sent = sent(monday).await;
    assert_eq!(monday_sent.len(), 1);
    assert_eq!(monday_sent[0]["reminder"], "upcoming_7");
    assert_eq!(monday_sent[0]["local_date"], "2026-12-07");
    assert_eq!(
        monday_sent[0]["sent_on"], "2026-12-10",
        "four days left, not seven"
    );

    // Down again over Friday and the weekend, back Monday 14 December at ten: Thursday's
    // action is overdue (still true, sent); Monday's one-day reminder gives way to "due today".
    clock.set(at(2026, 12, 14, 10, 0));
    eventually(PATIENCE, "Monday's reminders dealt with", || async move {
        states(p, monday).await[2].1 != "pending" && states(p, thursday).await[3].1 != "pending"
    })
    .await;
    assert_eq!(
        states(&platform, monday).await[..3],
        pairs(&[
            ("upcoming_7", "fired"),
            ("upcoming_1", "skipped"),
            ("due", "fired")
        ])
    );
    assert_eq!(
        states(&platform, thursday).await[3],
        ("overdue".into(), "fired".into())
    );
    let reminders: Vec<String> = [sent(thursday).await, sent(monday).await]
        .concat()
        .iter()
        .map(|event| event["reminder"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        reminders,
        ["due", "overdue", "upcoming_7", "due"],
        "four reminders, none twice"
    );
    up.cancel();
    service.await.unwrap();
    platform.stop().await;
}

#[tokio::test]
async fn a_planned_activity_reminds_its_lead_and_the_reminders_follow_it() {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 17, 10, 0, 0)
        .single()
        .unwrap();
    let mut platform = TestPlatform::start_with_clock(None, Arc::new(ManualClock::new(at))).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[]).await;
    let mut as_head = client(&platform, address, head);
    set_calendar(&mut as_head, school, year_calendar()).await;
    generated(&mut as_head, school, staff(head), vec![], vec![]).await;
    let activities = activities(&mut as_head, school).await;
    let id = |value: &str| Uuid::parse_str(value).unwrap();
    // One already past when the year was generated has none: the overview shows it overdue.
    let past = activities
        .iter()
        .find(|o| o.due.as_str() < "2026-11-17")
        .expect("an activity before today");
    assert!(
        timers(&mut as_head, id(&past.occurrence_id), "")
            .await
            .is_empty()
    );
    // One to come reminds whoever leads it, before and on its date.
    let later = activities
        .iter()
        .find(|o| o.due.as_str() > "2026-12-01")
        .expect("an activity to come");
    let pending = timers(&mut as_head, id(&later.occurrence_id), "pending").await;
    assert!(
        pending.iter().any(|t| t.reminder == "due")
            && pending
                .iter()
                .all(|t| t.recipient_id == staff(head).to_string()
                    && t.due_date == later.due
                    && t.subject_kind == "occurrence"),
        "{pending:?}"
    );
    // Moved, its reminders move with it; held, they stop.
    as_head
        .reschedule_occurrence(pb::RescheduleOccurrenceRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            occurrence_id: later.occurrence_id.clone(),
            date: "2027-03-10".into(),
            reason: "Inspection week".into(),
        })
        .await
        .unwrap();
    let moved = timers(&mut as_head, id(&later.occurrence_id), "pending").await;
    assert!(
        !moved.is_empty() && moved.iter().all(|t| t.due_date == "2027-03-10"),
        "{moved:?}"
    );
    as_head
        .mark_occurrence_held(pb::OccurrenceTextRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            occurrence_id: later.occurrence_id.clone(),
            text: String::new(),
        })
        .await
        .unwrap();
    assert!(
        timers(&mut as_head, id(&later.occurrence_id), "pending")
            .await
            .is_empty()
    );
    assert!(
        !timers(&mut as_head, id(&later.occurrence_id), "cancelled")
            .await
            .is_empty()
    );
    platform.stop().await;
}
