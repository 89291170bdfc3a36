//! What reaches people outside the pages: e-mails and inbox notices, and that every link in
//! them opens the page it names.

use std::time::Duration;

use reqwest::StatusCode;
use waymark_testkit::eventually;
use waymark_testkit::smtp::links_to;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack, day};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_in_an_email_and_in_the_inbox_opens_its_page() {
    let stack = Stack::start().await;
    let mut head = Client::signed_in(&stack.base, &stack.seed.head.email, PASSWORD).await;
    stack
        .hold_meeting(&mut head, "3B", &day(0), &[("Phonics catch-up", &day(14))])
        .await;

    // The teacher is e-mailed the new action.
    let teacher_email = stack.seed.teacher.email.clone();
    eventually(Duration::from_secs(30), "the action's e-mail", || async {
        stack.mail.all().iter().any(|m| m.contains(&teacher_email))
    })
    .await;
    let mail = stack
        .mail
        .all()
        .into_iter()
        .find(|m| m.contains(&teacher_email))
        .unwrap();
    let links = links_to(&mail, &stack.base);
    assert!(
        links.iter().any(|l| l.contains("/actions/")),
        "the e-mail links to its action: {links:?}\n{mail}"
    );
    assert!(
        mail.contains(&format!("List-Unsubscribe: <{}/preferences>", stack.base)),
        "{mail}"
    );
    let mut teacher = Client::signed_in(&stack.base, &teacher_email, PASSWORD).await;
    for link in &links {
        let page = teacher.get(link.strip_prefix(&stack.base).unwrap()).await;
        assert_eq!(page.status, StatusCode::OK, "{link} opens: {}", page.body);
    }

    // The inbox links the notice to the same page.
    let inbox = teacher.get("/inbox").await;
    let action = links.iter().find(|l| l.contains("/actions/")).unwrap();
    let path = action.strip_prefix(&stack.base).unwrap();
    assert!(
        inbox.body.contains(&format!("href=\"{path}\"")),
        "the notice links to {path}: {}",
        inbox.body
    );
    stack.platform.stop().await;
}

/// Thirty people join at once, each with a line manager, with no pause between the
/// directory's events: notifications learns every line manager (escalations need them),
/// however far the directory's view lags behind the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_managers_reach_notifications_for_everyone_added_at_once() {
    use waymark_domain::directory::{DirectoryEvent, Grant, Role};
    use waymark_domain::{EventId, StaffId, StreamId};
    use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};

    let stack = Stack::start().await;
    let (trust, head) = (stack.seed.trust, stack.seed.head.id);
    let pool = &stack.platform.platform.pool;
    let stream = StreamId::new("directory", trust.into_uuid());
    let mut events = Vec::new();
    for n in 0..30 {
        let staff = StaffId::from_uuid(uuid::Uuid::new_v4());
        sqlx::query(
            "INSERT INTO gateway.people (trust_id, staff_id, display_name, email) VALUES ($1, $2, $3, $4)",
        )
        .bind(trust.into_uuid())
        .bind(staff.into_uuid())
        .bind(format!("Newcomer {n}"))
        .bind(format!("newcomer.{n}.{}@example.org", uuid::Uuid::new_v4().simple()))
        .execute(pool)
        .await
        .unwrap();
        events.push(DirectoryEvent::StaffAdded { staff_id: staff });
        events.push(DirectoryEvent::RoleGranted {
            staff_id: staff,
            grant: Grant {
                school: Some(stack.seed.hillside),
                role: Role::ClassTeacher,
            },
        });
        events.push(DirectoryEvent::LineManagerSet {
            staff_id: staff,
            manager: Some(head),
        });
    }
    let metadata = waymark_domain::EventMetadata {
        actor: waymark_domain::ActorId::from_uuid(head.into_uuid()),
        causation_id: None,
        correlation_id: waymark_domain::CorrelationId::from_uuid(uuid::Uuid::new_v4()),
        command_id: None,
    };
    // One append per event, as thirty quick commands would.
    for event in &events {
        let new = NewEvent::from_domain(EventId::from_uuid(uuid::Uuid::new_v4()), event).unwrap();
        stack
            .platform
            .platform
            .store
            .append(trust, &stream, ExpectedVersion::Any, &metadata, &[new])
            .await
            .unwrap();
    }
    let managed = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM notifications.contacts c JOIN gateway.people p \
             ON p.trust_id = c.trust_id AND p.staff_id = c.staff_id \
             WHERE c.trust_id = $1 AND p.display_name LIKE 'Newcomer %' AND c.line_manager_id = $2",
        )
        .bind(trust.into_uuid())
        .bind(head.into_uuid())
        .fetch_one(pool)
        .await
        .unwrap()
    };
    eventually(
        Duration::from_secs(30),
        "every newcomer's line manager",
        || async { managed().await == 30 },
    )
    .await;
    // Nothing arrives later to undo it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(managed().await, 30);
    stack.platform.stop().await;
}

/// A contact notifications refuses (here, an address it will not take) is dropped from the
/// outbox with an error in the log; it does not hold up the people queued behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_contact_does_not_hold_up_the_others() {
    let stack = Stack::start().await;
    let trust = stack.seed.trust;
    let pool = &stack.platform.platform.pool;
    let (bad, good) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for (staff, version, email) in [
        (bad, 1_i64, "not an address"),
        (good, 2, "good@example.org"),
    ] {
        sqlx::query(
            "INSERT INTO gateway.contact_outbox (trust_id, staff_id, version, contact) VALUES ($1, $2, $3, $4)",
        )
        .bind(trust.into_uuid())
        .bind(staff)
        .bind(version)
        .bind(serde_json::json!({
            "display_name": "Queued Person", "email": email, "line_manager": null, "school": null
        }))
        .execute(pool)
        .await
        .unwrap();
    }
    eventually(Duration::from_secs(30), "the good contact", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM notifications.contacts WHERE trust_id = $1 AND staff_id = $2",
        )
        .bind(trust.into_uuid())
        .bind(good)
        .fetch_one(pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    // The outbox row goes once notifications has answered, a moment after the contact is
    // stored there.
    eventually(
        Duration::from_secs(10),
        "neither is left queued",
        || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM gateway.contact_outbox WHERE staff_id = ANY($1)",
            )
            .bind(vec![bad, good])
            .fetch_one(pool)
            .await
            .unwrap()
                == 0
        },
    )
    .await;
    stack.platform.stop().await;
}
