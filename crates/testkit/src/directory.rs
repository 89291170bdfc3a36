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
