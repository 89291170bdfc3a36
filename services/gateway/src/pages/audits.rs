//! Self-evaluation audits: a task list of the framework's statements, each rated red, amber
//! or green (always with the word), with notes and evidence; strengths and weaknesses (a
//! weakness can become an agreed action). A school's trend and the trust's heat-map are in
//! `audit_trends`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use waymark_domain::SchoolId;
use waymark_policy::{SchoolVerb, TrustVerb};
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::names;
use crate::error::PageError;
use crate::pages::evidence;
use crate::pages::files::{Files, Kind as FileKind};
use crate::pages::finding::{Form, Search, answered, list_page};
use crate::pages::people::{Person, SchoolStaff, led_schools, staff_of};
use crate::pages::priorities::Serving;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::Choice;
use crate::web::{
    Fields, Nav, Tag, long_date, new_command_id, refusal, refused_page, see, tag, today,
};

/// A rating shown as a tag: the trust's word for it (default "Red", "Amber", "Green") and
/// its colour; the word is always there, colour is never alone.
pub struct Rag {
    pub label: String,
    pub class: &'static str,
}

pub fn rag(rating: &str, labels: Option<&rd::RagLabels>) -> Rag {
    let named = |custom: Option<&String>, default: &str| {
        custom
            .filter(|c| !c.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    match rating {
        "red" => Rag {
            label: named(labels.map(|l| &l.red), "Red"),
            class: "tag--red rag",
        },
        "amber" => Rag {
            label: named(labels.map(|l| &l.amber), "Amber"),
            class: "tag--amber rag",
        },
        "green" => Rag {
            label: named(labels.map(|l| &l.green), "Green"),
            class: "tag--green rag",
        },
        _ => Rag {
            label: "Not rated".to_owned(),
            class: "tag--grey rag",
        },
    }
}

/// The audit, as review dialogue lets the viewer have it (not found if they may not read it).
async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<rd::AuditRecord, PageError> {
    Ok(state
        .clients(viewer)
        .audits()
        .get_audit(rd::GetAuditRequest {
            audit_id: id.to_owned(),
        })
        .await?
        .into_inner())
}

pub struct Row {
    pub id: String,
    pub title: String,
    pub school: String,
    pub started: String,
    pub tag: Tag,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audits.html")]
pub struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    trends: Vec<Choice>,
    heat_map: bool,
    search: Search,
    form: Form,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// The audits list's search form.
const FORM: Form = Form {
    action: "/audits",
    what: "audits",
    statuses: &[("in_progress", "In progress"), ("finalised", "Finalised")],
    csv: Some("/audits.csv"),
    group: None,
    dates: false,
};

/// `GET /audits`: the latest started first, narrowed by the search form.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let (found, error) = answered(
        state
            .clients(&viewer)
            .audits()
            .list_audits(search.audits())
            .await,
    )?;
    let rows = found
        .audits
        .into_iter()
        .map(|a| Row {
            tag: tag(if a.status == "finalised" {
                "finalised"
            } else {
                "in_progress"
            }),
            title: if a.department.is_empty() {
                a.title.clone()
            } else {
                format!("{} ({})", a.title, a.department)
            },
            school: crate::web::school_name(&viewer, &a.school_id),
            started: long_date(&a.started_on),
            id: a.audit_id,
        })
        .collect();
    let trends = viewer
        .schools_for(SchoolVerb::SeeTrends)
        .into_iter()
        .map(|s| Choice {
            value: s.to_string(),
            label: crate::web::school_name(&viewer, &s.to_string()),
        })
        .collect();
    let (previous, next) = search.around(FORM.action, found.more);
    let refused = error.is_some();
    let page = ListPage {
        nav: Nav::new(&state, &viewer, "audits").await,
        rows,
        trends,
        heat_map: viewer.may_on_trust(TrustVerb::SeeOverview),
        search,
        form: FORM,
        previous,
        next,
        error,
    };
    Ok(list_page(page, refused))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit_new.html")]
pub struct NewPage {
    nav: Nav,
    schools: Vec<SchoolStaff>,
    frameworks: Vec<Choice>,
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
    let frameworks = state
        .clients(viewer)
        .audits()
        .list_frameworks(rd::ListFrameworksRequest {})
        .await?
        .into_inner()
        .frameworks;
    let schools = led_schools(viewer, &people);
    Ok(NewPage {
        nav: Nav::new(state, viewer, "audits").await,
        schools,
        frameworks: frameworks
            .into_iter()
            .map(|f| Choice {
                label: f.content.map(|c| c.name).unwrap_or_default(),
                value: f.framework_id,
            })
            .collect(),
        command_id: posted.command_id(),
        error,
        posted,
    })
}

pub async fn new(State(state): State<AppState>, viewer: Viewer) -> Result<NewPage, PageError> {
    new_page(&state, &viewer, None, Fields::default()).await
}

/// A leader starts an audit of a school they lead, as its lead, with the people chosen.
pub async fn start(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let school: Option<SchoolId> = fields
        .get("school_id")
        .parse()
        .ok()
        .filter(|s| viewer.may_on_school(SchoolVerb::StartAudit, *s));
    let Some(school) = school else {
        return Ok(refused_page(
            new_page(
                &state,
                &viewer,
                Some("Choose a school you lead.".into()),
                fields,
            )
            .await?,
        ));
    };
    let participants: Vec<String> = fields
        .all("participant_ids")
        .into_iter()
        .filter(|p| {
            p.parse()
                .ok()
                .and_then(|id| viewer.directory.staff.get(&id))
                .is_some_and(|r| r.grants.iter().any(|g| g.school == Some(school)))
        })
        .collect();
    let request = rd::StartAuditRequest {
        command_id: fields.command_id(),
        school_id: school.to_string(),
        department: fields.trimmed("department"),
        title: fields.trimmed("title"),
        framework_id: fields.trimmed("framework_id"),
        lead_id: viewer.staff.to_string(),
        participant_ids: participants,
        started_on: today(&state).to_string(),
    };
    match state.clients(&viewer).audits().start_audit(request).await {
        Ok(reply) => Ok(see(format!("/audits/{}", reply.into_inner().id))),
        Err(status) => Ok(refused_page(
            new_page(&state, &viewer, Some(refusal(status)?), fields).await?,
        )),
    }
}

pub struct Task {
    pub id: String,
    pub text: String,
    pub tag: Rag,
    pub rated: bool,
    pub mine: bool,
}

pub struct Section {
    pub title: String,
    pub tasks: Vec<Task>,
}

pub struct WeaknessRow {
    pub number: u32,
    pub text: String,
    pub action: String,
    /// The priorities it serves, as (id, title), and those it could be tied to.
    pub serves: Vec<(String, String)>,
    pub choices: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit.html")]
pub struct DetailPage {
    pub(super) nav: Nav,
    pub(super) audit: rd::AuditRecord,
    pub(super) school: String,
    pub(super) lead: String,
    pub(super) participants: String,
    pub(super) sections: Vec<Section>,
    pub(super) rated: usize,
    pub(super) total: usize,
    pub(super) strengths: Vec<String>,
    pub(super) weaknesses: Vec<WeaknessRow>,
    pub(super) statements: Vec<Choice>,
    pub(super) owners: Vec<Person>,
    pub(super) is_lead: bool,
    pub(super) is_participant: bool,
    pub(super) finalised: bool,
    pub(super) trend_href: String,
    pub(super) files: Files,
    pub(super) command_id: String,
    pub(super) error: Option<String>,
    pub(super) posted: Fields,
}

pub(super) async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<DetailPage, PageError> {
    let audit = load(state, viewer, id).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let me = viewer.staff.to_string();
    let framework = audit.framework.clone().unwrap_or_default();
    let labels = framework.labels.as_ref();
    let sections: Vec<Section> = framework
        .sections
        .iter()
        .map(|section| Section {
            title: section.title.clone(),
            tasks: section
                .statements
                .iter()
                .map(|statement| {
                    let result = audit
                        .statements
                        .iter()
                        .find(|s| s.statement_id == statement.id);
                    let combined = result.map(|r| r.combined.as_str()).unwrap_or_default();
                    Task {
                        id: statement.id.clone(),
                        text: statement.text.clone(),
                        rated: !combined.is_empty(),
                        tag: rag(combined, labels),
                        mine: result.is_some_and(|r| r.ratings.iter().any(|p| p.by == me)),
                    }
                })
                .collect(),
        })
        .collect();
    let total = sections.iter().map(|s| s.tasks.len()).sum();
    let rated = sections
        .iter()
        .flat_map(|s| &s.tasks)
        .filter(|t| t.rated)
        .count();
    let school: SchoolId = audit
        .school_id
        .parse()
        .map_err(|_| PageError::not_found())?;
    let priorities = Serving::of(state, viewer, "weakness", id, &audit.school_id).await?;
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "audits").await,
        school: crate::web::school_name(viewer, &audit.school_id),
        lead: people.of(&audit.lead_id),
        participants: audit
            .participant_ids
            .iter()
            .map(|p| people.of(p))
            .collect::<Vec<_>>()
            .join(", "),
        rated,
        total,
        strengths: audit.strengths.iter().map(|s| s.text.clone()).collect(),
        weaknesses: audit
            .weaknesses
            .iter()
            .map(|w| {
                let (serves, choices) = priorities.split(w.id);
                WeaknessRow {
                    number: w.id,
                    text: w.text.clone(),
                    action: w
                        .action
                        .as_ref()
                        .map(|a| {
                            format!(
                                "{} — {}, by {}",
                                a.description,
                                people.of(&a.owner_id),
                                long_date(&a.due_date)
                            )
                        })
                        .unwrap_or_default(),
                    serves,
                    choices,
                }
            })
            .collect(),
        statements: sections
            .iter()
            .flat_map(|s| &s.tasks)
            .map(|t| Choice {
                value: t.id.clone(),
                label: t.text.clone(),
            })
            .collect(),
        sections,
        owners: staff_of(viewer, &people, school),
        is_lead: audit.lead_id == me,
        is_participant: audit.lead_id == me || audit.participant_ids.contains(&me),
        // The lead and participants attach files while it is open (review dialogue decides).
        files: Files::new(
            state,
            viewer,
            FileKind::Audit,
            id,
            &audit.attachments,
            &people,
            (audit.lead_id == me || audit.participant_ids.contains(&me))
                && audit.status != "finalised",
        ),
        finalised: audit.status == "finalised",
        trend_href: format!(
            "/audits/trend?school={}&framework={}",
            audit.school_id, audit.framework_id
        ),
        audit,
        command_id: new_command_id(),
        error,
        posted,
    })
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, Fields::default()).await
}

/// The audit's page with `error` on it (a refused upload).
pub async fn page_with_error(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: String,
) -> Result<DetailPage, PageError> {
    show(state, viewer, id, Some(error), Fields::default()).await
}

pub struct OtherRating {
    pub who: String,
    pub tag: Rag,
    pub note: String,
    pub evidence: Vec<Shown>,
}

/// A piece of evidence as a rating shows it: a link to a record, or words.
pub struct Shown {
    pub label: String,
    pub href: Option<String>,
}

/// A school record offered as evidence, ticked if this rating already links it.
pub struct Offered {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

fn shown(links: &[rd::EvidenceLink], records: &[evidence::Record]) -> Vec<Shown> {
    links
        .iter()
        .map(|link| match evidence::href(&link.kind, &link.r#ref) {
            Some(href) => {
                let value = format!("{}:{}", link.kind, link.r#ref);
                Shown {
                    label: records.iter().find(|r| r.value == value).map_or_else(
                        || evidence::generic_label(&link.kind).to_owned(),
                        |r| r.label.clone(),
                    ),
                    href: Some(href),
                }
            }
            None => Shown {
                label: link.r#ref.clone(),
                href: None,
            },
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit_statement.html")]
pub struct StatementPage {
    nav: Nav,
    audit_id: String,
    audit_title: String,
    statement_id: String,
    text: String,
    rubric: Vec<rd::RubricLevel>,
    labels: rd::RagLabels,
    ratings: Vec<OtherRating>,
    mine: String,
    note: String,
    source: String,
    records: Vec<Offered>,
    can_rate: bool,
    command_id: String,
    error: Option<String>,
}

async fn statement_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    statement: &str,
    error: Option<String>,
    posted: Option<Fields>,
) -> Result<StatementPage, PageError> {
    let audit = load(state, viewer, id).await?;
    let framework = audit.framework.clone().unwrap_or_default();
    let text = framework
        .sections
        .iter()
        .flat_map(|s| &s.statements)
        .find(|s| s.id == statement)
        .map(|s| s.text.clone())
        .ok_or_else(PageError::not_found)?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let me = viewer.staff.to_string();
    let result = audit
        .statements
        .iter()
        .find(|s| s.statement_id == statement);
    let labels = framework.labels.clone().unwrap_or_else(|| rd::RagLabels {
        red: "Red".into(),
        amber: "Amber".into(),
        green: "Green".into(),
    });
    let my = result.and_then(|r| r.ratings.iter().find(|p| p.by == me));
    let can_rate =
        audit.status != "finalised" && (audit.lead_id == me || audit.participant_ids.contains(&me));
    let records = evidence::records_of(state, viewer, &audit.school_id).await?;
    let (mine, note, source, linked) = match &posted {
        Some(fields) => (
            fields.trimmed("rating"),
            fields.get("note").to_owned(),
            fields.get("source").to_owned(),
            fields.all("record"),
        ),
        None => (
            my.map(|p| p.rating.clone()).unwrap_or_default(),
            my.map(|p| p.note.clone()).unwrap_or_default(),
            my.and_then(|p| {
                p.evidence
                    .iter()
                    .find(|e| e.kind == "source")
                    .map(|e| e.r#ref.clone())
            })
            .unwrap_or_default(),
            my.map(|p| {
                p.evidence
                    .iter()
                    .map(|e| format!("{}:{}", e.kind, e.r#ref))
                    .collect()
            })
            .unwrap_or_default(),
        ),
    };
    Ok(StatementPage {
        nav: Nav::new(state, viewer, "audits").await,
        audit_id: audit.audit_id.clone(),
        audit_title: audit.title.clone(),
        statement_id: statement.to_owned(),
        text,
        rubric: framework.rubric.clone(),
        // While rating, the others' ratings; otherwise everyone's.
        ratings: result
            .map(|r| {
                r.ratings
                    .iter()
                    .filter(|p| !can_rate || p.by != me)
                    .map(|p| OtherRating {
                        who: people.of(&p.by),
                        tag: rag(&p.rating, Some(&labels)),
                        note: p.note.clone(),
                        evidence: shown(&p.evidence, &records),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        labels,
        mine,
        note,
        source,
        records: records
            .iter()
            .map(|r| Offered {
                value: r.value.clone(),
                label: r.label.clone(),
                checked: linked.contains(&r.value),
            })
            .collect(),
        can_rate,
        command_id: new_command_id(),
        error,
    })
}

pub async fn statement(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, statement)): Path<(String, String)>,
) -> Result<StatementPage, PageError> {
    statement_page(&state, &viewer, &id, &statement, None, None).await
}

pub async fn rate(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, statement)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    let audit = load(&state, &viewer, &id).await?;
    let source = fields.trimmed("source");
    let mut evidence = if source.is_empty() {
        vec![]
    } else {
        vec![rd::EvidenceLink {
            kind: "source".into(),
            r#ref: source,
        }]
    };
    // Only the school's records this person was offered may be linked.
    let offered = evidence::records_of(&state, &viewer, &audit.school_id).await?;
    for value in fields.all("record") {
        match (
            offered.iter().any(|r| r.value == value),
            value.split_once(':'),
        ) {
            (true, Some((kind, id))) => evidence.push(rd::EvidenceLink {
                kind: kind.to_owned(),
                r#ref: id.to_owned(),
            }),
            _ => {
                let page = statement_page(
                    &state,
                    &viewer,
                    &id,
                    &statement,
                    Some("Choose evidence from this school’s records listed.".into()),
                    Some(fields),
                )
                .await?;
                return Ok(refused_page(page));
            }
        }
    }
    let request = rd::RateStatementRequest {
        command_id: fields.command_id(),
        audit_id: id.clone(),
        statement_id: statement.clone(),
        rating: fields.trimmed("rating"),
        note: fields.trimmed("note"),
        evidence,
    };
    match state
        .clients(&viewer)
        .audits()
        .rate_statement(request)
        .await
    {
        Ok(_) => Ok(see(format!("/audits/{id}"))),
        Err(status) => Ok(refused_page(
            statement_page(
                &state,
                &viewer,
                &id,
                &statement,
                Some(refusal(status)?),
                Some(fields),
            )
            .await?,
        )),
    }
}

pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    load(&state, &viewer, &id).await?;
    let mut client = state.clients(&viewer).audits();
    let command_id = fields.command_id();
    let result = match verb.as_str() {
        "strength" => {
            client
                .add_strength(rd::AddStrengthRequest {
                    command_id,
                    audit_id: id.clone(),
                    text: fields.trimmed("text"),
                    statement_id: fields.trimmed("statement_id"),
                })
                .await
        }
        "weakness" => {
            let description = fields.trimmed("action_description");
            let action = (!description.is_empty()).then(|| rd::NextStepMessage {
                description,
                owner_id: fields.trimmed("action_owner"),
                due_date: fields.trimmed("action_due"),
                success_criteria: fields.trimmed("action_criteria"),
            });
            client
                .add_weakness(rd::AddWeaknessRequest {
                    command_id,
                    audit_id: id.clone(),
                    text: fields.trimmed("text"),
                    statement_id: fields.trimmed("statement_id"),
                    action,
                })
                .await
        }
        "finalise" => {
            client
                .finalise_audit(rd::FinaliseAuditRequest {
                    command_id,
                    audit_id: id.clone(),
                    on: today(&state).to_string(),
                })
                .await
        }
        _ => return Err(PageError::not_found()),
    };
    match result {
        Ok(_) => Ok(see(format!("/audits/{id}"))),
        Err(status) => Ok(refused_page(
            show(&state, &viewer, &id, Some(refusal(status)?), fields).await?,
        )),
    }
}
