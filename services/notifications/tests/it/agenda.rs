//! A meeting's day-before reminder and the previous meeting's actions it ends with: asked of
//! review dialogue outside the events consumer's transaction, so a review dialogue that does
//! not answer holds up neither the consumer nor other reminders; the reminder waits for the
//! list up to `delivery.agenda_wait_ms` and then goes without it. (The list itself, from a
//! review dialogue that answers, is checked in the workspace's journey tests.)

use chrono::NaiveDate;
use uuid::Uuid;
use waymark_domain::scheduling::reminders::{ReminderDue, ReminderEvent, SubjectKind};
use waymark_domain::{SchoolId, StaffId, StreamId, Text};
use waymark_testkit::eventually;
use waymark_testkit::services::colleague;

use crate::support::*;

async fn bodies(platform: &waymark_testkit::services::TestPlatform, to: StaffId) -> Vec<String> {
    sqlx::query_scalar("SELECT body FROM notifications.notices WHERE recipient_id = $1")
        .bind(to.into_uuid())
        .fetch_all(&platform.db.pool)
        .await
        .unwrap()
}

async fn waiting(platform: &waymark_testkit::services::TestPlatform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM notifications.agenda_wanted")
        .fetch_one(&platform.db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_reminder_waits_for_a_silent_review_dialogue_without_holding_up_others() {
    // Review dialogue's address takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let (platform, _) = start(
        None,
        None,
        port(),
        &[
            ("review_dialogue.url", url.as_str()),
            ("delivery.agenda_wait_ms", "5000"),
        ],
    )
    .await;
    let head = trust_admin(&platform).await;
    let (_, in_meeting) = colleague(head);
    let (_, other) = colleague(head);
    let school = Uuid::new_v4();
    let meeting = Uuid::new_v4();
    let timer = Uuid::new_v4();
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let reminder = ReminderEvent::ReminderDue(ReminderDue {
        timer_id: timer,
        school_id: SchoolId::from_uuid(school),
        subject_kind: SubjectKind::Meeting,
        subject_id: meeting,
        title: Text::parse("Year 4 progress meeting").unwrap(),
        reminder: "upcoming_1".into(),
        recipient_id: in_meeting,
        due_date: day,
        local_date: day.pred_opt().unwrap(),
        sent_on: None,
    });
    append(&platform, head, StreamId::new("reminder", timer), &reminder).await;
    // The next event, a reminder for someone else, is handled at once.
    remind(&platform, head, other, school, "due").await;
    eventually(PATIENCE, "the other reminder", || async {
        bodies(&platform, other).await.len() == 1
    })
    .await;
    assert!(
        bodies(&platform, in_meeting).await.is_empty(),
        "the meeting's reminder waits for its agenda"
    );
    assert_eq!(waiting(&platform).await, 1);

    // Then it goes without the list, once.
    eventually(PATIENCE, "the meeting's reminder", || async {
        !bodies(&platform, in_meeting).await.is_empty()
    })
    .await;
    let body = bodies(&platform, in_meeting).await;
    assert_eq!(body.len(), 1);
    assert!(
        body[0].starts_with("Year 4 progress meeting is tomorrow"),
        "{body:?}"
    );
    assert!(!body[0].contains("previous meeting's actions"), "{body:?}");
    assert_eq!(waiting(&platform).await, 0);
    platform.stop().await;
    drop(silent);
}
