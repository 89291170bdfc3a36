use std::net::SocketAddr;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_domain::directory::Role;
use waymark_domain::ids::CorrelationId;
use waymark_domain::{Decider, DomainEvent, EventId, EventMetadata, StaffId, StreamId};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};
use waymark_proto::scheduling::v1 as pb;
use waymark_proto::scheduling::v1::scheduling_client::SchedulingClient;
use waymark_runtime::auth::{CallAs, Caller};
use waymark_testkit::services::TestPlatform;

pub type Client = SchedulingClient<InterceptedService<Channel, CallAs>>;

pub fn client(platform: &TestPlatform, address: SocketAddr, caller: Caller) -> Client {
    SchedulingClient::new(platform.client(address, caller))
}

pub fn command() -> String {
    Uuid::new_v4().to_string()
}

fn term(name: &str, starts: &str, ends: &str) -> pb::Term {
    pb::Term {
        name: name.into(),
        starts: starts.into(),
        ends: ends.into(),
    }
}

fn holiday(name: &str, starts: &str, ends: &str) -> pb::Holiday {
    pb::Holiday {
        name: name.into(),
        starts: starts.into(),
        ends: ends.into(),
    }
}

/// 2026-27 as an English school keeps it.
pub fn year_calendar() -> pb::YearCalendar {
    pb::YearCalendar {
        academic_year: "2026-27".into(),
        terms: vec![
            term("Autumn", "2026-09-02", "2026-12-18"),
            term("Spring", "2027-01-05", "2027-03-26"),
            term("Summer", "2027-04-12", "2027-07-21"),
        ],
        holidays: vec![
            holiday("Autumn half term", "2026-10-26", "2026-10-30"),
            holiday("Spring half term", "2027-02-15", "2027-02-19"),
            holiday("Summer half term", "2027-05-31", "2027-06-04"),
        ],
        inset_days: vec!["2026-09-02".into()],
        assessment_points: vec![
            pb::AssessmentPoint {
                name: "Autumn assessment".into(),
                date: "2026-12-04".into(),
            },
            pb::AssessmentPoint {
                name: "Spring assessment".into(),
                date: "2027-03-12".into(),
            },
            pb::AssessmentPoint {
                name: "Summer assessment".into(),
                date: "2027-06-25".into(),
            },
        ],
    }
}

pub async fn set_calendar(client: &mut Client, school: Uuid, calendar: pb::YearCalendar) {
    client
        .set_year_calendar(pb::SetYearCalendarRequest {
            command_id: command(),
            school_id: school.to_string(),
            calendar: Some(calendar),
        })
        .await
        .unwrap();
}

/// Appends a domain event to `category-id`, as its owning service would.
pub async fn append<D: Decider>(
    platform: &TestPlatform,
    caller: Caller,
    id: Uuid,
    event: D::Event,
) {
    let metadata = EventMetadata {
        actor: caller.actor,
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    };
    let new = NewEvent::from_domain(EventId::from_uuid(Uuid::new_v4()), &event).unwrap();
    assert!(!event.event_type().is_empty());
    platform
        .platform
        .store
        .append(
            caller.trust,
            &StreamId::new(D::CATEGORY, id),
            ExpectedVersion::Any,
            &metadata,
            &[new],
        )
        .await
        .unwrap();
}

/// The school as scheduling's copy of the directory has it: `head` its head teacher and
/// line manager of `teachers`, class teachers there.
pub async fn school_of(platform: &TestPlatform, head: Caller, school: Uuid, teachers: &[StaffId]) {
    waymark_testkit::directory::school(
        platform,
        waymark_scheduling::DIRECTORY_TABLE,
        head,
        school,
        teachers,
    )
    .await;
}

/// Makes `who` a trust administrator too (who sees every planned reminder).
pub async fn make_trust_admin(platform: &TestPlatform, who: Caller) {
    waymark_testkit::directory::grant_trust_role(
        platform,
        waymark_scheduling::DIRECTORY_TABLE,
        who,
        Role::TrustAdmin,
    )
    .await;
}

/// `school`'s 2026-27 from the built-in plan, adopted with `owner` leading what names nobody,
/// generated for these year groups and classes (the calendar set already).
/// Every activity of the school's generated year, in date order.
pub async fn activities(client: &mut Client, school: Uuid) -> Vec<pb::Occurrence> {
    client
        .list_occurrences(pb::ListOccurrencesRequest {
            school_id: school.to_string(),
            kind: "activity".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences
}

pub async fn generated(
    client: &mut Client,
    school: Uuid,
    owner: StaffId,
    year_groups: Vec<pb::YearGroupTeam>,
    classes: Vec<pb::ClassTeam>,
) {
    client
        .adopt_plan(pb::AdoptPlanRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            default_owner_id: owner.to_string(),
        })
        .await
        .unwrap();
    client
        .generate_year(pb::GenerateYearRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            year_groups,
            classes,
        })
        .await
        .unwrap();
}
