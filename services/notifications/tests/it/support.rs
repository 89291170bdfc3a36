use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::scheduling::reminders::{
    ReminderDue, ReminderEvent, ReminderKind, SubjectKind,
};
use waymark_domain::{EventId, EventMetadata, SchoolId, StaffId, StreamId, Text};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};
use waymark_proto::notifications::v1 as pb;
use waymark_proto::notifications::v1::notifications_client::NotificationsClient;
use waymark_runtime::auth::{CallAs, Caller};
use waymark_runtime::{Clock, ManualClock};
use waymark_testkit::free_port;
use waymark_testkit::services::TestPlatform;
pub use waymark_testkit::smtp::SmtpSink;

pub const PATIENCE: Duration = Duration::from_secs(30);

pub type Client = NotificationsClient<InterceptedService<Channel, CallAs>>;

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// The platform with notifications (and action tracking, for digests) sending to `smtp_port`.
pub async fn start(
    nats: Option<String>,
    clock: Option<ManualClock>,
    smtp_port: u16,
    extra: &[(&str, &str)],
) -> (TestPlatform, SocketAddr) {
    let port = smtp_port.to_string();
    let mut values = vec![
        ("smtp.mode", "smtp"),
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", port.as_str()),
        ("smtp.tls", "none"),
        ("smtp.from", "Waymark <waymark@example.org>"),
        ("delivery.retry_base_ms", "100"),
        ("delivery.max_attempts", "30"),
        ("digest.poll_ms", "200"),
    ];
    values.extend_from_slice(extra);
    let clock: Arc<dyn Clock> = match clock {
        Some(clock) => Arc::new(clock),
        None => Arc::new(waymark_testkit::time::clock()),
    };
    let mut platform = TestPlatform::start_configured(nats, clock, &values).await;
    let address = platform.serve(waymark_notifications::run).await;
    (platform, address)
}

pub fn client(platform: &TestPlatform, address: SocketAddr, caller: Caller) -> Client {
    NotificationsClient::new(platform.client(address, caller))
}

/// Someone new in a new trust, who administers it (and so sees every delivery).
pub async fn trust_admin(platform: &TestPlatform) -> Caller {
    let caller = waymark_testkit::services::new_caller();
    waymark_testkit::directory::grant_trust_role(
        platform,
        waymark_notifications::DIRECTORY_TABLE,
        caller,
        waymark_domain::directory::Role::TrustAdmin,
    )
    .await;
    caller
}

/// Keeps `person`'s contact details as the directory does (the only one that may).
pub async fn contact(
    platform: &TestPlatform,
    address: SocketAddr,
    of: Caller,
    person: StaffId,
    email: &str,
    line_manager: Option<StaffId>,
    school: Uuid,
) {
    let directory = Caller {
        trust: of.trust,
        actor: waymark_domain::directory::directory_actor(),
    };
    client(platform, address, directory)
        .upsert_contact(pb::Contact {
            staff_id: person.to_string(),
            display_name: "Sam Teacher".into(),
            email: email.into(),
            line_manager_id: line_manager.map(|m| m.to_string()).unwrap_or_default(),
            school_id: school.to_string(),
            version: 0,
        })
        .await
        .unwrap();
}

pub fn metadata(actor: ActorId) -> EventMetadata {
    EventMetadata {
        actor,
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    }
}

/// Appends, as scheduling would when a timer fires, a reminder for `recipient`.
pub async fn remind(
    platform: &TestPlatform,
    caller: Caller,
    recipient: StaffId,
    school: Uuid,
    reminder: &str,
) -> Uuid {
    let timer = Uuid::new_v4();
    let due_date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    // Planned for the day it speaks of: seven days before, for `upcoming_7`.
    let local_date = match ReminderKind::parse(reminder) {
        Some(ReminderKind::Upcoming { days }) => due_date - chrono::Days::new(days.into()),
        _ => due_date,
    };
    let event = ReminderEvent::ReminderDue(ReminderDue {
        timer_id: timer,
        school_id: SchoolId::from_uuid(school),
        subject_kind: SubjectKind::Action,
        subject_id: Uuid::new_v4(),
        title: Text::parse("Model worked examples first").unwrap(),
        reminder: reminder.into(),
        recipient_id: recipient,
        due_date,
        local_date,
        sent_on: None,
    });
    append(platform, caller, StreamId::new("reminder", timer), &event).await;
    timer
}

/// Appends an event to `stream`, as its owning service would.
pub async fn append(
    platform: &TestPlatform,
    caller: Caller,
    stream: StreamId,
    event: &impl waymark_domain::DomainEvent,
) {
    let new = NewEvent::from_domain(EventId::from_uuid(Uuid::new_v4()), event).unwrap();
    platform
        .platform
        .store
        .append(
            caller.trust,
            &stream,
            ExpectedVersion::Any,
            &metadata(caller.actor),
            &[new],
        )
        .await
        .unwrap();
}

pub fn port() -> u16 {
    free_port()
}
