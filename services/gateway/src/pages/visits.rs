//! Monitoring visits (classroom observation, learning walk): the focus agreed with the
//! teacher beforehand, the visitor's record, the teacher's response, and agreement.

use super::files::{Files, Kind as FileKind};
use super::priorities::Tags;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use waymark_domain::SchoolId;
use waymark_policy::SchoolVerb;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::names;
use crate::error::PageError;
use crate::pages::finding::{Form, Search, answered, list_page};
use crate::pages::people::{Person, SchoolStaff, in_led_school, led_schools, staff_of};
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, Tag, long_date, new_command_id, refusal, refused_page, see, tag};

async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<rd::Visit, PageError> {
    let visit = state
        .clients(viewer)
        .reviews()
        .get_visit(rd::GetRecordRequest { id: id.to_owned() })
        .await?
        .into_inner();
    if visit.redacted {
        Err(PageError::private("visit"))
    } else {
        Ok(visit)
    }
}

pub fn kind_label(kind: &str) -> &'static str {
    if kind == "learning_walk" {
        "Learning walk"
    } else {
        "Classroom observation"
    }
}

pub struct Row {
    pub id: String,
    pub kind: &'static str,
    pub visitor: String,
    pub teacher: String,
    pub date: String,
    pub tag: Tag,
    /// The viewer may read it, not only see that it exists.
    pub open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/visits.html")]
pub struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    can_plan: bool,
    search: Search,
    form: Form,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
    /// Who has not been visited this term, and the requests, per school the viewer plans.
    fairness: Vec<super::visit_fairness::SchoolFairness>,
    /// The schools the viewer teaches in, where they may ask for a visit.
    ask_in: Vec<(String, String)>,
    asked: bool,
    command_id: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct Asked {
    #[serde(default)]
    asked: String,
}

/// The visits list's search form.
const FORM: Form = Form {
    action: "/visits",
    what: "visits",
    statuses: &[
        ("planned", "Planned"),
        ("focus_agreed", "Focus agreed"),
        ("recorded", "Awaiting agreement"),
        ("agreed", "Agreed"),
        ("cancelled", "Cancelled"),
    ],
    csv: Some("/visits.csv"),
    group: None,
    dates: true,
};

/// `GET /visits`: the latest first, narrowed by the search form.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
    Query(asked): Query<Asked>,
) -> Result<Response, PageError> {
    let (found, error) = answered(
        state
            .clients(&viewer)
            .reviews()
            .list_visits(search.visits())
            .await,
    )?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let rows = found
        .visits
        .into_iter()
        .map(|v| Row {
            open: !v.redacted,
            kind: kind_label(&v.kind),
            visitor: people.of(&v.visitor_id),
            teacher: people.of(&v.teacher_id),
            date: long_date(&v.date),
            tag: tag(&v.status),
            id: v.visit_id,
        })
        .collect();
    let (previous, next) = search.around(FORM.action, found.more);
    let refused = error.is_some();
    let mut ask_in: Vec<(String, String)> = viewer
        .grants()
        .iter()
        .filter_map(|g| g.school)
        .map(|s| {
            (
                s.to_string(),
                crate::web::school_name(&viewer, &s.to_string()),
            )
        })
        .collect();
    ask_in.sort();
    ask_in.dedup();
    let page = ListPage {
        nav: Nav::new(&state, &viewer, "visits").await,
        rows,
        can_plan: !viewer.schools_for(SchoolVerb::PlanVisits).is_empty(),
        search,
        form: FORM,
        previous,
        next,
        error,
        fairness: super::visit_fairness::fairness(&state, &viewer, &people).await?,
        ask_in,
        asked: !asked.asked.is_empty(),
        command_id: new_command_id(),
    };
    Ok(list_page(page, refused))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/visit_new.html")]
pub struct NewPage {
    nav: Nav,
    schools: Vec<SchoolStaff>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

async fn new_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    posted: Fields,
) -> Result<NewPage, PageError> {
    let people = names(&state.platform.pool, viewer.trust).await?;
    let schools = led_schools(viewer, &people);
    Ok(NewPage {
        nav: Nav::new(state, viewer, "visits").await,
        schools,
        command_id: posted.command_id(),
        error,
        posted,
    })
}

/// What `/visits/new` was opened for: a teacher's request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ForRequest {
    #[serde(default)]
    teacher: String,
    #[serde(default)]
    request: String,
}

/// `GET /visits/new`, filled in from a planned one with `?occurrence=<id>`, or for a
/// teacher's request with `?teacher=<id>&request=<id>`.
pub async fn new(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(from): Query<super::occurrences::FromOccurrence>,
    Query(asked): Query<ForRequest>,
) -> Result<NewPage, PageError> {
    let posted = if asked.request.is_empty() {
        from.prefill(&state, &viewer).await?
    } else {
        Fields::prefilled(vec![
            ("teacher_id", asked.teacher),
            ("request_id", asked.request),
        ])
    };
    new_page(&state, &viewer, None, posted).await
}

/// A leader plans a visit to a teacher of a school they lead, as the visitor.
pub async fn plan(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let Some((teacher, school)) = in_led_school(&viewer, fields.get("teacher_id")) else {
        return Ok(refused_page(
            new_page(
                &state,
                &viewer,
                Some("Choose a teacher in a school you lead.".into()),
                fields,
            )
            .await?,
        ));
    };
    // Booked within the caps first; the visit holds the booking.
    let booking =
        match super::visit_fairness::book(&state, &viewer, &fields, school, teacher).await? {
            Ok(booking) => booking,
            Err(refused) => {
                return Ok(refused_page(
                    new_page(&state, &viewer, Some(refused), fields).await?,
                ));
            }
        };
    let request = rd::PlanVisitRequest {
        command_id: fields.command_id(),
        school_id: school.to_string(),
        kind: fields.trimmed("kind"),
        visitor_id: viewer.staff.to_string(),
        teacher_id: teacher.to_string(),
        date: fields.trimmed("date"),
        focus: fields.trimmed("focus"),
        occurrence_id: booking.unwrap_or_default(),
    };
    match state.clients(&viewer).reviews().plan_visit(request).await {
        Ok(reply) => Ok(see(format!("/visits/{}", reply.into_inner().id))),
        Err(status) => Ok(refused_page(
            new_page(&state, &viewer, Some(refusal(status)?), fields).await?,
        )),
    }
}

pub struct Step {
    pub description: String,
    pub owner: String,
    pub due: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/visit.html")]
pub struct DetailPage {
    nav: Nav,
    visit: rd::Visit,
    kind: &'static str,
    tag: Tag,
    school: String,
    visitor: String,
    teacher: String,
    date: String,
    steps: Vec<Step>,
    owners: Vec<Person>,
    is_visitor: bool,
    is_teacher: bool,
    command_id: String,
    error: Option<String>,
    posted: Fields,
    files: Files,
    tags: Tags,
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<DetailPage, PageError> {
    let visit = load(state, viewer, id).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let me = viewer.staff.to_string();
    let school: SchoolId = visit
        .school_id
        .parse()
        .map_err(|_| PageError::not_found())?;
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "visits").await,
        kind: kind_label(&visit.kind),
        tag: tag(&visit.status),
        school: crate::web::school_name(viewer, &visit.school_id),
        visitor: people.of(&visit.visitor_id),
        teacher: people.of(&visit.teacher_id),
        date: long_date(&visit.date),
        steps: visit
            .next_steps
            .iter()
            .map(|s| Step {
                description: s.description.clone(),
                owner: people.of(&s.owner_id),
                due: long_date(&s.due_date),
            })
            .collect(),
        owners: staff_of(viewer, &people, school),
        is_visitor: visit.visitor_id == me,
        is_teacher: visit.teacher_id == me,
        // The visitor and the teacher attach files until the record is agreed (review dialogue decides).
        tags: Tags::of(state, viewer, "visit", id, &visit.school_id).await?,
        files: Files::new(
            state,
            viewer,
            FileKind::Visit,
            id,
            &visit.attachments,
            &people,
            (visit.visitor_id == me || visit.teacher_id == me)
                && !matches!(visit.status.as_str(), "agreed" | "cancelled"),
        ),
        visit,
        command_id: new_command_id(),
        error,
        posted,
    })
}

/// The visit's page with `error` on it (after a refused file).
pub async fn page_with_error(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: String,
) -> Result<DetailPage, PageError> {
    show(state, viewer, id, Some(error), Fields::default()).await
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, Fields::default()).await
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/visit_record.html")]
pub struct RecordPage {
    nav: Nav,
    visit: rd::Visit,
    kind: &'static str,
    tag: Tag,
    school: String,
    visitor: String,
    teacher: String,
    date: String,
    steps: Vec<Step>,
}

/// `GET /visits/{id}/print`: the record on its own, for printing or saving as PDF.
pub async fn print(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<RecordPage, PageError> {
    let page = show(&state, &viewer, &id, None, Fields::default()).await?;
    Ok(RecordPage {
        nav: page.nav,
        kind: page.kind,
        tag: page.tag,
        school: page.school,
        visitor: page.visitor,
        teacher: page.teacher,
        date: page.date,
        steps: page.steps,
        visit: page.visit,
    })
}

pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    load(&state, &viewer, &id).await?;
    let mut client = state.clients(&viewer).reviews();
    let command_id = fields.command_id();
    let text = |name: &str| rd::RecordTextRequest {
        command_id: command_id.clone(),
        id: id.clone(),
        text: fields.trimmed(name),
    };
    let result = match verb.as_str() {
        "agree-focus" => {
            client
                .agree_visit_focus(rd::RecordRequest {
                    command_id: command_id.clone(),
                    id: id.clone(),
                })
                .await
        }
        "focus" => client.change_visit_focus(text("focus")).await,
        "record" => {
            let next_steps = (0..3)
                .filter(|n| !fields.trimmed(&format!("step.{n}.description")).is_empty())
                .map(|n| rd::NextStep {
                    description: fields.trimmed(&format!("step.{n}.description")),
                    owner_id: fields.trimmed(&format!("step.{n}.owner")),
                    due_date: fields.trimmed(&format!("step.{n}.due")),
                    success_criteria: String::new(),
                })
                .collect();
            client
                .record_visit(rd::RecordVisitRequest {
                    command_id: command_id.clone(),
                    visit_id: id.clone(),
                    observations: fields.trimmed("observations"),
                    previous_steps_review: fields.trimmed("previous_steps_review"),
                    feedback: fields.trimmed("feedback"),
                    next_steps,
                    based_on_version: fields.get("based_on").parse().unwrap_or(0),
                })
                .await
        }
        "respond" => client.respond_to_visit(text("response")).await,
        "agree" => {
            client
                .agree_visit(rd::AgreeVisitRequest {
                    command_id: command_id.clone(),
                    visit_id: id.clone(),
                    // The version the teacher read, never whatever is current now.
                    record_version: fields.get("record_version").parse().unwrap_or(0),
                })
                .await
        }
        "cancel" => client.cancel_visit(text("reason")).await,
        _ => return Err(PageError::not_found()),
    };
    match result {
        Ok(_) => Ok(see(format!("/visits/{id}"))),
        Err(status) => Ok(refused_page(
            show(&state, &viewer, &id, Some(refusal(status)?), fields).await?,
        )),
    }
}
