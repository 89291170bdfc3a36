//! Finding reviews, visits and meetings: by school, people, status, dates, improvement
//! priority and words in what they say (PostgreSQL full-text search), a page at a time, over
//! what the caller may see. Words and priorities search only what the caller may read in
//! full: a line manager who sees only that a record exists learns nothing of what it says
//! from whether it matched.

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;
use waymark_domain::directory::DirectoryState;
use waymark_domain::review_dialogue::meeting::MeetingState;
use waymark_domain::review_dialogue::review::ReviewState;
use waymark_domain::review_dialogue::visit::VisitState;
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

/// What every list is narrowed by.
struct Criteria {
    school: Option<Uuid>,
    status: Option<Text>,
    text: Option<Text>,
    priority: Option<Uuid>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    page: usize,
    size: usize,
    newest_first: bool,
}

/// The fields of a list request every list shares, as sent.
struct Asked<'a> {
    school_id: &'a str,
    status: &'a str,
    text: &'a str,
    priority_id: &'a str,
    from: &'a str,
    to: &'a str,
    page_size: u32,
    page: u32,
    newest_first: bool,
}

/// The shared fields of a list request, which every list names alike.
macro_rules! asked {
    ($request:expr) => {
        Asked {
            school_id: &$request.school_id,
            status: &$request.status,
            text: &$request.text,
            priority_id: &$request.priority_id,
            from: &$request.from,
            to: &$request.to,
            page_size: $request.page_size,
            page: $request.page,
            newest_first: $request.newest_first,
        }
    };
}

impl Criteria {
    fn parse(asked: &Asked<'_>) -> Result<Self, ServiceError> {
        let from = parse::optional_date("from", asked.from)?;
        let to = parse::optional_date("to", asked.to)?;
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(ServiceError::invalid("to", "is before from"));
        }
        let text = if asked.text.trim().is_empty() {
            None
        } else {
            Some(
                Text::parse_max(asked.text, LONGEST_QUERY)
                    .map_err(|error| ServiceError::invalid("text", error))?,
            )
        };
        let priority = if asked.priority_id.trim().is_empty() {
            None
        } else {
            Some(
                Uuid::parse_str(asked.priority_id.trim())
                    .map_err(|_| ServiceError::invalid("priority_id", "is not a valid id"))?,
            )
        };
        Ok(Self {
            school: parse::optional_id::<SchoolId>("school_id", asked.school_id)?
                .map(SchoolId::into_uuid),
            status: parse::optional_text("status", asked.status)?,
            text,
            priority,
            from,
            to,
            size: match usize::try_from(asked.page_size).unwrap_or(PAGE) {
                0 => PAGE,
                size => size.min(MOST_PER_PAGE),
            },
            page: usize::try_from(asked.page).unwrap_or(usize::MAX),
            newest_first: asked.newest_first,
        })
    }
}

/// A table of records and how it is searched.
struct Listing {
    table: &'static str,
    key: &'static str,
    /// The kind its records are tied to priorities as.
    kind: &'static str,
    /// The columns of the days it spans (the same one twice for a day).
    starts: &'static str,
    ends: &'static str,
    /// The columns it is listed by, before its key.
    order: &'static [&'static str],
}

/// Narrows a query by `column = value` when a value is given.
fn equal<'a, T>(query: &mut QueryBuilder<Postgres>, column: &str, value: Option<T>)
where
    T: sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres> + 'a,
{
    if let Some(value) = value {
        query
            .push(format_args!(" AND {column} = "))
            .push_bind(value);
    }
}

/// One page of the records of `listing` that match, as far as the caller may see them, and
/// whether a later page has more. `narrow` adds the listing's own conditions.
async fn find<R: Record + DeserializeOwned>(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    context: &RequestContext,
    listing: &Listing,
    criteria: Criteria,
    narrow: impl FnOnce(&mut QueryBuilder<Postgres>),
) -> Result<(Vec<R::Message>, bool), ServiceError> {
    let Listing {
        table,
        key,
        kind,
        starts,
        ends,
        order,
    } = listing;
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT doc, version FROM review_dialogue.{table} r WHERE trust_id = "
    ));
    query.push_bind(context.caller.trust.into_uuid());
    equal(&mut query, "school_id", criteria.school);
    equal(
        &mut query,
        "status",
        criteria.status.as_ref().map(|s| s.as_str().to_owned()),
    );
    if let Some(text) = &criteria.text {
        query
            .push(
                " AND jsonb_to_tsvector('english'::regconfig, doc, '[\"string\"]'::jsonb) \
                 @@ websearch_to_tsquery('english'::regconfig, ",
            )
            .push_bind(text.as_str().to_owned())
            .push(")");
    }
    if let Some(priority) = criteria.priority {
        query
            .push(
                " AND EXISTS (SELECT 1 FROM review_dialogue.priorities p \
                 WHERE p.trust_id = r.trust_id AND p.priority_id = ",
            )
            .push_bind(priority)
            .push(format_args!(
                " AND p.doc -> 'linked' @> jsonb_build_array(jsonb_build_object(\
                 'kind', '{kind}', 'record_id', r.{key}::text)))"
            ));
    }
    if let Some(from) = criteria.from {
        query.push(format_args!(" AND {ends} >= ")).push_bind(from);
    }
    if let Some(to) = criteria.to {
        query.push(format_args!(" AND {starts} <= ")).push_bind(to);
    }
    narrow(&mut query);
    let direction = if criteria.newest_first { "DESC" } else { "ASC" };
    let order: Vec<String> = order
        .iter()
        .chain([key])
        .map(|column| format!("{column} {direction}"))
        .collect();
    query
        .push(format_args!(" ORDER BY {} LIMIT ", order.join(", ")))
        .push_bind(MOST_MATCHES);
    let rows = query.build().fetch_all(pool).await?;
    let records = rows
        .iter()
        .map(|row| Ok((row.try_get::<Json<R>, _>(0)?.0, row.try_get::<i64, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let who = StaffId::from_uuid(context.caller.actor.into_uuid());
    let in_full_only = criteria.text.is_some() || criteria.priority.is_some();
    let mut shown = records.into_iter().filter_map(|(record, version)| {
        if in_full_only
            && policies.record_access(directory, who, &record.facts(directory))
                != RecordAccess::Full
        {
            return None;
        }
        access::shown(policies, directory, who, &record, version)
    });
    let page: Vec<R::Message> = shown
        .by_ref()
        .skip(criteria.page.saturating_mul(criteria.size))
        .take(criteria.size)
        .collect();
    let more = shown.next().is_some();
    Ok((page, more))
}

fn academic_year(value: &str) -> Result<Option<String>, ServiceError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    AcademicYear::parse(value)
        .map(|year| Some(year.to_string()))
        .map_err(|error| ServiceError::invalid("academic_year", error))
}

fn person(field: &str, value: &str) -> Result<Option<Uuid>, ServiceError> {
    Ok(parse::optional_id::<StaffId>(field, value)?.map(StaffId::into_uuid))
}

pub async fn reviews(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    context: &RequestContext,
    request: pb::ListReviewsRequest,
) -> Result<pb::ListReviewsResponse, ServiceError> {
    let criteria = Criteria::parse(&asked!(request))?;
    let year_group = parse::optional_text("year_group", &request.year_group)?;
    let year = academic_year(&request.academic_year)?;
    let reviewer = person("reviewer_id", &request.reviewer_id)?;
    let reviewee = person("reviewee_id", &request.reviewee_id)?;
    let listing = Listing {
        table: "reviews",
        key: "review_id",
        kind: "review",
        starts: "window_opens",
        ends: "window_closes",
        order: &["window_opens", "year_group"],
    };
    let (reviews, more) = find::<ReviewState>(
        pool,
        policies,
        directory,
        context,
        &listing,
        criteria,
        |query| {
            equal(
                query,
                "year_group",
                year_group.map(|t| t.as_str().to_owned()),
            );
            equal(query, "academic_year", year);
            equal(query, "reviewer_id", reviewer);
            equal(query, "reviewee_id", reviewee);
        },
    )
    .await?;
    Ok(pb::ListReviewsResponse { reviews, more })
}

pub async fn visits(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    context: &RequestContext,
    request: pb::ListVisitsRequest,
) -> Result<pb::ListVisitsResponse, ServiceError> {
    let criteria = Criteria::parse(&asked!(request))?;
    let teacher = person("teacher_id", &request.teacher_id)?;
    let visitor = person("visitor_id", &request.visitor_id)?;
    let listing = Listing {
        table: "visits",
        key: "visit_id",
        kind: "visit",
        starts: "date",
        ends: "date",
        order: &["date"],
    };
    let (visits, more) = find::<VisitState>(
        pool,
        policies,
        directory,
        context,
        &listing,
        criteria,
        |query| {
            equal(query, "teacher_id", teacher);
            equal(query, "visitor_id", visitor);
        },
    )
    .await?;
    Ok(pb::ListVisitsResponse { visits, more })
}

pub async fn meetings(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    context: &RequestContext,
    request: pb::ListMeetingsRequest,
) -> Result<pb::ListMeetingsResponse, ServiceError> {
    let criteria = Criteria::parse(&asked!(request))?;
    let teacher = person("teacher_id", &request.teacher_id)?;
    let class_group = parse::optional_text("class_group", &request.class_group)?;
    let year = academic_year(&request.academic_year)?;
    let listing = Listing {
        table: "meetings",
        key: "meeting_id",
        kind: "meeting",
        starts: "date",
        ends: "date",
        order: &["date"],
    };
    let (meetings, more) = find::<MeetingState>(
        pool,
        policies,
        directory,
        context,
        &listing,
        criteria,
        |query| {
            equal(query, "teacher_id", teacher);
            equal(
                query,
                "class_group",
                class_group.map(|t| t.as_str().to_owned()),
            );
            equal(query, "academic_year", year);
        },
    )
    .await?;
    Ok(pb::ListMeetingsResponse { meetings, more })
}
