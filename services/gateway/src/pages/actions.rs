//! Agreed actions: the list (mine, or a school's for its leaders), the CSV export, and an
//! action's page with what can be done to it and its full audit trail.

use super::files::{Files, Kind as FileKind};
use super::priorities::Tags;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use waymark_domain::SchoolId;
use waymark_policy::{ActionFacts, ActionVerb, SchoolVerb};
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::{Names, names};
use crate::error::PageError;
use crate::pages::export::Csv;
use crate::pages::finding::{answered, list_page, urlencode};
use crate::pages::people::{Person, staff_of};
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{
    Fields, Nav, Tag, long_date, new_command_id, refusal, refused_page, see, tag, today,
};

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// `live` (default), `done`, `all`.
    #[serde(default)]
    pub status: String,
    /// A school the viewer leads: its actions, everyone's. Empty: the viewer's own.
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub overdue: String,
    /// Words in what the actions say.
    #[serde(default)]
    pub q: String,
    /// Due from..to (YYYY-MM-DD; either may be blank).
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// An improvement priority's id: only the actions tied to it.
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub page: u32,
}

/// Actions on one page of the list.
const PAGE: i32 = 50;

pub struct Row {
    pub id: String,
    pub description: String,
    pub owner: String,
    pub due: String,
    pub school: String,
    pub tag: Tag,
}

pub struct SchoolChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/actions.html")]
pub struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    status: String,
    schools: Vec<SchoolChoice>,
    overdue: bool,
    query: String,
    filter: Filter,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// One page of the actions a filter selects (action tracking lists only those the viewer
/// may read), whether more follow, or why the filter cannot be read.
async fn select(
    state: &AppState,
    viewer: &Viewer,
    filter: &Filter,
    limit: i32,
) -> Result<(at::ListActionsResponse, Option<String>), PageError> {
    let statuses: Vec<String> = match filter.status.as_str() {
        "done" => vec!["done".into()],
        "all" => ["open", "in_progress", "done", "carried_forward", "dropped"]
            .map(String::from)
            .to_vec(),
        _ => vec![],
    };
    let mut request = at::ListActionsRequest {
        statuses,
        overdue_only: !filter.overdue.is_empty(),
        today: today(state).to_string(),
        limit,
        text: filter.q.clone(),
        due_on_or_after: filter.from.clone(),
        due_on_or_before: filter.to.clone(),
        page: filter.page,
        ..Default::default()
    };
    if !filter.priority.is_empty() {
        // The priority as the viewer may read it (review dialogue decides); its actions.
        let priority = state
            .clients(viewer)
            .priorities()
            .get_priority(rd::GetRecordRequest {
                id: filter.priority.clone(),
            })
            .await?
            .into_inner();
        request.action_ids = priority
            .linked
            .into_iter()
            .filter(|l| l.kind == "action")
            .map(|l| l.record_id)
            .collect();
        if request.action_ids.is_empty() {
            return Ok((at::ListActionsResponse::default(), None));
        }
    }
    if filter.school.is_empty() {
        request.person_ids = vec![viewer.staff.to_string()];
        request.include_supported = true;
    } else {
        let school: SchoolId = filter.school.parse().map_err(|_| PageError::not_found())?;
        // A school the viewer is not on the staff of is, to them, not there; within one,
        // action tracking lists only what they may read.
        if !viewer.may_on_school(SchoolVerb::Read, school) {
            return Err(PageError::not_found());
        }
        request.school_id = school.to_string();
    }
    answered(state.clients(viewer).actions().list_actions(request).await)
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    let (found, error) = select(&state, &viewer, &filter, PAGE).await?;
    let actions = found.actions;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let rows = actions
        .into_iter()
        .map(|a| Row {
            tag: tag(if a.overdue { "overdue" } else { &a.status }),
            owner: people.of(&a.owner_id),
            due: long_date(&a.due_date),
            school: crate::web::school_name(&viewer, &a.school_id),
            id: a.action_id,
            description: a.description,
        })
        .collect();
    let schools = viewer
        .schools_for(SchoolVerb::Read)
        .into_iter()
        .map(|s| SchoolChoice {
            id: s.to_string(),
            name: crate::web::school_name(&viewer, &s.to_string()),
            selected: filter.school == s.to_string(),
        })
        .collect();
    let query = [
        ("status", &filter.status),
        ("school", &filter.school),
        ("overdue", &filter.overdue),
        ("q", &filter.q),
        ("from", &filter.from),
        ("to", &filter.to),
        ("priority", &filter.priority),
    ]
    .iter()
    .map(|(key, value)| format!("{key}={}", urlencode(value)))
    .collect::<Vec<_>>()
    .join("&");
    let page_href = |page: u32| format!("/actions?{query}&page={page}");
    let previous = (filter.page > 0).then(|| page_href(filter.page - 1));
    let next = found.more.then(|| page_href(filter.page + 1));
    let refused = error.is_some();
    let page = ListPage {
        nav: Nav::new(&state, &viewer, "actions").await,
        rows,
        status: if filter.status.is_empty() {
            "live".into()
        } else {
            filter.status.clone()
        },
        schools,
        overdue: !filter.overdue.is_empty(),
        query,
        filter,
        previous,
        next,
        error,
    };
    Ok(list_page(page, refused))
}

pub async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    let (found, error) = select(&state, &viewer, &filter, 1000).await?;
    if let Some(error) = error {
        return Err(PageError::bad_request(error));
    }
    let actions = found.actions;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut csv = Csv::new(&[
        "Action",
        "School",
        "Owner",
        "Supporters",
        "Due",
        "Status",
        "Overdue",
        "Success criteria",
        "Impact",
        "Origin",
    ]);
    for a in &actions {
        let supporters: Vec<String> = a.supporter_ids.iter().map(|s| people.of(s)).collect();
        csv.row(&[
            &a.description,
            &crate::web::school_name(&viewer, &a.school_id),
            &people.of(&a.owner_id),
            &supporters.join("; "),
            &a.due_date,
            tag(&a.status).label,
            if a.overdue { "yes" } else { "no" },
            &a.success_criteria,
            &a.impact,
            origin_label(&a.origin_kind),
        ]);
    }
    Ok(csv.into_response("actions.csv"))
}

pub fn origin_label(kind: &str) -> &'static str {
    match kind {
        "progress_review" => "Progress review",
        "progress_meeting" => "Progress meeting",
        "visit" => "Monitoring visit",
        "audit" => "Self-evaluation audit",
        "occurrence" => "Planned monitoring",
        _ => "Agreed directly",
    }
}

fn origin_href(kind: &str, id: &str) -> Option<String> {
    match kind {
        "progress_review" => Some(format!("/reviews/{id}")),
        "progress_meeting" => Some(format!("/meetings/{id}")),
        "visit" => Some(format!("/visits/{id}")),
        "audit" => Some(format!("/audits/{id}")),
        "occurrence" => Some(format!("/occurrences/{id}")),
        _ => None,
    }
}

pub struct Entry {
    pub when: String,
    pub who: String,
    pub summary: String,
    pub reason: String,
}

pub struct NoteRow {
    pub kind: String,
    pub text: String,
    pub who: String,
    pub when: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/action.html")]
pub struct DetailPage {
    nav: Nav,
    action: at::Action,
    tag: Tag,
    owner: String,
    supporters: String,
    school: String,
    due: String,
    origin: &'static str,
    origin_href: Option<String>,
    notes: Vec<NoteRow>,
    trail: Vec<Entry>,
    live: bool,
    reopenable: bool,
    /// What the viewer may press, as the policies say (action tracking decides again).
    may_work: bool,
    may_note: bool,
    may_steer: bool,
    people: Vec<Person>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
    files: Files,
    tags: Tags,
}

async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<at::ActionDetail, PageError> {
    let detail = state
        .clients(viewer)
        .actions()
        .get_action(at::GetActionRequest {
            action_id: id.to_owned(),
        })
        .await?
        .into_inner();
    // Action tracking answers "not found" for an action the viewer may not read.
    match &detail.action {
        Some(_) => Ok(detail),
        None => Err(PageError::not_found()),
    }
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, Fields::default()).await
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<DetailPage, PageError> {
    let detail = load(state, viewer, id).await?;
    let action = detail.action.unwrap_or_default();
    let people = names(&state.platform.pool, viewer.trust).await?;
    let trail = state
        .clients(viewer)
        .actions()
        .get_audit_trail(at::GetActionRequest {
            action_id: id.to_owned(),
        })
        .await?
        .into_inner();
    let school: SchoolId = action
        .school_id
        .parse()
        .map_err(|_| PageError::not_found())?;
    let facts = ActionFacts {
        school,
        owner: action
            .owner_id
            .parse()
            .map_err(|_| PageError::not_found())?,
        supporters: action
            .supporter_ids
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        agreed_by: action.agreed_by.parse().ok(),
        live: action.status == "open" || action.status == "in_progress",
    };
    let may = |verb| {
        state
            .policies
            .allows_on_action(&viewer.directory, viewer.staff, verb, &facts)
    };
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "actions").await,
        tag: tag(if action.overdue {
            "overdue"
        } else {
            &action.status
        }),
        owner: people.of(&action.owner_id),
        supporters: action
            .supporter_ids
            .iter()
            .map(|s| people.of(s))
            .collect::<Vec<_>>()
            .join(", "),
        school: crate::web::school_name(viewer, &action.school_id),
        due: long_date(&action.due_date),
        origin: origin_label(&action.origin_kind),
        origin_href: origin_href(&action.origin_kind, &action.origin_id),
        notes: detail
            .notes
            .into_iter()
            .map(|n| NoteRow {
                kind: note_kind(&n.kind).into(),
                text: n.text,
                who: people.of(&n.author_id),
                when: when(&n.recorded_at),
            })
            .collect(),
        trail: trail
            .entries
            .into_iter()
            .map(|e| entry(&people, e))
            .collect(),
        live: action.status == "open" || action.status == "in_progress",
        reopenable: action.status == "done" || action.status == "dropped",
        may_work: may(ActionVerb::Complete),
        may_note: may(ActionVerb::NoteProgress),
        may_steer: may(ActionVerb::ChangeDue),
        people: staff_of(viewer, &people, school),
        // The owner and supporters attach files while it is live or done (action tracking
        // decides).
        tags: Tags::of(state, viewer, "action", id, &action.school_id).await?,
        files: Files::new(
            state,
            viewer,
            FileKind::Action,
            id,
            &detail.attachments,
            &people,
            may(ActionVerb::RecordEvidence)
                && matches!(action.status.as_str(), "open" | "in_progress" | "done"),
        ),
        action,
        command_id: new_command_id(),
        error,
        posted,
    })
}

/// The action's page with `error` on it (after a refused file).
pub async fn page_with_error(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: String,
) -> Result<DetailPage, PageError> {
    show(state, viewer, id, Some(error), Fields::default()).await
}

fn note_kind(kind: &str) -> &'static str {
    match kind {
        "evidence" => "Evidence",
        _ => "Progress",
    }
}

/// "3 March 2027, 14:05" from an RFC 3339 time, in school time.
pub fn when(value: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%-d %B %Y, %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| value.to_owned())
}

fn entry(people: &Names, e: at::AuditEntry) -> Entry {
    Entry {
        when: when(&e.recorded_at),
        who: people.of(&e.actor_id),
        summary: e.summary,
        reason: e.reason,
    }
}

pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    // One the viewer may not read is not found; what they may do to it, the service decides.
    load(&state, &viewer, &id).await?;
    let mut client = state.clients(&viewer).actions();
    let command_id = fields.command_id();
    let text = |name: &str| at::TextRequest {
        command_id: command_id.clone(),
        action_id: id.clone(),
        text: fields.trimmed(name),
    };
    let result = match verb.as_str() {
        "start" => {
            client
                .start_action(at::ActionRequest {
                    command_id: command_id.clone(),
                    action_id: id.clone(),
                })
                .await
        }
        "progress" => client.note_progress(text("text")).await,
        "evidence" => client.record_evidence(text("text")).await,
        "complete" => client.complete_action(text("impact")).await,
        "drop" => client.drop_action(text("reason")).await,
        "reopen" => client.reopen_action(text("reason")).await,
        "due-date" => {
            client
                .change_due_date(at::ChangeDueDateRequest {
                    command_id: command_id.clone(),
                    action_id: id.clone(),
                    due_date: fields.trimmed("due_date"),
                    reason: fields.trimmed("reason"),
                })
                .await
        }
        "carry-forward" => {
            client
                .carry_forward_action(at::CarryForwardRequest {
                    command_id: command_id.clone(),
                    action_id: id.clone(),
                    due_date: fields.trimmed("due_date"),
                    note: fields.trimmed("note"),
                })
                .await
        }
        "reassign" => {
            client
                .reassign_action(at::ReassignActionRequest {
                    command_id: command_id.clone(),
                    action_id: id.clone(),
                    owner_id: fields.trimmed("owner_id"),
                    reason: fields.trimmed("reason"),
                })
                .await
        }
        _ => return Err(PageError::not_found()),
    };
    match result {
        Ok(reply) => {
            let reply = reply.into_inner();
            // Carrying forward makes a new action: go to it.
            let to = if reply.next_action_id.is_empty() {
                id
            } else {
                reply.next_action_id
            };
            Ok(see(format!("/actions/{to}")))
        }
        Err(status) => {
            // Not the viewer's to do is 403; anything else refused, 422. Either way the
            // page says why.
            let forbidden = status.code() == tonic::Code::PermissionDenied;
            let page = show(&state, &viewer, &id, Some(refusal(status)?), fields).await?;
            Ok(if forbidden {
                (axum::http::StatusCode::FORBIDDEN, page).into_response()
            } else {
                refused_page(page)
            })
        }
    }
}
