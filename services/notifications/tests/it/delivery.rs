use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use uuid::Uuid;
use waymark_domain::StreamId;
use waymark_domain::scheduling::calendar::{CalendarEvent, Holiday, Term, YearCalendar};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{SchoolId, Text};
use waymark_event_store::{Checkpoint, EventStore, Filter};
use waymark_proto::notifications::v1 as pb;
use waymark_runtime::ManualClock;
use waymark_testkit::services::{colleague, new_caller, staff};
use waymark_testkit::{NatsServer, eventually};

use crate::slow_smtp::{SlowSmtp, message_id};
use crate::support::*;

async fn deliveries(client: &mut Client, state: &str) -> Vec<pb::Delivery> {
    client
        .list_deliveries(pb::ListDeliveriesRequest {
            state: state.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_sends_one_email_and_a_redelivered_event_sends_none() {
    let nats = NatsServer::start().await;
    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    let (platform, address) = start(Some(nats.url()), None, smtp_port, &[]).await;
    let head = trust_admin(&platform).await;
    let (teacher_caller, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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

    remind(&platform, head, teacher, school, "due").await;
    eventually(PATIENCE, "one e-mail", || async { sink.count() == 1 }).await;
    let mail = &sink.all()[0];
    assert!(
        mail.contains("Subject: Due today: Model worked examples first"),
        "{mail}"
    );
    assert!(
        mail.contains("List-Unsubscribe: <http://127.0.0.1:8080/preferences>"),
        "{mail}"
    );
    assert!(
        mail.contains("Content-Type: text/plain") && mail.contains("Content-Type: text/html"),
        "both parts"
    );
    assert!(
        mail.contains("To: \"Sam Teacher\" <sam@example.org>")
            || mail.contains("To: Sam Teacher <sam@example.org>"),
        "{mail}"
    );

    // JetStream delivers the same event again.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stored = platform
        .platform
        .store
        .read_all(Checkpoint::START, 10, &Filter::categories(["reminder"]))
        .await
        .unwrap();
    let event = &stored.events[0];
    js.publish(
        format!("waymark.events.{}.reminder.ReminderDue", event.trust_id),
        serde_json::to_vec(event).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    eventually(PATIENCE, "the redelivery handled", || {
        let js = js.clone();
        async move {
            let stream = js.get_stream("WAYMARK_EVENTS").await.unwrap();
            let info = stream
                .consumer_info("notifications_events")
                .await
                .unwrap()
                .clone();
            info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence >= 2
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 1, "no second e-mail");
    assert_eq!(deliveries(&mut admin, "").await.len(), 1);

    let mut inbox = client(&platform, address, teacher_caller);
    let listed = inbox
        .list_inbox(pb::ListInboxRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((listed.notices.len(), listed.unread), (1, 1));
    inbox
        .mark_read(pb::MarkReadRequest::default())
        .await
        .unwrap();
    assert_eq!(
        inbox
            .list_inbox(pb::ListInboxRequest::default())
            .await
            .unwrap()
            .into_inner()
            .unread,
        0
    );
    platform.stop().await;
}

/// A "coming up" reminder that scheduling sent days after it was planned (it was down) says
/// how long is left on the day it is sent, not on the day it was planned for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_sent_late_counts_its_days_from_the_day_it_is_sent() {
    use chrono::NaiveDate;
    use waymark_domain::scheduling::reminders::{ReminderDue, ReminderEvent, SubjectKind};
    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    let (platform, address) = start(None, None, smtp_port, &[]).await;
    let head = trust_admin(&platform).await;
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
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
    let timer = Uuid::new_v4();
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let reminder = ReminderEvent::ReminderDue(ReminderDue {
        timer_id: timer,
        school_id: SchoolId::from_uuid(school),
        subject_kind: SubjectKind::Action,
        subject_id: Uuid::new_v4(),
        title: Text::parse("Model worked examples first").unwrap(),
        reminder: "upcoming_7".into(),
        recipient_id: teacher,
        due_date: day(20),
        // Planned for Friday the 13th, sent on the 17th (the tests' today).
        local_date: day(13),
        sent_on: Some(day(17)),
    });
    append(&platform, head, StreamId::new("reminder", timer), &reminder).await;
    eventually(PATIENCE, "one e-mail", || async { sink.count() == 1 }).await;
    let mail = &sink.all()[0];
    assert!(
        mail.contains("Subject: Due in 3 days: Model worked examples first"),
        "{mail}"
    );
    platform.stop().await;
}

#[tokio::test]
async fn when_the_mail_server_is_down_for_a_while_every_email_arrives_once() {
    let smtp_port = port();
    let (platform, address) = start(None, None, smtp_port, &[]).await;
    let head = trust_admin(&platform).await;
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
    let mut people = Vec::new();
    for n in 0..5 {
        let (_, person) = colleague(head);
        contact(
            &platform,
            address,
            head,
            person,
            &format!("person{n}@example.org"),
            None,
            school,
        )
        .await;
        remind(&platform, head, person, school, "overdue").await;
        people.push(person);
    }
    eventually(PATIENCE, "failed attempts", || {
        let mut admin = admin.clone();
        async move {
            deliveries(&mut admin, "queued")
                .await
                .iter()
                .filter(|d| d.attempts >= 2)
                .count()
                == 5
        }
    })
    .await;
    assert!(
        deliveries(&mut admin, "queued").await[0]
            .last_error
            .contains("SMTP")
    );

    let sink = SmtpSink::start(smtp_port);
    eventually(PATIENCE, "five e-mails", || async { sink.count() == 5 }).await;
    eventually(PATIENCE, "all marked sent", || {
        let mut admin = admin.clone();
        async move { deliveries(&mut admin, "sent").await.len() == 5 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.all();
    assert_eq!(mails.len(), 5);
    for n in 0..5 {
        assert_eq!(
            mails
                .iter()
                .filter(|m| m.contains(&format!("person{n}@example.org")))
                .count(),
            1
        );
    }
    platform.stop().await;
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_parked_and_can_be_retried() {
    let smtp_port = port();
    let (platform, address) = start(None, None, smtp_port, &[("delivery.max_attempts", "2")]).await;
    let head = trust_admin(&platform).await;
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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
    remind(&platform, head, teacher, school, "due").await;
    eventually(PATIENCE, "parked", || {
        let mut admin = admin.clone();
        async move { deliveries(&mut admin, "parked").await.len() == 1 }
    })
    .await;
    let sink = SmtpSink::start(smtp_port);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sink.count(), 0, "a parked delivery waits for someone");
    let parked = deliveries(&mut admin, "parked").await.remove(0);
    admin
        .retry_delivery(pb::RetryDeliveryRequest {
            delivery_id: parked.delivery_id.clone(),
        })
        .await
        .unwrap();
    eventually(PATIENCE, "sent after the retry", || async {
        sink.count() == 1
    })
    .await;
    let again = admin
        .retry_delivery(pb::RetryDeliveryRequest {
            delivery_id: parked.delivery_id,
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    platform.stop().await;
}

#[tokio::test]
async fn a_school_webhook_gets_signed_chat_messages_retried_until_accepted() {
    // A receiver that checks each call's signature with the school's secret (as Standard
    // Webhooks describe), keeps each message id once, and answers the first call with 503
    // after keeping it — as if its reply were lost. The retry carries the same id, so the
    // receiver drops it as a repeat.
    let secret: Arc<Mutex<Vec<u8>>> = Arc::default();
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    // Each call's webhook-id and whether its signature verified.
    type Calls = Vec<(String, Result<(), String>)>;
    let calls: Arc<Mutex<Calls>> = Arc::default();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let (secret, received, calls) = (secret.clone(), received.clone(), calls.clone());
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let id = header("webhook-id");
                let verified = verify_standard_webhook(
                    &secret.lock().unwrap(),
                    &id,
                    &header("webhook-timestamp"),
                    &body,
                    &header("webhook-signature"),
                );
                let mut calls = calls.lock().unwrap();
                let first = calls.is_empty();
                let repeat = calls.iter().any(|(seen, _)| *seen == id);
                calls.push((id, verified.clone()));
                if verified.is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                if !repeat {
                    received
                        .lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                }
                if first {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (platform, address) = start(None, None, port(), &[]).await;
    let head = trust_admin(&platform).await;
    let (teacher_caller, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
    contact(&platform, address, head, teacher, "", None, school).await;
    let set = || pb::SetSchoolWebhookRequest {
        school_id: school.to_string(),
        url: hook.clone(),
    };
    let first = admin.set_school_webhook(set()).await.unwrap().into_inner();
    // Setting it again makes a new secret; only the newest signs.
    let shown = admin.set_school_webhook(set()).await.unwrap().into_inner();
    assert!(shown.secret.starts_with("whsec_"), "{}", shown.secret);
    assert_ne!(first.secret, shown.secret);
    *secret.lock().unwrap() = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shown.secret.trim_start_matches("whsec_"),
    )
    .unwrap();
    assert_eq!(secret.lock().unwrap().len(), 32);
    let bad = admin
        .set_school_webhook(pb::SetSchoolWebhookRequest {
            school_id: school.to_string(),
            url: "ftp://x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    // A webhook must not reach into the trust's network, the cloud's metadata or behind a
    // user name, nor go unencrypted (this platform allows loopback, for the receiver above).
    for (url, reason) in [
        ("https://10.0.0.5/hook", "private or reserved"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "private or reserved",
        ),
        ("https://[fd00::1]/hook", "private or reserved"),
        ("http://127.0.0.1@10.0.0.5/", "user name or password"),
        ("http://chat.example.org/hook", "https://"),
    ] {
        let refused = admin
            .set_school_webhook(pb::SetSchoolWebhookRequest {
                school_id: school.to_string(),
                url: url.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{url}");
        assert!(
            refused.message().contains(reason),
            "{url}: {}",
            refused.message()
        );
    }
    let mut teacher_client = client(&platform, address, teacher_caller);
    teacher_client
        .set_preferences(pb::Preferences {
            email: false,
            webhook: true,
            mode: "immediate".into(),
            weekly_digest: false,
            ..Default::default()
        })
        .await
        .unwrap();

    remind(&platform, head, teacher, school, "upcoming_7").await;
    eventually(PATIENCE, "the webhook call accepted", || async {
        received.lock().unwrap().len() == 1
    })
    .await;
    eventually(PATIENCE, "the retry", || async {
        calls.lock().unwrap().len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "one failure, one success, nothing more");
    assert!(
        calls.iter().all(|(_, verified)| verified.is_ok()),
        "{calls:?}"
    );
    assert_eq!(calls[0].0, calls[1].0, "the retry has the first call's id");
    assert_eq!(received.lock().unwrap().len(), 1, "kept once");
    let body = received.lock().unwrap()[0].clone();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Due in 7 days: Model worked examples first"),
        "{body}"
    );
    platform.stop().await;
}

/// A receiver's check (Standard Webhooks): `v1,` + base64 of HMAC-SHA256 over
/// `id.timestamp.body` with the secret, and a timestamp within five minutes of the tests'
/// clock (the service signs with its clock).
fn verify_standard_webhook(
    secret: &[u8],
    id: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), String> {
    use hmac::Mac;
    if id.is_empty() {
        return Err("no webhook-id".into());
    }
    let at: i64 = timestamp.parse().map_err(|_| "no webhook-timestamp")?;
    if (at - waymark_testkit::time::start().timestamp()).abs() > 300 {
        return Err(format!("timestamp {at} is not now"));
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        mac.finalize().into_bytes(),
    );
    signature
        .split(' ')
        .any(|candidate| candidate == format!("v1,{expected}"))
        .then_some(())
        .ok_or_else(|| format!("signature {signature} does not match"))
}

#[tokio::test]
async fn quiet_hours_and_school_holidays_hold_messages_but_not_escalations() {
    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    // Tuesday 27 October 2026, 21:00 — in half term.
    let clock = ManualClock::new(at(2026, 10, 27, 21, 0));
    let (platform, address) = start(None, Some(clock.clone()), smtp_port, &[]).await;
    let head = trust_admin(&platform).await;
    let (teacher_caller, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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
    contact(
        &platform,
        address,
        head,
        staff(head),
        "head@example.org",
        None,
        school,
    )
    .await;
    let mut teacher_client = client(&platform, address, teacher_caller);
    teacher_client
        .set_preferences(pb::Preferences {
            email: true,
            webhook: false,
            mode: "immediate".into(),
            weekly_digest: false,
            quiet_from: "18:00".into(),
            quiet_to: "07:30".into(),
        })
        .await
        .unwrap();
    // The school's calendar, as scheduling publishes it.
    let text = |v: &str| Text::parse(v).unwrap();
    let d = |m, day| chrono::NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    let calendar = CalendarEvent::YearCalendarSet {
        school_id: SchoolId::from_uuid(school),
        calendar: YearCalendar {
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            terms: vec![Term {
                name: text("Autumn"),
                starts: d(9, 2),
                ends: d(12, 18),
            }],
            holidays: vec![Holiday {
                name: text("Half term"),
                starts: d(10, 26),
                ends: d(10, 30),
            }],
            inset_days: vec![],
            assessment_points: vec![],
        },
    };
    append(
        &platform,
        head,
        StreamId::new("calendar", school),
        &calendar,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    remind(&platform, head, teacher, school, "due").await;
    // An escalation for the teacher's overdue action goes to their line manager at once.
    contact(
        &platform,
        address,
        head,
        teacher,
        "sam@example.org",
        Some(staff(head)),
        school,
    )
    .await;
    remind(&platform, head, teacher, school, "escalation").await;
    eventually(PATIENCE, "the escalation, at once", || async {
        sink.count() == 1
    })
    .await;
    assert!(sink.all()[0].contains("head@example.org"));
    assert!(sink.all()[0].contains("Still overdue"));
    let queued = deliveries(&mut admin, "queued").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].next_attempt_at, "2026-11-02T08:00:00Z",
        "after half term and the weekend, 08:00 on Monday"
    );

    clock.set(at(2026, 11, 2, 7, 59));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 1);
    clock.set(at(2026, 11, 2, 8, 0));
    eventually(PATIENCE, "the held reminder", || async {
        sink.count() == 2
    })
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_with_no_line_manager_says_so_to_the_owner_and_in_the_log() {
    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    let (platform, address) = start(None, None, smtp_port, &[]).await;
    let head = trust_admin(&platform).await;
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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

    remind(&platform, head, teacher, school, "escalation").await;
    eventually(PATIENCE, "the escalation", || async { sink.count() == 1 }).await;
    let mail = &sink.all()[0];
    assert!(mail.contains("sam@example.org"), "to the owner: {mail}");
    assert!(
        mail.contains("Waymark has none recorded for you"),
        "and it says why: {mail}"
    );
    // The server has the mail a moment before the worker records it as sent.
    eventually(PATIENCE, "the escalation recorded as sent", || {
        let mut admin = admin.clone();
        async move { deliveries(&mut admin, "sent").await.len() == 1 }
    })
    .await;
    let log = deliveries(&mut admin, "sent").await;
    assert_eq!(
        log[0].note,
        "no line manager is recorded for Sam Teacher: the escalation went to them"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_and_a_slow_mail_server_send_each_message_once() {
    // The mail server takes 1.5 s to accept each message and a lease lasts 2 s, so a worker
    // sending four in a row would lose the later ones to the other worker before reaching
    // them: each must be sent by exactly one of the two, once.
    let smtp = SlowSmtp::start(Duration::from_millis(1500), false).await;
    let (mut platform, address) = start(
        None,
        None,
        smtp.port,
        &[
            ("delivery.lease_ms", "2000"),
            ("delivery.send_timeout_ms", "1800"),
        ],
    )
    .await;
    platform.serve(waymark_notifications::run).await;
    let head = trust_admin(&platform).await;
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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
    for _ in 0..4 {
        remind(&platform, head, teacher, school, "due").await;
    }
    eventually(PATIENCE, "four deliveries sent", || async {
        let mut admin = client(&platform, address, head);
        deliveries(&mut admin, "sent").await.len() == 4
    })
    .await;
    // Nothing is still on its way: every copy the server will ever get, it has.
    eventually(PATIENCE, "no message in flight", || async {
        smtp.in_flight() == 0
    })
    .await;
    let ids: Vec<String> = smtp.messages().iter().map(|m| message_id(m)).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((ids.len(), distinct.len()), (4, 4), "{ids:?}");
    let sent = deliveries(&mut admin, "sent").await;
    assert!(sent.iter().all(|d| d.attempts == 1), "{sent:?}");
    for state in ["queued", "sending", "parked"] {
        assert!(deliveries(&mut admin, state).await.is_empty(), "{state}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_after_the_data_sends_again_with_the_same_message_id() {
    let smtp = SlowSmtp::start(Duration::ZERO, true).await;
    let (platform, address) = start(None, None, smtp.port, &[]).await;
    let head = trust_admin(&platform).await;
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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
    remind(&platform, head, teacher, school, "due").await;
    eventually(PATIENCE, "the delivery sent", || async {
        let mut admin = client(&platform, address, head);
        deliveries(&mut admin, "sent").await.len() == 1
    })
    .await;
    // The server had the first copy when the connection dropped; the worker could not know
    // and sent it again. SMTP makes that repeat unavoidable: both copies carry the same
    // Message-ID, so the mail system and the reader can tell.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2);
    let first = message_id(&messages[0]);
    assert!(!first.is_empty(), "{}", messages[0]);
    assert_eq!(first, message_id(&messages[1]));
    assert_eq!(deliveries(&mut admin, "sent").await[0].attempts, 2);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_those_who_may_invite_someone_have_an_invitation_sent() {
    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    let (platform, address) = start(None, None, smtp_port, &[]).await;
    let head = new_caller();
    let (teacher_caller, teacher) = colleague(head);
    let (_, newcomer) = colleague(head);
    let school = Uuid::new_v4();
    waymark_testkit::directory::school(
        &platform,
        waymark_notifications::DIRECTORY_TABLE,
        head,
        school,
        &[teacher, newcomer],
    )
    .await;
    let invitation = |to: waymark_domain::StaffId| pb::SendInvitationRequest {
        command_id: Uuid::new_v4().to_string(),
        staff_id: to.to_string(),
        display_name: "Nia Newcomer".into(),
        email: "nia@example.org".into(),
        link: "/invitations/abc".into(),
        trust_name: "Hillside Trust".into(),
    };
    // A teacher may not send a colleague a way in; nor may anyone send themselves one.
    let mut as_teacher = client(&platform, address, teacher_caller);
    let refused = as_teacher
        .send_invitation(invitation(newcomer))
        .await
        .unwrap_err();
    assert_eq!(
        (
            refused.code(),
            waymark_runtime::ServiceError::from_status(&refused).code
        ),
        (
            tonic::Code::PermissionDenied,
            "invitation.not_permitted".into()
        )
    );
    let mut as_head = client(&platform, address, head);
    let own = as_head
        .send_invitation(invitation(staff(head)))
        .await
        .unwrap_err();
    assert_eq!(own.code(), tonic::Code::PermissionDenied);
    // The head teacher invites someone of their school.
    as_head.send_invitation(invitation(newcomer)).await.unwrap();
    eventually(PATIENCE, "the invitation e-mail", || async {
        sink.count() == 1
    })
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_audit_check_tells_every_trust_administrator_at_once() {
    use waymark_domain::action_tracking::audit_trail::{AuditTrailEvent, CATEGORY};

    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    let (platform, address) = start(None, None, smtp_port, &[]).await;
    let admin = trust_admin(&platform).await;
    let (teacher_caller, teacher) = colleague(admin);
    let admin_id = waymark_domain::StaffId::from_uuid(admin.actor.into_uuid());
    contact(
        &platform,
        address,
        admin,
        admin_id,
        "ada@example.org",
        None,
        Uuid::new_v4(),
    )
    .await;
    contact(
        &platform,
        address,
        admin,
        teacher,
        "sam@example.org",
        None,
        Uuid::new_v4(),
    )
    .await;
    // The administrator's quiet hours would hold anything that is not urgent.
    client(&platform, address, admin)
        .set_preferences(pb::Preferences {
            email: true,
            mode: "immediate".into(),
            quiet_from: "00:00".into(),
            quiet_to: "23:59".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let failed = AuditTrailEvent::VerificationFailed {
        chain: "records".into(),
        seq: 6,
        event_id: Uuid::new_v4(),
        kind: "rewritten".into(),
        detail: "the stored event differs from what was anchored".into(),
        verified_at: waymark_testkit::time::start(),
    };
    append(
        &platform,
        admin,
        StreamId::new(CATEGORY, admin.trust.into_uuid()),
        &failed,
    )
    .await;
    eventually(PATIENCE, "the alert e-mailed", || async {
        sink.count() == 1
    })
    .await;
    let mail = &sink.all()[0];
    assert!(mail.contains("ada@example.org"), "{mail}");
    assert!(
        mail.contains(
            "Entry 6 of the history of reviews, meetings and visits did not verify (rewritten)"
        ),
        "{mail}"
    );
    let inbox = client(&platform, address, admin)
        .list_inbox(pb::ListInboxRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inbox.notices.len(), 1);
    assert!(inbox.notices[0].urgent);
    assert_eq!(inbox.notices[0].link, "/admin/audit-trail");
    // Nobody else is told.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 1);
    let teachers = client(&platform, address, teacher_caller)
        .list_inbox(pb::ListInboxRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(teachers.notices.is_empty());
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_held_until_its_subject_is_done_or_its_day_is_over_is_dropped_not_sent_late() {
    use waymark_domain::action_tracking::action::ActionEvent;
    use waymark_domain::scheduling::reminders::{ReminderDue, ReminderEvent, SubjectKind};

    let smtp_port = port();
    let sink = SmtpSink::start(smtp_port);
    // Tuesday 24 November 2026, 21:00: in the teacher's quiet hours, which end at 07:30.
    let clock = ManualClock::new(at(2026, 11, 24, 21, 0));
    let (platform, address) = start(None, Some(clock.clone()), smtp_port, &[]).await;
    let head = trust_admin(&platform).await;
    let (teacher_caller, teacher) = colleague(head);
    let school = Uuid::new_v4();
    let mut admin = client(&platform, address, head);
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
            mode: "immediate".into(),
            quiet_from: "18:00".into(),
            quiet_to: "07:30".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let remind_about = |subject: Uuid, reminder: &'static str, title: &'static str| {
        let platform = &platform;
        async move {
            let timer = Uuid::new_v4();
            let event = ReminderEvent::ReminderDue(ReminderDue {
                timer_id: timer,
                school_id: SchoolId::from_uuid(school),
                subject_kind: SubjectKind::Action,
                subject_id: subject,
                title: Text::parse(title).unwrap(),
                reminder: reminder.into(),
                recipient_id: teacher,
                due_date: day,
                local_date: day,
                sent_on: None,
            });
            append(platform, head, StreamId::new("reminder", timer), &event).await;
        }
    };
    let (today, done, still_open) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    remind_about(today, "due", "Due today, held overnight").await;
    remind_about(done, "overdue", "Done overnight").await;
    remind_about(still_open, "overdue", "Still not done").await;
    eventually(PATIENCE, "three held until the morning", || {
        let mut admin = admin.clone();
        async move { deliveries(&mut admin, "queued").await.len() == 3 }
    })
    .await;
    // Overnight, one of the overdue actions is done.
    let completed = ActionEvent::ActionCompleted {
        action_id: done,
        impact: Text::parse("Books show it").unwrap(),
    };
    append(
        &platform,
        teacher_caller,
        StreamId::new("action", done),
        &completed,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    clock.set(at(2026, 11, 25, 7, 30));
    eventually(PATIENCE, "the morning's round", || {
        let mut admin = admin.clone();
        async move { deliveries(&mut admin, "queued").await.is_empty() }
    })
    .await;
    eventually(PATIENCE, "the one still worth sending", || async {
        sink.count() == 1
    })
    .await;
    assert!(sink.all()[0].contains("Still not done"));
    let mut dropped = deliveries(&mut admin, "dropped").await;
    dropped.sort_by(|a, b| a.subject.cmp(&b.subject));
    let reasons: Vec<(&str, &str)> = dropped
        .iter()
        .map(|d| (d.subject.as_str(), d.last_error.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "Due today: Due today, held overnight",
                "dropped: its day was over before it could be sent"
            ),
            (
                "Overdue: Done overnight",
                "dropped: the action was done before it could be sent"
            ),
        ]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 1, "nothing sent late");
    platform.stop().await;
}
