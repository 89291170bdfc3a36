//! A school's improvement priorities: the list for a school, a priority's page with
//! everything tied to it (what the viewer may read of it), and on each record's page the
//! priorities it serves. Review dialogue decides who may keep, read and tie them; these pages
//! only ask.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use waymark_domain::SchoolId;
use waymark_domain::school_year::AcademicYear;
use waymark_policy::SchoolVerb;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::{Names, names};
use crate::error::PageError;
use crate::pages::people::{Person, staff_of};
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::Choice;
use crate::web::{Fields, Nav, Tag, long_date, new_command_id, refusal, see, tag};

pub struct Row {
    pub href: String,
    pub title: String,
    pub year: String,
    pub lead: String,
    pub linked: usize,
    pub retired: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/priorities.html")]
pub struct ListPage {
    nav: Nav,
    schools: Vec<Choice>,
    school: String,
    school_name: String,
    rows: Vec<Row>,
    may_manage: bool,
    people: Vec<Person>,
    year: String,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    school: String,
}

/// The schools the viewer may read.
fn schools(viewer: &Viewer) -> Vec<Choice> {
    viewer
        .schools_for(SchoolVerb::Read)
        .into_iter()
        .map(|s| Choice {
            value: s.to_string(),
            label: crate::web::school_name(viewer, &s.to_string()),
        })
        .collect()
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    school: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<ListPage, PageError> {
    let choices = schools(viewer);
    let school = if school.is_empty() {
        choices.first().map(|c| c.value.clone()).unwrap_or_default()
    } else {
        school.to_owned()
    };
    let school_id: Option<SchoolId> = school.parse().ok();
    let people = names(&state.platform.pool, viewer.trust).await?;
    let rows = match school_id {
        Some(_) => {
            state
                .clients(viewer)
                .priorities()
                .list_priorities(rd::ListPrioritiesRequest {
                    school_id: school.clone(),
                    include_retired: true,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .priorities
        }
        None => Vec::new(),
    };
    let today = state.platform.clock.now().date_naive();
    Ok(ListPage {
        nav: Nav::new(state, viewer, "priorities").await,
        schools: choices,
        school_name: crate::web::school_name(viewer, &school),
        rows: rows
            .into_iter()
            .map(|p| {
                let details = p.details.unwrap_or_default();
                Row {
                    href: format!("/priorities/{}", p.priority_id),
                    title: details.title,
                    year: p.academic_year,
                    lead: people.of(&details.lead_id),
                    linked: p.linked.len(),
                    retired: p.retired,
                }
            })
            .collect(),
        may_manage: school_id.is_some_and(|s| viewer.may_on_school(SchoolVerb::ManagePlan, s)),
        people: school_id.map_or_else(Vec::new, |s| staff_of(viewer, &people, s)),
        year: AcademicYear::containing(today).to_string(),
        school,
        command_id: new_command_id(),
        error,
        posted,
    })
}

/// `GET /priorities?school=…`
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<ListPage, PageError> {
    list_page(&state, &viewer, &query.school, None, Fields::default()).await
}

fn details(fields: &Fields) -> rd::PriorityDetails {
    rd::PriorityDetails {
        title: fields.trimmed("title"),
        intended_impact: fields.trimmed("intended_impact"),
        lead_id: fields.trimmed("lead_id"),
        quality_indicators: fields.lines("quality_indicators"),
    }
}

/// `POST /priorities`: a new priority of a school for a year.
pub async fn add(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let school = fields.trimmed("school_id");
    let result = state
        .clients(&viewer)
        .priorities()
        .add_priority(rd::AddPriorityRequest {
            command_id: fields.command_id(),
            school_id: school.clone(),
            academic_year: fields.trimmed("academic_year"),
            details: Some(details(&fields)),
        })
        .await;
    match result {
        Ok(reply) => Ok(see(format!("/priorities/{}", reply.into_inner().id))),
        Err(status) => {
            let message = refusal(status)?;
            let page = list_page(&state, &viewer, &school, Some(message), fields).await?;
            Ok(crate::web::refused_page(page))
        }
    }
}

/// A record tied to a priority, as the viewer may read it.
pub struct Linked {
    pub href: String,
    pub title: String,
    pub status: Tag,
    /// An action's impact, once done.
    pub impact: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/priority.html")]
pub struct DetailPage {
    nav: Nav,
    priority: rd::Priority,
    details: rd::PriorityDetails,
    school: String,
    lead: String,
    indicators: String,
    groups: Vec<(&'static str, Vec<Linked>)>,
    /// Tied records the viewer may not read.
    hidden: usize,
    may_manage: bool,
    people: Vec<Person>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

async fn linked(
    state: &AppState,
    viewer: &Viewer,
    people: &Names,
    link: &rd::LinkedRecord,
) -> Result<Option<Linked>, PageError> {
    let clients = state.clients(viewer);
    let id = link.record_id.clone();
    let gone = |status: &tonic::Status| {
        matches!(
            status.code(),
            tonic::Code::NotFound | tonic::Code::PermissionDenied
        )
    };
    macro_rules! fetch {
        ($call:expr) => {
            match $call.await {
                Ok(reply) => reply.into_inner(),
                Err(status) if gone(&status) => return Ok(None),
                Err(status) => return Err(status.into()),
            }
        };
    }
    let record = |kind: &'static str, title: String, status: &str, impact: String| Linked {
        href: format!("/{kind}s/{id}"),
        title,
        status: tag(status),
        impact,
    };
    let shown = match link.kind.as_str() {
        "review" => {
            let r = fetch!(
                clients
                    .reviews()
                    .get_review(rd::GetRecordRequest { id: id.clone() })
            );
            if r.redacted {
                return Ok(None);
            }
            record(
                "review",
                format!("{} with {}", r.year_group, people.of(&r.reviewee_id)),
                &r.status,
                String::new(),
            )
        }
        "visit" => {
            let v = fetch!(
                clients
                    .reviews()
                    .get_visit(rd::GetRecordRequest { id: id.clone() })
            );
            if v.redacted {
                return Ok(None);
            }
            record(
                "visit",
                format!(
                    "{}: {} ({})",
                    people.of(&v.teacher_id),
                    v.focus,
                    long_date(&v.date)
                ),
                &v.status,
                String::new(),
            )
        }
        "meeting" => {
            let m = fetch!(
                clients
                    .reviews()
                    .get_meeting(rd::GetRecordRequest { id: id.clone() })
            );
            if m.redacted {
                return Ok(None);
            }
            record(
                "meeting",
                format!(
                    "{} {}, {}",
                    m.class_group,
                    m.assessment_point,
                    long_date(&m.date)
                ),
                &m.status,
                String::new(),
            )
        }
        "weakness" => {
            let audit = fetch!(clients.audits().get_audit(rd::GetAuditRequest {
                audit_id: id.clone()
            }));
            let Some(weakness) = audit.weaknesses.iter().find(|w| w.id == link.item) else {
                return Ok(None);
            };
            Linked {
                href: format!("/audits/{id}"),
                title: format!("{} (found by {})", weakness.text, audit.title),
                status: tag(&audit.status),
                impact: String::new(),
            }
        }
        "action" => {
            let detail = fetch!(clients.actions().get_action(at::GetActionRequest {
                action_id: id.clone()
            }));
            let Some(a) = detail.action else {
                return Ok(None);
            };
            record(
                "action",
                format!("{} ({})", a.description, people.of(&a.owner_id)),
                if a.overdue { "overdue" } else { &a.status },
                a.impact,
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(shown))
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<DetailPage, PageError> {
    let priority = state
        .clients(viewer)
        .priorities()
        .get_priority(rd::GetRecordRequest { id: id.to_owned() })
        .await?
        .into_inner();
    let details = priority.details.clone().unwrap_or_default();
    let people = names(&state.platform.pool, viewer.trust).await?;
    let school: Option<SchoolId> = priority.school_id.parse().ok();
    const GROUPS: [(&str, &str); 5] = [
        ("Progress reviews", "review"),
        ("Monitoring visits", "visit"),
        ("Progress meetings", "meeting"),
        ("Weaknesses found by self-evaluation audits", "weakness"),
        ("Actions and their impact", "action"),
    ];
    let mut groups: Vec<(&'static str, Vec<Linked>)> = GROUPS
        .iter()
        .map(|(heading, _)| (*heading, Vec::new()))
        .collect();
    let mut hidden = 0;
    for link in &priority.linked {
        let at = GROUPS.iter().position(|(_, kind)| *kind == link.kind);
        match (at, linked(state, viewer, &people, link).await?) {
            (Some(at), Some(shown)) => groups[at].1.push(shown),
            _ => hidden += 1,
        }
    }
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "priorities").await,
        school: crate::web::school_name(viewer, &priority.school_id),
        lead: people.of(&details.lead_id),
        indicators: details.quality_indicators.join("\n"),
        groups,
        hidden,
        may_manage: school.is_some_and(|s| viewer.may_on_school(SchoolVerb::ManagePlan, s)),
        people: school.map_or_else(Vec::new, |s| staff_of(viewer, &people, s)),
        details,
        priority,
        command_id: new_command_id(),
        error,
        posted,
    })
}

/// `GET /priorities/{id}`
pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, Fields::default()).await
}

/// `POST /priorities/{id}/{change|retire|link|unlink}`. Tying and untying come from a
/// record's page and go back to it.
pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    let mut client = state.clients(&viewer).priorities();
    let command_id = fields.command_id();
    let link = || rd::LinkRecordRequest {
        command_id: command_id.clone(),
        priority_id: id.clone(),
        kind: fields.trimmed("kind"),
        record_id: fields.trimmed("record_id"),
        item: fields.trimmed("item").parse().unwrap_or_default(),
    };
    let result = match verb.as_str() {
        "change" => client
            .change_priority(rd::ChangePriorityRequest {
                command_id: command_id.clone(),
                priority_id: id.clone(),
                details: Some(details(&fields)),
            })
            .await
            .map(|_| ()),
        "retire" => client
            .retire_priority(rd::RetirePriorityRequest {
                command_id: command_id.clone(),
                priority_id: id.clone(),
                reason: fields.trimmed("reason"),
            })
            .await
            .map(|_| ()),
        "link" => client.link_record(link()).await.map(|_| ()),
        "unlink" => client.unlink_record(link()).await.map(|_| ()),
        _ => return Err(PageError::not_found()),
    };
    let back = record_path(&fields.trimmed("kind"), &fields.trimmed("record_id"));
    match (result, verb.as_str()) {
        (Ok(()), "link" | "unlink") => Ok(see(back.unwrap_or_else(|| format!("/priorities/{id}")))),
        (Ok(()), _) => Ok(see(format!("/priorities/{id}"))),
        (Err(status), _) => {
            let message = refusal(status)?;
            let page = show(&state, &viewer, &id, Some(message), fields).await?;
            Ok(crate::web::refused_page(page.into_response()))
        }
    }
}

/// `POST /priorities/tie`: from a record's page, the priority chosen in its list.
pub async fn tie(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let id = fields.trimmed("priority_id");
    if id.is_empty() {
        return Err(PageError::not_found());
    }
    act(State(state), viewer, Path((id, "link".to_owned())), fields).await
}

/// A record's page, by its kind.
fn record_path(kind: &str, id: &str) -> Option<String> {
    let base = match kind {
        "review" => "reviews",
        "visit" => "visits",
        "meeting" => "meetings",
        "action" => "actions",
        "weakness" => "audits",
        _ => return None,
    };
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|id| format!("/{base}/{id}"))
}

/// The priorities section of a record's page: those it serves, and the school's others to
/// tie it to.
pub struct Tags {
    pub kind: &'static str,
    pub record_id: String,
    pub serves: Vec<(String, String)>,
    pub choices: Vec<Choice>,
}

impl Tags {
    pub async fn of(
        state: &AppState,
        viewer: &Viewer,
        kind: &'static str,
        record_id: &str,
        school: &str,
    ) -> Result<Self, PageError> {
        let serving = Serving::of(state, viewer, kind, record_id, school).await?;
        let (serves, choices) = serving.split(0);
        Ok(Self {
            kind,
            record_id: record_id.to_owned(),
            serves,
            choices,
        })
    }
}

/// The priorities a record (or any item of it) is tied to, and its school's live ones.
pub struct Serving {
    tied: Vec<rd::Priority>,
    live: Vec<rd::Priority>,
    kind: &'static str,
    record_id: String,
}

impl Serving {
    pub async fn of(
        state: &AppState,
        viewer: &Viewer,
        kind: &'static str,
        record_id: &str,
        school: &str,
    ) -> Result<Self, PageError> {
        let mut client = state.clients(viewer).priorities();
        let tied = client
            .list_priorities(rd::ListPrioritiesRequest {
                linked_kind: kind.to_owned(),
                linked_id: record_id.to_owned(),
                include_retired: true,
                ..Default::default()
            })
            .await?
            .into_inner()
            .priorities;
        let live = client
            .list_priorities(rd::ListPrioritiesRequest {
                school_id: school.to_owned(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .priorities;
        Ok(Self {
            tied,
            live,
            kind,
            record_id: record_id.to_owned(),
        })
    }

    /// For item `item` (0: the whole record): the priorities it serves, as (id, title), and
    /// the live ones it could be tied to.
    pub fn split(&self, item: u32) -> (Vec<(String, String)>, Vec<Choice>) {
        let title = |p: &rd::Priority| {
            let title = p
                .details
                .as_ref()
                .map(|d| d.title.clone())
                .unwrap_or_default();
            format!("{title} ({})", p.academic_year)
        };
        let serves: Vec<&rd::Priority> = self
            .tied
            .iter()
            .filter(|p| {
                p.linked
                    .iter()
                    .any(|l| l.kind == self.kind && l.record_id == self.record_id && l.item == item)
            })
            .collect();
        let choices = self
            .live
            .iter()
            .filter(|p| !serves.iter().any(|s| s.priority_id == p.priority_id))
            .map(|p| Choice {
                value: p.priority_id.clone(),
                label: title(p),
            })
            .collect();
        let serves = serves
            .iter()
            .map(|p| (p.priority_id.clone(), title(p)))
            .collect();
        (serves, choices)
    }
}
