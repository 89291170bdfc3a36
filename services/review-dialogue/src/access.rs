//! Who may see a review, visit or meeting, and how much of it: decided by the policies
//! (`policy/records.cedar`) with this service's own copy of the directory. What someone
//! may not see at all is "not found"; what they may only oversee comes with its status and
//! people but none of what it says.

use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use waymark_domain::directory::DirectoryState;
use waymark_domain::review_dialogue::meeting::{MeetingState, MeetingStatus};
use waymark_domain::review_dialogue::review::{ReviewState, ReviewStatus};
use waymark_domain::review_dialogue::visit::{VisitState, VisitStatus};
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_policy::{Policies, RecordAccess, RecordFacts};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::ServiceError;

use crate::convert;

/// A record with no school reads as nobody's.
fn school(school: Option<SchoolId>) -> SchoolId {
    school.unwrap_or_else(|| SchoolId::from_uuid(uuid::Uuid::nil()))
}

/// The teacher's line managers, nearest first, and `also`, once each.
fn shared_with(
    directory: &DirectoryState,
    teacher: Option<StaffId>,
    also: &[Option<StaffId>],
) -> Vec<StaffId> {
    let mut people = teacher.map_or_else(Vec::new, |t| directory.managers_of(t));
    for person in also.iter().flatten() {
        if !people.contains(person) {
            people.push(*person);
        }
    }
    people
}

/// A review, visit or meeting as the read model holds it.
pub trait Record {
    type Message;
    /// What the policies read about it.
    fn facts(&self, directory: &DirectoryState) -> RecordFacts;
    /// All of it, as the API sends it.
    fn full(&self, version: i64) -> Self::Message;
    /// Its people, dates and state only.
    fn status_only(full: Self::Message) -> Self::Message;
}

/// Record `id` from `review_dialogue.{table}` if `who` may read all of it; `None` if the
/// trust has no such record or `who` may not (or may only see its status).
#[allow(clippy::too_many_arguments)]
pub async fn readable<R: Record + DeserializeOwned>(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    who: StaffId,
    (table, key): (&str, &str),
    trust: TrustId,
    id: Uuid,
) -> Result<Option<R>, ServiceError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT doc FROM review_dialogue.{table} WHERE trust_id = $1 AND {key} = $2"
    )))
    .bind(trust.into_uuid())
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let Json(record): Json<R> = row
        .try_get(0)
        .map_err(|_| ServiceError::internal("stored record is unreadable"))?;
    let access = policies.record_access(directory, who, &record.facts(directory));
    Ok((access == RecordAccess::Full).then_some(record))
}

/// `record` as far as `who` may have it: all of it, its status only, or nothing.
pub fn shown<R: Record>(
    policies: &Policies,
    directory: &DirectoryState,
    who: StaffId,
    record: &R,
    version: i64,
) -> Option<R::Message> {
    match policies.record_access(directory, who, &record.facts(directory)) {
        RecordAccess::Full => Some(record.full(version)),
        RecordAccess::Status => Some(R::status_only(record.full(version))),
        RecordAccess::None => None,
    }
}

impl Record for ReviewState {
    type Message = pb::Review;

    fn facts(&self, directory: &DirectoryState) -> RecordFacts {
        RecordFacts {
            school: school(self.school_id),
            parties: [self.reviewer, self.reviewee]
                .into_iter()
                .flatten()
                .collect(),
            shared_with: shared_with(
                directory,
                self.reviewee,
                &[self.slt_line_manager, self.shared_with],
            ),
            agreed: self.status == ReviewStatus::Agreed,
        }
    }

    fn full(&self, version: i64) -> pb::Review {
        convert::review(self, version)
    }

    fn status_only(full: pb::Review) -> pb::Review {
        convert::review_status(full)
    }
}

impl Record for VisitState {
    type Message = pb::Visit;

    fn facts(&self, directory: &DirectoryState) -> RecordFacts {
        RecordFacts {
            school: school(self.school_id),
            parties: [self.visitor, self.teacher].into_iter().flatten().collect(),
            shared_with: shared_with(directory, self.teacher, &[]),
            agreed: self.status == VisitStatus::Agreed,
        }
    }

    fn full(&self, version: i64) -> pb::Visit {
        convert::visit(self, version)
    }

    fn status_only(full: pb::Visit) -> pb::Visit {
        convert::visit_status(full)
    }
}

impl Record for MeetingState {
    type Message = pb::Meeting;

    fn facts(&self, directory: &DirectoryState) -> RecordFacts {
        RecordFacts {
            school: school(self.school_id),
            parties: self
                .teacher
                .into_iter()
                .chain(self.leaders.iter().copied())
                .collect(),
            shared_with: shared_with(directory, self.teacher, &[]),
            agreed: self.status == MeetingStatus::Closed,
        }
    }

    fn full(&self, version: i64) -> pb::Meeting {
        convert::meeting(self, version)
    }

    fn status_only(full: pb::Meeting) -> pb::Meeting {
        convert::meeting_status(full)
    }
}
