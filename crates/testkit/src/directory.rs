//! A trust's directory for tests of services that decide who may do what: the events the
//! gateway's directory appends (stream `directory-<trust>`), written straight to the store.

use std::time::Duration;

use uuid::Uuid;
use waymark_domain::directory::{DirectoryEvent, Grant, Role};
use waymark_domain::text::Text;
use waymark_domain::{EventId, EventMetadata, SchoolId, StaffId, StreamId};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};
use waymark_runtime::auth::Caller;

use crate::eventually;
use crate::services::{TestPlatform, staff};

/// Appends `events` to the trust's directory.
pub async fn append(platform: &TestPlatform, caller: Caller, events: &[DirectoryEvent]) {
    let metadata = EventMetadata {
        actor: caller.actor,
        causation_id: None,
        correlation_id: waymark_domain::CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    };
    let batch: Vec<NewEvent> = events
        .iter()
        .map(|e| NewEvent::from_domain(EventId::from_uuid(Uuid::new_v4()), e).expect("event"))
        .collect();
    platform
        .platform
        .store
        .append(
            caller.trust,
            &StreamId::new("directory", caller.trust.into_uuid()),
            ExpectedVersion::Any,
            &metadata,
            &batch,
        )
        .await
        .expect("append directory events");
}

/// The usual cast of a school: `head` is its head teacher and line manages each of
/// `teachers`, who are class teachers there. Waits until `table` (the service's directory
/// copy) shows them.
pub async fn school(
    platform: &TestPlatform,
    table: &str,
    head: Caller,
    school: Uuid,
    teachers: &[StaffId],
) {
    let school_id = SchoolId::from_uuid(school);
    let head_id = staff(head);
    let mut events = vec![
        DirectoryEvent::SchoolAdded {
            school_id,
            name: Text::parse("Hillside Primary").expect("name"),
        },
        DirectoryEvent::StaffAdded { staff_id: head_id },
        DirectoryEvent::RoleGranted {
            staff_id: head_id,
            grant: Grant {
                school: Some(school_id),
                role: Role::HeadTeacher,
            },
        },
    ];
    for teacher in teachers {
        events.push(DirectoryEvent::StaffAdded { staff_id: *teacher });
        events.push(DirectoryEvent::RoleGranted {
            staff_id: *teacher,
            grant: Grant {
                school: Some(school_id),
                role: Role::ClassTeacher,
            },
        });
        events.push(DirectoryEvent::LineManagerSet {
            staff_id: *teacher,
            manager: Some(head_id),
        });
    }
    append(platform, head, &events).await;
    known(
        platform,
        table,
        head,
        teachers.last().copied().unwrap_or(head_id),
    )
    .await;
}

/// Gives `who` (added to the directory first if they are not in it) the trust-wide `role`,
/// and waits until `table` (a service's copy) has it.
pub async fn grant_trust_role(platform: &TestPlatform, table: &str, who: Caller, role: Role) {
    let staff_id = staff(who);
    let added: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM event_store.events WHERE stream_id = $1 \
         AND event_type = 'StaffAdded' AND payload ->> 'staff_id' = $2)",
    )
    .bind(format!("directory-{}", who.trust.into_uuid()))
    .bind(staff_id.to_string())
    .fetch_one(&platform.db.pool)
    .await
    .expect("read the directory's events");
    let mut events = Vec::new();
    if !added {
        events.push(DirectoryEvent::StaffAdded { staff_id });
    }
    events.push(DirectoryEvent::RoleGranted {
        staff_id,
        grant: Grant { school: None, role },
    });
    append(platform, who, &events).await;
    caught_up(platform, table, who).await;
}

/// Waits until `table` (a service's directory copy) has every event of the caller's trust's
/// directory.
pub async fn caught_up(platform: &TestPlatform, table: &str, caller: Caller) {
    let sql = format!(
        "SELECT count(*) FROM {table} WHERE trust_id = $1 AND version >= \
         (SELECT max(stream_version) FROM event_store.events WHERE stream_id = $2)"
    );
    let stream = format!("directory-{}", caller.trust.into_uuid());
    eventually(Duration::from_secs(30), "the directory copy", || async {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(caller.trust.into_uuid())
            .bind(&stream)
            .fetch_one(&platform.db.pool)
            .await
            .unwrap_or(0)
            == 1
    })
    .await;
}

/// Waits until `table` (a service's directory copy) knows `person`.
pub async fn known(platform: &TestPlatform, table: &str, caller: Caller, person: StaffId) {
    let sql = format!("SELECT count(*) FROM {table} WHERE trust_id = $1 AND doc -> 'staff' ? $2");
    eventually(Duration::from_secs(30), "the directory copy", || async {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(caller.trust.into_uuid())
            .bind(person.to_string())
            .fetch_one(&platform.db.pool)
            .await
            .unwrap_or(0)
            == 1
    })
    .await;
}

/// One person for each kind of role, for tests that try every cell of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    Head,
    SchoolAdmin,
    Senior,
    Middle,
    Teacher,
    /// A class teacher of another school of the trust.
    Elsewhere,
    TrustLeader,
    TrustAdmin,
}

impl Persona {
    pub const ALL: [Self; 8] = [
        Self::Head,
        Self::SchoolAdmin,
        Self::Senior,
        Self::Middle,
        Self::Teacher,
        Self::Elsewhere,
        Self::TrustLeader,
        Self::TrustAdmin,
    ];
}

/// A trust with two schools and one person of each [`Persona`]; the teacher's line manager
/// is the middle leader, theirs the head.
#[derive(Debug, Clone)]
pub struct Cast {
    pub school: Uuid,
    pub elsewhere: Uuid,
    people: Vec<(Persona, Caller)>,
}

impl Cast {
    /// Adds them to the directory and waits until `table` (a service's copy) has them all.
    pub async fn new(platform: &TestPlatform, table: &str) -> Self {
        let first = crate::services::new_caller();
        let people: Vec<(Persona, Caller)> = Persona::ALL
            .iter()
            .map(|p| {
                if *p == Persona::Head {
                    (*p, first)
                } else {
                    (*p, crate::services::colleague(first).0)
                }
            })
            .collect();
        let cast = Self {
            school: Uuid::new_v4(),
            elsewhere: Uuid::new_v4(),
            people,
        };
        let at = |school: Uuid, role| Grant {
            school: Some(SchoolId::from_uuid(school)),
            role,
        };
        let grant = |persona| match persona {
            Persona::Head => at(cast.school, Role::HeadTeacher),
            Persona::SchoolAdmin => at(cast.school, Role::Admin),
            Persona::Senior => at(cast.school, Role::SeniorLeader),
            Persona::Middle => at(cast.school, Role::MiddleLeader),
            Persona::Teacher => at(cast.school, Role::ClassTeacher),
            Persona::Elsewhere => at(cast.elsewhere, Role::ClassTeacher),
            Persona::TrustLeader => Grant {
                school: None,
                role: Role::TrustLeader,
            },
            Persona::TrustAdmin => Grant {
                school: None,
                role: Role::TrustAdmin,
            },
        };
        let mut events = Vec::new();
        for (school, name) in [
            (cast.school, "Hillside Primary"),
            (cast.elsewhere, "Riverside"),
        ] {
            events.push(DirectoryEvent::SchoolAdded {
                school_id: SchoolId::from_uuid(school),
                name: Text::parse(name).expect("name"),
            });
        }
        for (persona, caller) in &cast.people {
            events.push(DirectoryEvent::StaffAdded {
                staff_id: staff(*caller),
            });
            events.push(DirectoryEvent::RoleGranted {
                staff_id: staff(*caller),
                grant: grant(*persona),
            });
        }
        for (staff_id, manager) in [
            (Persona::Teacher, Persona::Middle),
            (Persona::Middle, Persona::Head),
        ] {
            events.push(DirectoryEvent::LineManagerSet {
                staff_id: cast.id(staff_id),
                manager: Some(cast.id(manager)),
            });
        }
        append(platform, first, &events).await;
        caught_up(platform, table, first).await;
        cast
    }

    pub fn caller(&self, persona: Persona) -> Caller {
        self.people
            .iter()
            .find(|(p, _)| *p == persona)
            .map(|(_, caller)| *caller)
            .expect("everyone is in the cast")
    }

    pub fn id(&self, persona: Persona) -> StaffId {
        staff(self.caller(persona))
    }
}

/// Checks one cell of an authorization matrix. An allowed call may still fail for reasons of
/// its own (a plan adopted twice), never with `refused`; a call the rules refuse answers
/// `refused`: `PERMISSION_DENIED`, or `NOT_FOUND` for what is not there for them.
pub fn check_cell(
    cell: &str,
    allowed: bool,
    outcome: &Result<(), tonic::Status>,
    refused: tonic::Code,
) {
    match (allowed, outcome) {
        (true, Ok(())) => {}
        (true, Err(status)) => assert!(
            status.code() != tonic::Code::PermissionDenied && status.code() != refused,
            "{cell} is allowed: {status:?}"
        ),
        (false, Ok(())) => panic!("{cell} is refused, yet it went through"),
        (false, Err(status)) => assert_eq!(status.code(), refused, "{cell}: {status:?}"),
    }
}
