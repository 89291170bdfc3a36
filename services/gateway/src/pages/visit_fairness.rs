//! Fair visits on the web: every visit planned here is booked through scheduling's caps (at
//! most so many a day and a week per teacher, the trust's setting) before review dialogue records
//! it, and holds the booking; leaders see who has not been visited this term and the
//! teachers' requests; teachers ask for a visit. Scheduling decides every one of these.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use uuid::Uuid;
use waymark_domain::{SchoolId, StaffId};
use waymark_policy::SchoolVerb;
use waymark_proto::scheduling::v1 as sc;
use waymark_runtime::ServiceError;

use crate::directory::Names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, academic_year, refusal, see, start_year, today, written};

/// The booking a visit planned from `fields` holds: the planned occurrence it was opened
/// from, or a new booking within the caps. `Ok(None)` when the school has no generated year
/// to book into (nothing to count against); `Err` with the reason when the caps refuse.
pub async fn book(
    state: &AppState,
    viewer: &Viewer,
    fields: &Fields,
    school: SchoolId,
    teacher: StaffId,
) -> Result<Result<Option<String>, String>, PageError> {
    if !fields.get("occurrence_id").is_empty() {
        return Ok(Ok(Some(fields.trimmed("occurrence_id"))));
    }
    let Ok(date) = NaiveDate::parse_from_str(fields.get("date"), "%Y-%m-%d") else {
        // Review dialogue names the field that is wrong.
        return Ok(Ok(None));
    };
    // Its own command id, made from the form's: a form sent again books nothing more.
    let form = Uuid::parse_str(&fields.command_id()).unwrap_or_else(|_| Uuid::now_v7());
    let command = Uuid::new_v5(&form, b"book-visit").to_string();
    let booked = state
        .clients(viewer)
        .scheduling()
        .book_visit(sc::BookVisitRequest {
            command_id: command,
            school_id: school.to_string(),
            academic_year: academic_year(date),
            visitor_id: viewer.staff.to_string(),
            teacher_id: teacher.to_string(),
            date: date.to_string(),
            request_id: fields.trimmed("request_id"),
        })
        .await;
    match booked {
        Ok(reply) => Ok(Ok(Some(reply.into_inner().id))),
        Err(status) => match ServiceError::from_status(&status).code.as_ref() {
            "schedule.not_generated" | "schedule.no_calendar" => Ok(Ok(None)),
            _ => Ok(Err(refusal(status)?)),
        },
    }
}

pub struct Request {
    pub teacher: String,
    pub reason: String,
    /// Plans (and books) the visit asked for.
    pub href: String,
}

/// One school's fairness, for those who plan its visits.
pub struct SchoolFairness {
    pub school: String,
    /// "Autumn term (2 September 2026 to 18 December 2026)", or the academic year.
    pub period: String,
    pub not_visited: Vec<String>,
    pub requests: Vec<Request>,
}

/// Each school whose visits the viewer plans: who has had no visit this term (this academic
/// year when today is in no term), and the requests not yet booked.
pub async fn fairness(
    state: &AppState,
    viewer: &Viewer,
    people: &Names,
) -> Result<Vec<SchoolFairness>, PageError> {
    let today = today(state);
    let year = academic_year(today);
    let mut client = state.clients(viewer).scheduling();
    let mut out = Vec::new();
    for school in viewer.schools_for(SchoolVerb::PlanVisits) {
        let calendar = client
            .get_calendar(sc::GetCalendarRequest {
                school_id: school.to_string(),
            })
            .await?
            .into_inner();
        let date = |value: &str| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
        let term = calendar
            .years
            .iter()
            .filter(|y| y.academic_year == year)
            .flat_map(|y| &y.terms)
            .find_map(|t| {
                let (starts, ends) = (date(&t.starts)?, date(&t.ends)?);
                (starts <= today && today <= ends).then(|| (t.name.clone(), starts, ends))
            });
        let (period, from, to) = match term {
            Some((name, starts, ends)) => (
                format!("{name} ({} to {})", written(starts), written(ends)),
                starts,
                ends,
            ),
            None => (
                format!("the academic year {year}"),
                NaiveDate::from_ymd_opt(start_year(today), 8, 1).unwrap_or(today),
                today,
            ),
        };
        let asked = sc::NotVisitedRequest {
            school_id: school.to_string(),
            academic_year: year.clone(),
            from_date: from.to_string(),
            to_date: to.to_string(),
        };
        // A school whose year is not generated has nobody to count yet.
        let not_visited = match client.not_visited(asked).await {
            Ok(reply) => reply.into_inner().teacher_ids,
            Err(_) => vec![],
        };
        let requests = match client
            .list_visit_requests(sc::SchoolYearRequest {
                school_id: school.to_string(),
                academic_year: year.clone(),
            })
            .await
        {
            Ok(reply) => reply.into_inner().requests,
            Err(_) => vec![],
        };
        let mut not_visited: Vec<String> = not_visited.iter().map(|t| people.of(t)).collect();
        not_visited.sort();
        out.push(SchoolFairness {
            school: crate::web::school_name(viewer, &school.to_string()),
            period,
            not_visited,
            requests: requests
                .into_iter()
                .filter(|r| r.booked_as.is_empty())
                .map(|r| Request {
                    teacher: people.of(&r.teacher_id),
                    reason: r.reason,
                    href: format!(
                        "/visits/new?teacher={}&request={}",
                        r.teacher_id, r.request_id
                    ),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// `POST /visits/requests`: a teacher asks for a visit to their classroom.
pub async fn ask(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let school = fields.trimmed("school_id");
    let result = state
        .clients(&viewer)
        .scheduling()
        .request_visit(sc::RequestVisitRequest {
            command_id: fields.command_id(),
            school_id: school,
            academic_year: academic_year(today(&state)),
            teacher_id: String::new(),
            reason: fields.trimmed("reason"),
        })
        .await;
    match result {
        Ok(_) => Ok(see("/visits?asked=1")),
        Err(status) => Err(PageError::bad_request(refusal(status)?)),
    }
}
