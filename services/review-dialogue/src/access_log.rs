//! The access log: every read of a review, visit, meeting or self-evaluation audit by id —
//! who asked, when, about whom, and what they got (all of it, its status only, or refused) —
//! and `ListAccessLog`, where people see who read the records about them and trust
//! administrators (`see-access-log`) search everyone's. Lists are not logged: they show at
//! most a record's status unless the reader opens it.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use waymark_domain::{SchoolId, StaffId};
use waymark_policy::{RecordAccess, TrustVerb};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::access::{Access, permit, person};
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ServiceError, parse};

/// Entries on one page of the log.
const PAGE: i64 = 50;

/// What a reader got of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Full,
    Status,
    Refused,
}

impl Seen {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Status => "status",
            Self::Refused => "refused",
        }
    }
}

impl From<RecordAccess> for Seen {
    fn from(access: RecordAccess) -> Self {
        match access {
            RecordAccess::Full => Self::Full,
            RecordAccess::Status => Self::Status,
            RecordAccess::None => Self::Refused,
        }
    }
}

/// One read of one record.
pub struct Read<'a> {
    pub kind: &'static str,
    pub id: Uuid,
    pub school: SchoolId,
    pub subjects: &'a [StaffId],
    pub seen: Seen,
}

/// Writes `read` by the caller at `at` into the log.
pub async fn note(
    pool: &sqlx::PgPool,
    context: &RequestContext,
    at: DateTime<Utc>,
    read: Read<'_>,
) -> Result<(), ServiceError> {
    let subjects: Vec<Uuid> = read.subjects.iter().map(|s| s.into_uuid()).collect();
    sqlx::query!(
        "INSERT INTO review_dialogue.access_log \
         (trust_id, at, reader_id, record_kind, record_id, school_id, subject_ids, seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        context.caller.trust.into_uuid(),
        at,
        person(context).into_uuid(),
        read.kind,
        read.id,
        read.school.into_uuid(),
        &subjects,
        read.seen.as_str(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// `ListAccessLog`: the caller's own records' readers, or anyone's for trust administrators.
pub async fn list(
    pool: &sqlx::PgPool,
    access: &Access,
    context: &RequestContext,
    request: pb::ListAccessLogRequest,
) -> Result<pb::ListAccessLogResponse, ServiceError> {
    let me = person(context);
    let subject = parse::optional_id::<StaffId>("subject_id", &request.subject_id)?;
    let reader = parse::optional_id::<StaffId>("reader_id", &request.reader_id)?;
    let directory = access.directory(context.caller.trust).await?;
    let everyone = access
        .policies()
        .allows_on_trust(&directory, me, TrustVerb::SeeAccessLog);
    if !everyone {
        permit(
            subject.is_none_or(|s| s == me) && reader.is_none(),
            "access_log.not_permitted",
            TrustVerb::SeeAccessLog.refusal(),
        )?;
    }
    let subject = if everyone { subject } else { Some(me) };
    let from = parse::optional_date("from", &request.from)?;
    let to = parse::optional_date("to", &request.to)?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ServiceError::invalid("to", "is before from"));
    }
    let offset = i64::from(request.page).saturating_mul(PAGE);
    let rows = sqlx::query!(
        r#"SELECT at, reader_id, record_kind, record_id, school_id, subject_ids, seen
           FROM review_dialogue.access_log
           WHERE trust_id = $1 AND ($2::uuid IS NULL OR $2 = ANY(subject_ids))
             AND ($3::uuid IS NULL OR reader_id = $3)
             AND ($4::date IS NULL OR at >= $4::date) AND ($5::date IS NULL OR at < $5::date + 1)
           ORDER BY at DESC, entry_id DESC
           OFFSET $6 LIMIT $7"#,
        context.caller.trust.into_uuid(),
        subject.map(StaffId::into_uuid),
        reader.map(StaffId::into_uuid),
        from,
        to,
        offset,
        PAGE + 1,
    )
    .fetch_all(pool)
    .await?;
    let more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    Ok(pb::ListAccessLogResponse {
        entries: rows
            .into_iter()
            .take(usize::try_from(PAGE).unwrap_or(usize::MAX))
            .map(|row| pb::AccessLogEntry {
                at: row.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                reader_id: row.reader_id.to_string(),
                record_kind: row.record_kind,
                record_id: row.record_id.to_string(),
                school_id: row.school_id.to_string(),
                subject_ids: row.subject_ids.iter().map(ToString::to_string).collect(),
                seen: row.seen,
            })
            .collect(),
        more,
    })
}
