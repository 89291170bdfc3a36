//! Finding reviews: by school, year group, people, status, dates, improvement priority and
//! words in what they say (PostgreSQL full-text search), a page at a time, over what the
//! caller may see. Words and priorities search only what the caller may read in full: a
//! reviewer's line manager who sees only that a review exists learns nothing of what it says
//! from whether it matched.

use sqlx::types::Json;
use waymark_domain::directory::DirectoryState;
use waymark_domain::review_dialogue::review::ReviewState;
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{SchoolId, StaffId, Text};
use waymark_policy::{Policies, RecordAccess};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ServiceError, parse};

use crate::access::{self, Record};

/// A page when the caller names no size, and the most they may ask for.
const PAGE: usize = 50;
const MOST_PER_PAGE: usize = 200;
/// The most matches one search reads from the database, before deciding who may see them.
pub const MOST_MATCHES: i64 = 1000;

/// The longest text searched for.
const LONGEST_QUERY: usize = 200;

pub async fn reviews(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    context: &RequestContext,
    request: pb::ListReviewsRequest,
) -> Result<pb::ListReviewsResponse, ServiceError> {
    let school =
        parse::optional_id::<SchoolId>("school_id", &request.school_id)?.map(SchoolId::into_uuid);
    let year_group = parse::optional_text("year_group", &request.year_group)?;
    let reviewer =
        parse::optional_id::<StaffId>("reviewer_id", &request.reviewer_id)?.map(StaffId::into_uuid);
    let reviewee =
        parse::optional_id::<StaffId>("reviewee_id", &request.reviewee_id)?.map(StaffId::into_uuid);
    let status = parse::optional_text("status", &request.status)?;
    let year = if request.academic_year.trim().is_empty() {
        None
    } else {
        Some(
            AcademicYear::parse(&request.academic_year)
                .map_err(|error| ServiceError::invalid("academic_year", error))?
                .to_string(),
        )
    };
    let text = if request.text.trim().is_empty() {
        None
    } else {
        Some(
            Text::parse_max(&request.text, LONGEST_QUERY)
                .map_err(|error| ServiceError::invalid("text", error))?,
        )
    };
    let priority = if request.priority_id.trim().is_empty() {
        None
    } else {
        Some(
            uuid::Uuid::parse_str(request.priority_id.trim())
                .map_err(|_| ServiceError::invalid("priority_id", "is not a valid id"))?,
        )
    };
    let from = parse::optional_date("from", &request.from)?;
    let to = parse::optional_date("to", &request.to)?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ServiceError::invalid("to", "is before from"));
    }
    let size = match usize::try_from(request.page_size).unwrap_or(PAGE) {
        0 => PAGE,
        size => size.min(MOST_PER_PAGE),
    };
    let page = usize::try_from(request.page).unwrap_or(usize::MAX);
    let rows = sqlx::query!(
        r#"SELECT doc AS "doc: Json<ReviewState>", version FROM review_dialogue.reviews r
           WHERE trust_id = $1 AND ($2::uuid IS NULL OR school_id = $2)
             AND ($3::text IS NULL OR year_group = $3) AND ($4::text IS NULL OR academic_year = $4)
             AND ($5::uuid IS NULL OR reviewer_id = $5) AND ($6::uuid IS NULL OR reviewee_id = $6)
             AND ($7::text IS NULL OR status = $7)
             AND ($8::text IS NULL OR jsonb_to_tsvector('english'::regconfig, doc, '["string"]'::jsonb)
                  @@ websearch_to_tsquery('english'::regconfig, $8))
             AND ($9::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM review_dialogue.priorities p
                  WHERE p.trust_id = r.trust_id AND p.priority_id = $9
                    AND p.doc -> 'linked' @> jsonb_build_array(jsonb_build_object(
                        'kind', 'review', 'record_id', r.review_id::text))))
             AND ($10::date IS NULL OR window_closes >= $10) AND ($11::date IS NULL OR window_opens <= $11)
           ORDER BY window_opens, year_group, review_id
           LIMIT $12"#,
        context.caller.trust.into_uuid(),
        school,
        year_group.as_ref().map(Text::as_str),
        year,
        reviewer,
        reviewee,
        status.as_ref().map(Text::as_str),
        text.as_ref().map(Text::as_str),
        priority,
        from,
        to,
        MOST_MATCHES,
    )
    .fetch_all(pool)
    .await?;
    let who = StaffId::from_uuid(context.caller.actor.into_uuid());
    let in_full_only = text.is_some() || priority.is_some();
    let mut shown = rows.iter().filter_map(|row| {
        let review = &row.doc.0;
        if in_full_only
            && policies.record_access(directory, who, &review.facts(directory))
                != RecordAccess::Full
        {
            return None;
        }
        access::shown(policies, directory, who, review, row.version)
    });
    let reviews: Vec<pb::Review> = shown
        .by_ref()
        .skip(page.saturating_mul(size))
        .take(size)
        .collect();
    let more = shown.next().is_some();
    Ok(pb::ListReviewsResponse { reviews, more })
}
