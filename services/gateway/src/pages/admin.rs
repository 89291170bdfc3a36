//! Administration: schools, staff (with CSV import), roles, line management, disabling
//! accounts, look-fors and evidence sources, school calendars, the monitoring plan, and
//! single sign-on. Trust administrators see all of it; a school's administrator (or head)
//! their school's staff, calendar and plan.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use waymark_domain::directory::{DirectoryCommand, Grant, Role};
use waymark_domain::ids::ActorId;
use waymark_domain::text::Text;
use waymark_domain::{CommandId, SchoolId, StaffId};
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::scheduling::v1 as sc;
use waymark_runtime::ServiceError;

use crate::directory::{self, Names, names};
use crate::error::PageError;
use crate::session::{self, Viewer};
use crate::state::AppState;
use crate::web::{Fields, Nav, academic_year, new_command_id, refusal, refused_page, see, today};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/schools", get(schools).post(add_school))
        .route("/admin/staff", get(staff).post(add_staff))
        .route("/admin/staff/import", post(import))
        .route("/admin/staff/{id}", get(person))
        .route("/admin/staff/{id}/{verb}", post(change_person))
        .route("/admin/catalogue", get(catalogue).post(change_catalogue))
        .route("/admin/calendar", get(calendar).post(set_calendar))
        .route("/admin/plan", get(plan).post(change_plan))
        .route("/admin/sso", get(sso).post(set_sso))
}

fn actor(viewer: &Viewer) -> ActorId {
    ActorId::from_uuid(viewer.staff.into_uuid())
}

fn command_of(fields: &Fields) -> CommandId {
    CommandId::from_uuid(Uuid::parse_str(&fields.command_id()).unwrap_or_else(|_| Uuid::now_v7()))
}

/// Schools this viewer administers.
fn administered(viewer: &Viewer) -> Vec<SchoolId> {
    viewer
        .directory
        .schools
        .keys()
        .copied()
        .filter(|s| viewer.administers(Some(*s)))
        .collect()
}

pub(super) fn require_trust_admin(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.is_trust_admin() {
        Ok(())
    } else {
        Err(PageError::not_found())
    }
}

fn require_admin(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.administers_any() {
        Ok(())
    } else {
        Err(PageError::not_found())
    }
}

fn require_school(viewer: &Viewer, school: &str) -> Result<SchoolId, PageError> {
    school
        .parse()
        .ok()
        .filter(|s| viewer.administers(Some(*s)))
        .ok_or_else(PageError::not_found)
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn school_choices(viewer: &Viewer, selected: Option<SchoolId>) -> Vec<Choice> {
    administered(viewer)
        .into_iter()
        .map(|s| Choice {
            value: s.to_string(),
            label: crate::web::school_name(viewer, &s.to_string()),
            selected: Some(s) == selected,
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/home.html")]
pub struct HomePage {
    nav: Nav,
    trust_admin: bool,
    trust: String,
}

pub async fn home(State(state): State<AppState>, viewer: Viewer) -> Result<HomePage, PageError> {
    require_admin(&viewer)?;
    Ok(HomePage {
        trust_admin: viewer.is_trust_admin(),
        trust: viewer
            .directory
            .name
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        nav: Nav::new(&state, &viewer, "admin").await,
    })
}

// --- Schools ----------------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "admin/schools.html")]
pub struct SchoolsPage {
    nav: Nav,
    schools: Vec<(String, String)>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

async fn schools_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    posted: Fields,
) -> Result<SchoolsPage, PageError> {
    Ok(SchoolsPage {
        nav: Nav::new(state, viewer, "admin").await,
        schools: viewer
            .directory
            .schools
            .iter()
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect(),
        command_id: new_command_id(),
        error,
        posted,
    })
}

pub async fn schools(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<SchoolsPage, PageError> {
    require_trust_admin(&viewer)?;
    schools_page(&state, &viewer, None, Fields::default()).await
}

/// Adds a school, or renames one (`school_id` given).
pub async fn add_school(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    require_trust_admin(&viewer)?;
    let name = match Text::parse(fields.get("name")) {
        Ok(name) => name,
        Err(error) => {
            return Ok(refused_page(
                schools_page(
                    &state,
                    &viewer,
                    Some(format!("School name: {error}")),
                    fields,
                )
                .await?,
            ));
        }
    };
    let command = match fields.get("school_id").parse::<SchoolId>() {
        Ok(school_id) => DirectoryCommand::RenameSchool { school_id, name },
        Err(_) => DirectoryCommand::AddSchool {
            school_id: SchoolId::from_uuid(Uuid::new_v5(
                &Uuid::parse_str(&fields.command_id()).unwrap_or_else(|_| Uuid::now_v7()),
                b"school",
            )),
            name,
        },
    };
    match directory::run(
        &state.platform,
        &state.directory,
        viewer.trust,
        actor(&viewer),
        command_of(&fields),
        command,
    )
    .await
    {
        Ok(_) => Ok(see("/admin/schools")),
        Err(error) => Ok(refused_page(
            schools_page(&state, &viewer, Some(refusal(error)?), fields).await?,
        )),
    }
}

// --- Staff ------------------------------------------------------------------------------------

pub struct StaffRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: String,
    pub manager: String,
    pub disabled: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/staff.html")]
pub struct StaffPage {
    nav: Nav,
    rows: Vec<StaffRow>,
    schools: Vec<Choice>,
    roles: Vec<Choice>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
    invitation: Option<(String, String)>,
    report: Vec<String>,
}

fn role_label(grant: &Grant, viewer: &Viewer) -> String {
    match grant.school {
        Some(school) => format!(
            "{}, {}",
            grant.role.label(),
            crate::web::school_name(viewer, &school.to_string())
        ),
        None => grant.role.label().to_owned(),
    }
}

/// The people an administrator looks after: everyone for a trust admin, else those with a
/// role in a school they administer.
fn looked_after(viewer: &Viewer, staff: StaffId) -> bool {
    viewer.is_trust_admin()
        || viewer.directory.staff.get(&staff).is_some_and(|r| {
            r.grants
                .iter()
                .any(|g| g.school.is_some_and(|s| viewer.administers(Some(s))))
        })
}

fn role_choices(viewer: &Viewer) -> Vec<Choice> {
    Role::ALL
        .into_iter()
        .filter(|r| viewer.is_trust_admin() || !r.is_trust_wide())
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            label: r.label().to_owned(),
            selected: r == Role::ClassTeacher,
        })
        .collect()
}

async fn staff_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    posted: Fields,
    invitation: Option<(String, String)>,
    report: Vec<String>,
) -> Result<StaffPage, PageError> {
    // A fresh read: this page follows changes the viewer has just made.
    let directory = directory::load(&state.platform.pool, viewer.trust).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut rows: Vec<StaffRow> = directory
        .staff
        .iter()
        .filter(|(id, _)| {
            looked_after(viewer, **id)
                || directory.staff.get(id).is_some_and(|r| r.grants.is_empty())
                    && viewer.is_trust_admin()
        })
        .map(|(id, record)| StaffRow {
            id: id.to_string(),
            name: people.of(&id.to_string()),
            email: people.email(&id.to_string()),
            roles: record
                .grants
                .iter()
                .map(|g| role_label(g, viewer))
                .collect::<Vec<_>>()
                .join("; "),
            manager: record
                .line_manager
                .map(|m| people.of(&m.to_string()))
                .unwrap_or_default(),
            disabled: record.disabled,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(StaffPage {
        nav: Nav::new(state, viewer, "admin").await,
        rows,
        schools: school_choices(viewer, None),
        roles: role_choices(viewer),
        command_id: new_command_id(),
        error,
        posted,
        invitation,
        report,
    })
}

pub async fn staff(State(state): State<AppState>, viewer: Viewer) -> Result<StaffPage, PageError> {
    require_admin(&viewer)?;
    staff_page(&state, &viewer, None, Fields::default(), None, vec![]).await
}

/// A grant the viewer may give: trust roles by trust admins, school roles in schools they
/// administer.
fn grant_from(viewer: &Viewer, role: &str, school: &str) -> Result<Grant, String> {
    let role = Role::parse(role)
        .or_else(|| {
            Role::ALL
                .into_iter()
                .find(|r| r.label().eq_ignore_ascii_case(role.trim()))
        })
        .ok_or_else(|| format!("“{role}” is not a role"))?;
    if role.is_trust_wide() {
        return if viewer.is_trust_admin() {
            Ok(Grant { school: None, role })
        } else {
            Err("Only the trust’s administrators give trust roles.".into())
        };
    }
    let school = school
        .parse::<SchoolId>()
        .ok()
        .or_else(|| {
            viewer
                .directory
                .schools
                .iter()
                .find(|(_, name)| name.as_str().eq_ignore_ascii_case(school.trim()))
                .map(|(id, _)| *id)
        })
        .ok_or_else(|| format!("“{school}” is not one of the trust’s schools"))?;
    if !viewer.administers(Some(school)) {
        return Err(format!(
            "You do not administer {}.",
            crate::web::school_name(viewer, &school.to_string())
        ));
    }
    Ok(Grant {
        school: Some(school),
        role,
    })
}

fn valid_email(email: &str) -> bool {
    let email = email.trim();
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        })
}

pub async fn add_staff(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    require_admin(&viewer)?;
    let name = fields.trimmed("name");
    let email = fields.trimmed("email").to_lowercase();
    let problem = if name.is_empty() {
        Some("Enter the person’s name.".to_owned())
    } else if !valid_email(&email) {
        Some("Enter an e-mail address like name@school.org.".to_owned())
    } else {
        None
    };
    let grant = match (
        grant_from(&viewer, fields.get("role"), fields.get("school_id")),
        problem,
    ) {
        (Ok(grant), None) => grant,
        (_, Some(problem)) | (Err(problem), None) => {
            return Ok(refused_page(
                staff_page(&state, &viewer, Some(problem), fields, None, vec![]).await?,
            ));
        }
    };
    let added = directory::add_person(
        &state.platform,
        &state.directory,
        viewer.trust,
        actor(&viewer),
        command_of(&fields),
        directory::NewPerson {
            name: &name,
            email: Some(&email),
            grants: &[grant],
        },
    )
    .await;
    match added {
        Ok(staff) => {
            let link = crate::sign_in::invite(&state.platform, viewer.trust, staff).await?;
            Ok(IntoResponse::into_response(
                staff_page(
                    &state,
                    &viewer,
                    None,
                    Fields::default(),
                    Some((name, link)),
                    vec![],
                )
                .await?,
            ))
        }
        Err(error) => Ok(refused_page(
            staff_page(&state, &viewer, Some(refusal(error)?), fields, None, vec![]).await?,
        )),
    }
}

/// One row of a staff CSV: `name,email,school,role,line_manager_email`.
struct ImportRow {
    line: usize,
    name: String,
    email: String,
    grant: Grant,
    manager: String,
}

const IMPORT_HEADINGS: [&str; 5] = ["name", "email", "school", "role", "line_manager_email"];

/// Reads and checks the whole file first: nothing is imported unless every row is right.
fn parse_import(viewer: &Viewer, bytes: &[u8]) -> Result<Vec<ImportRow>, Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headings: Vec<String> = match reader.headers() {
        Ok(headings) => headings.iter().map(|h| h.to_lowercase()).collect(),
        Err(_) => return Err(vec!["The file is not a CSV file.".into()]),
    };
    let column = |name: &str| headings.iter().position(|h| h == name);
    let missing: Vec<&str> = IMPORT_HEADINGS[..4]
        .iter()
        .copied()
        .filter(|h| column(h).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(vec![format!(
            "The first row must name the columns {}; it lacks {}.",
            IMPORT_HEADINGS.join(", "),
            missing.join(", ")
        )]);
    }
    let (mut rows, mut problems) = (Vec::new(), Vec::new());
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let Ok(record) = record else {
            problems.push(format!("Row {line}: cannot be read."));
            continue;
        };
        let cell = |name: &str| {
            column(name)
                .and_then(|i| record.get(i))
                .unwrap_or("")
                .to_owned()
        };
        let (name, email) = (cell("name"), cell("email").to_lowercase());
        if name.is_empty() {
            problems.push(format!("Row {line}: the name is missing."));
        }
        if !valid_email(&email) {
            problems.push(format!("Row {line}: “{email}” is not an e-mail address."));
        }
        match grant_from(viewer, &cell("role"), &cell("school")) {
            Ok(grant) => rows.push(ImportRow {
                line,
                name,
                email,
                grant,
                manager: cell("line_manager_email").to_lowercase(),
            }),
            Err(problem) => problems.push(format!("Row {line}: {problem}")),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push("The file has no rows of staff.".into());
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Imports staff from a CSV file: adds the people not yet known (with their role), gives
/// known people the role if they lack it, then sets line managers (by e-mail, from the file
/// or already known).
pub async fn import(
    State(state): State<AppState>,
    viewer: Viewer,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    require_admin(&viewer)?;
    let mut bytes = Vec::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            bytes = field
                .bytes()
                .await
                .map_err(|_| PageError::bad_request("The file could not be read."))?
                .to_vec();
        }
    }
    let rows = match parse_import(&viewer, &bytes) {
        Ok(rows) => rows,
        Err(problems) => {
            let page = staff_page(
                &state,
                &viewer,
                Some(
                    "Nothing was imported: put these rows right and upload the file again.".into(),
                ),
                Fields::default(),
                None,
                problems,
            )
            .await?;
            return Ok(refused_page(page));
        }
    };
    // The file's content names its commands: uploading the same file twice changes nothing.
    let file_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, &bytes);
    let step = |what: String| CommandId::from_uuid(Uuid::new_v5(&file_id, what.as_bytes()));
    let mut report = Vec::new();
    let mut by_email: HashMap<String, StaffId> = HashMap::new();
    for (id, (_, email)) in existing_emails(&state, &viewer).await? {
        by_email.insert(email, id);
    }
    for row in &rows {
        match by_email.get(&row.email).copied() {
            Some(staff) => {
                let has = state
                    .directory_of(viewer.trust)
                    .await?
                    .staff
                    .get(&staff)
                    .is_some_and(|r| r.grants.contains(&row.grant));
                if !has {
                    directory::run(
                        &state.platform,
                        &state.directory,
                        viewer.trust,
                        actor(&viewer),
                        step(format!("grant/{}", row.line)),
                        DirectoryCommand::Grant {
                            staff_id: staff,
                            grant: row.grant,
                        },
                    )
                    .await?;
                }
                report.push(format!(
                    "Row {}: {} was already here{}.",
                    row.line,
                    row.name,
                    if has { "" } else { "; role added" }
                ));
            }
            None => {
                let staff = directory::add_person(
                    &state.platform,
                    &state.directory,
                    viewer.trust,
                    actor(&viewer),
                    step(format!("add/{}", row.line)),
                    directory::NewPerson {
                        name: &row.name,
                        email: Some(&row.email),
                        grants: &[row.grant],
                    },
                )
                .await?;
                by_email.insert(row.email.clone(), staff);
                report.push(format!("Row {}: {} added.", row.line, row.name));
            }
        }
    }
    for row in rows.iter().filter(|r| !r.manager.is_empty()) {
        let (Some(staff), Some(manager)) = (
            by_email.get(&row.email).copied(),
            by_email.get(&row.manager).copied(),
        ) else {
            report.push(format!(
                "Row {}: line manager {} is not known; set it on the person’s page.",
                row.line, row.manager
            ));
            continue;
        };
        let set = directory::run(
            &state.platform,
            &state.directory,
            viewer.trust,
            actor(&viewer),
            step(format!("manager/{}", row.line)),
            DirectoryCommand::SetLineManager {
                staff_id: staff,
                manager: Some(manager),
            },
        )
        .await;
        if let Err(error) = set {
            report.push(format!(
                "Row {}: line manager not set: {}",
                row.line, error.message
            ));
        }
    }
    Ok(IntoResponse::into_response(
        staff_page(&state, &viewer, None, Fields::default(), None, report).await?,
    ))
}

async fn existing_emails(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<(StaffId, (String, String))>, PageError> {
    let rows = sqlx::query!("SELECT staff_id, display_name, email FROM gateway.people WHERE trust_id = $1 AND email IS NOT NULL", viewer.trust.into_uuid())
        .fetch_all(&state.platform.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                StaffId::from_uuid(r.staff_id),
                (r.display_name, r.email.unwrap_or_default().to_lowercase()),
            )
        })
        .collect())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/person.html")]
pub struct PersonPage {
    nav: Nav,
    id: String,
    name: String,
    email: String,
    grants: Vec<(String, String, String)>,
    managers: Vec<Choice>,
    schools: Vec<Choice>,
    roles: Vec<Choice>,
    disabled: bool,
    invitation: Option<String>,
    command_id: String,
    error: Option<String>,
}

async fn person_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    invitation: Option<String>,
) -> Result<PersonPage, PageError> {
    let staff: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    let directory = state.directory_of(viewer.trust).await?;
    if !looked_after(viewer, staff) {
        return Err(PageError::not_found());
    }
    let record = directory
        .staff
        .get(&staff)
        .cloned()
        .ok_or_else(PageError::not_found)?;
    let people: Names = names(&state.platform.pool, viewer.trust).await?;
    let mut managers: Vec<Choice> = directory
        .staff
        .iter()
        .filter(|(other, r)| **other != staff && !r.disabled)
        .map(|(other, _)| Choice {
            value: other.to_string(),
            label: people.of(&other.to_string()),
            selected: record.line_manager == Some(*other),
        })
        .collect();
    managers.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(PersonPage {
        nav: Nav::new(state, viewer, "admin").await,
        id: id.to_owned(),
        name: people.of(id),
        email: people.email(id),
        grants: record
            .grants
            .iter()
            .map(|g| {
                (
                    role_label(g, viewer),
                    g.role.as_str().to_owned(),
                    g.school.map(|s| s.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        managers,
        schools: school_choices(viewer, None),
        roles: role_choices(viewer),
        disabled: record.disabled,
        invitation,
        command_id: new_command_id(),
        error,
    })
}

pub async fn person(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<PersonPage, PageError> {
    require_admin(&viewer)?;
    person_page(&state, &viewer, &id, None, None).await
}

pub async fn change_person(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    require_admin(&viewer)?;
    let staff: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    if !looked_after(&viewer, staff) {
        return Err(PageError::not_found());
    }
    let command = match verb.as_str() {
        "grant" | "revoke" => {
            match grant_from(&viewer, fields.get("role"), fields.get("school_id")) {
                Ok(grant) if verb == "grant" => DirectoryCommand::Grant {
                    staff_id: staff,
                    grant,
                },
                Ok(grant) => DirectoryCommand::Revoke {
                    staff_id: staff,
                    grant,
                },
                Err(problem) => {
                    return Ok(refused_page(
                        person_page(&state, &viewer, &id, Some(problem), None).await?,
                    ));
                }
            }
        }
        "line-manager" => DirectoryCommand::SetLineManager {
            staff_id: staff,
            manager: fields.get("manager_id").parse().ok(),
        },
        "disable" => DirectoryCommand::Disable { staff_id: staff },
        "enable" => DirectoryCommand::Enable { staff_id: staff },
        "invite" => {
            let link = crate::sign_in::invite(&state.platform, viewer.trust, staff).await?;
            return Ok(IntoResponse::into_response(
                person_page(&state, &viewer, &id, None, Some(link)).await?,
            ));
        }
        _ => return Err(PageError::not_found()),
    };
    let disabling = matches!(command, DirectoryCommand::Disable { .. });
    match directory::run(
        &state.platform,
        &state.directory,
        viewer.trust,
        actor(&viewer),
        command_of(&fields),
        command,
    )
    .await
    {
        Ok(_) => {
            if disabling {
                // Signed out everywhere, at once.
                session::end_all(&state.platform.pool, viewer.trust, staff).await?;
            }
            Ok(see(format!("/admin/staff/{id}")))
        }
        Err(error) => Ok(refused_page(
            person_page(&state, &viewer, &id, Some(refusal(error)?), None).await?,
        )),
    }
}

// --- Look-fors and evidence sources ------------------------------------------------------------

pub struct CatalogueGroup {
    pub heading: &'static str,
    pub kind: &'static str,
    pub items: Vec<rd::CatalogueItem>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalogue.html")]
pub struct CataloguePage {
    nav: Nav,
    groups: Vec<CatalogueGroup>,
    command_id: String,
    error: Option<String>,
}

async fn catalogue_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
) -> Result<CataloguePage, PageError> {
    let catalogue = state
        .clients(viewer)
        .reviews()
        .get_catalogue(rd::GetCatalogueRequest {})
        .await?
        .into_inner();
    let (look_fors, sources) = catalogue
        .items
        .into_iter()
        .partition(|i| i.kind == "look_for");
    let groups = vec![
        CatalogueGroup {
            heading: "Look-fors",
            kind: "look_for",
            items: look_fors,
        },
        CatalogueGroup {
            heading: "Evidence sources",
            kind: "source",
            items: sources,
        },
    ];
    Ok(CataloguePage {
        nav: Nav::new(state, viewer, "admin").await,
        groups,
        command_id: new_command_id(),
        error,
    })
}

pub async fn catalogue(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<CataloguePage, PageError> {
    require_trust_admin(&viewer)?;
    catalogue_page(&state, &viewer, None).await
}

pub async fn change_catalogue(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    require_trust_admin(&viewer)?;
    let mut client = state.clients(&viewer).reviews();
    let command_id = fields.command_id();
    let id = fields.trimmed("id");
    let result = match fields.get("change") {
        "add" => {
            client
                .add_catalogue_item(rd::AddCatalogueItemRequest {
                    command_id,
                    kind: fields.trimmed("kind"),
                    label: fields.trimmed("label"),
                })
                .await
        }
        "rename" => {
            client
                .rename_catalogue_item(rd::RenameCatalogueItemRequest {
                    command_id,
                    id,
                    label: fields.trimmed("label"),
                })
                .await
        }
        "retire" => {
            client
                .retire_catalogue_item(rd::CatalogueItemRequest { command_id, id })
                .await
        }
        "restore" => {
            client
                .restore_catalogue_item(rd::CatalogueItemRequest { command_id, id })
                .await
        }
        _ => return Err(PageError::bad_request("Unknown change.")),
    };
    match result {
        Ok(_) => Ok(see("/admin/catalogue")),
        Err(status) => Ok(refused_page(
            catalogue_page(&state, &viewer, Some(refusal(status)?)).await?,
        )),
    }
}

// --- School calendars -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct SchoolQuery {
    #[serde(default)]
    school: String,
    #[serde(default)]
    year: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/calendar.html")]
pub struct CalendarPage {
    nav: Nav,
    schools: Vec<Choice>,
    school: String,
    year: String,
    calendar: sc::YearCalendar,
    command_id: String,
    error: Option<String>,
}

/// The school and year a page is about: as asked, else the first school administered and
/// this academic year.
fn chosen(
    state: &AppState,
    viewer: &Viewer,
    query: &SchoolQuery,
) -> Result<(SchoolId, String), PageError> {
    let school = if query.school.is_empty() {
        administered(viewer)
            .first()
            .copied()
            .ok_or_else(PageError::not_found)?
    } else {
        require_school(viewer, &query.school)?
    };
    let year = if query.year.is_empty() {
        academic_year(today(state))
    } else {
        query.year.clone()
    };
    Ok((school, year))
}

async fn calendar_page(
    state: &AppState,
    viewer: &Viewer,
    school: SchoolId,
    year: String,
    error: Option<String>,
    posted: Option<sc::YearCalendar>,
) -> Result<CalendarPage, PageError> {
    let calendar = state
        .clients(viewer)
        .scheduling()
        .get_calendar(sc::GetCalendarRequest {
            school_id: school.to_string(),
        })
        .await?
        .into_inner();
    let mut current = posted
        .or_else(|| calendar.years.into_iter().find(|y| y.academic_year == year))
        .unwrap_or_default();
    current.academic_year = year.clone();
    // Room to add: three terms, six holidays, five in-service days, three assessment points.
    current
        .terms
        .resize(current.terms.len().max(3), sc::Term::default());
    current
        .holidays
        .resize(current.holidays.len().max(6), sc::Holiday::default());
    current
        .inset_days
        .resize(current.inset_days.len().max(5), String::new());
    current.assessment_points.resize(
        current.assessment_points.len().max(3),
        sc::AssessmentPoint::default(),
    );
    Ok(CalendarPage {
        nav: Nav::new(state, viewer, "admin").await,
        schools: school_choices(viewer, Some(school)),
        school: school.to_string(),
        year,
        calendar: current,
        command_id: new_command_id(),
        error,
    })
}

pub async fn calendar(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<SchoolQuery>,
) -> Result<CalendarPage, PageError> {
    let (school, year) = chosen(&state, &viewer, &query)?;
    calendar_page(&state, &viewer, school, year, None, None).await
}

pub async fn set_calendar(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let school = require_school(&viewer, fields.get("school"))?;
    let year = fields.trimmed("academic_year");
    let rows = |prefix: &str, n: usize| -> Vec<(String, String, String)> {
        (0..n)
            .map(|i| {
                (
                    fields.trimmed(&format!("{prefix}.{i}.name")),
                    fields.trimmed(&format!("{prefix}.{i}.starts")),
                    fields.trimmed(&format!("{prefix}.{i}.ends")),
                )
            })
            .filter(|(name, starts, ends)| {
                !(name.is_empty() && starts.is_empty() && ends.is_empty())
            })
            .collect()
    };
    let calendar = sc::YearCalendar {
        academic_year: year.clone(),
        terms: rows("term", 6)
            .into_iter()
            .map(|(name, starts, ends)| sc::Term { name, starts, ends })
            .collect(),
        holidays: rows("holiday", 12)
            .into_iter()
            .map(|(name, starts, ends)| sc::Holiday { name, starts, ends })
            .collect(),
        inset_days: (0..10)
            .map(|i| fields.trimmed(&format!("inset.{i}")))
            .filter(|d| !d.is_empty())
            .collect(),
        assessment_points: (0..6)
            .map(|i| sc::AssessmentPoint {
                name: fields.trimmed(&format!("point.{i}.name")),
                date: fields.trimmed(&format!("point.{i}.date")),
            })
            .filter(|p| !(p.name.is_empty() && p.date.is_empty()))
            .collect(),
    };
    let request = sc::SetYearCalendarRequest {
        command_id: fields.command_id(),
        school_id: school.to_string(),
        calendar: Some(calendar.clone()),
    };
    match state
        .clients(&viewer)
        .scheduling()
        .set_year_calendar(request)
        .await
    {
        Ok(_) => Ok(see(format!("/admin/calendar?school={school}&year={year}"))),
        Err(status) => Ok(refused_page(
            calendar_page(
                &state,
                &viewer,
                school,
                year,
                Some(refusal(status)?),
                Some(calendar),
            )
            .await?,
        )),
    }
}

// --- The monitoring plan ----------------------------------------------------------------------

pub struct ActivityRow {
    pub key: String,
    pub name: String,
    pub when: String,
    pub owner: String,
}

pub struct TeamRow {
    pub id: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/plan.html")]
pub struct PlanPage {
    nav: Nav,
    schools: Vec<Choice>,
    school: String,
    year: String,
    adopted: bool,
    activities: Vec<ActivityRow>,
    staff: Vec<TeamRow>,
    command_id: String,
    error: Option<String>,
    done: bool,
}

fn months(months: &[u32], after_assessments: bool) -> String {
    if after_assessments {
        return "After each assessment point".into();
    }
    let names: Vec<String> = months
        .iter()
        .filter_map(|m| chrono::Month::try_from(u8::try_from(*m).ok()?).ok())
        .map(|m| m.name()[..3].to_owned())
        .collect();
    names.join(", ")
}

async fn plan_page(
    state: &AppState,
    viewer: &Viewer,
    school: SchoolId,
    year: String,
    error: Option<String>,
    done: bool,
) -> Result<PlanPage, PageError> {
    let plan = state
        .clients(viewer)
        .scheduling()
        .get_plan(sc::GetPlanRequest {
            school_id: school.to_string(),
            academic_year: year.clone(),
        })
        .await?
        .into_inner();
    let people = names(&state.platform.pool, viewer.trust).await?;
    let staff = crate::pages::people::staff_of(viewer, &people, school)
        .into_iter()
        .map(|p| TeamRow {
            id: p.id,
            name: p.name,
        })
        .collect();
    Ok(PlanPage {
        nav: Nav::new(state, viewer, "admin").await,
        schools: school_choices(viewer, Some(school)),
        school: school.to_string(),
        year,
        adopted: plan.adopted,
        activities: plan
            .activities
            .iter()
            .map(|a| ActivityRow {
                key: a.key.clone(),
                name: a.name.clone(),
                when: months(&a.months, a.after_assessments),
                owner: people.of(if a.owner_id.is_empty() {
                    &plan.default_owner_id
                } else {
                    &a.owner_id
                }),
            })
            .collect(),
        staff,
        command_id: new_command_id(),
        error,
        done,
    })
}

pub async fn plan(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<SchoolQuery>,
) -> Result<PlanPage, PageError> {
    let (school, year) = chosen(&state, &viewer, &query)?;
    plan_page(&state, &viewer, school, year, None, false).await
}

/// Adopts the plan, removes an activity, or generates the year's occurrences from the plan,
/// the calendar and the teams entered (year group and class per teacher).
pub async fn change_plan(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let school = require_school(&viewer, fields.get("school"))?;
    let year = fields.trimmed("academic_year");
    let mut client = state.clients(&viewer).scheduling();
    let command_id = fields.command_id();
    let result =
        match fields.get("change") {
            "adopt" => {
                client
                    .adopt_plan(sc::AdoptPlanRequest {
                        command_id,
                        school_id: school.to_string(),
                        academic_year: year.clone(),
                        default_owner_id: viewer.staff.to_string(),
                    })
                    .await
            }
            "remove" => {
                client
                    .remove_plan_activity(sc::RemovePlanActivityRequest {
                        command_id,
                        school_id: school.to_string(),
                        academic_year: year.clone(),
                        key: fields.trimmed("key"),
                    })
                    .await
            }
            "generate" => {
                let mut year_groups: Vec<sc::YearGroupTeam> = Vec::new();
                let mut classes = Vec::new();
                for (staff, record) in viewer.directory.staff.iter().filter(|(_, r)| {
                    r.grants.iter().any(|g| g.school == Some(school)) && !r.disabled
                }) {
                    let group = fields.trimmed(&format!("year_group.{staff}"));
                    let class = fields.trimmed(&format!("class.{staff}"));
                    let manager = record
                        .line_manager
                        .map(|m| m.to_string())
                        .unwrap_or_default();
                    if !group.is_empty() {
                        let member = sc::TeamMember {
                            teacher_id: staff.to_string(),
                            line_manager_id: manager.clone(),
                        };
                        match year_groups.iter_mut().find(|t| t.year_group == group) {
                            Some(team) => team.members.push(member),
                            None => year_groups.push(sc::YearGroupTeam {
                                year_group: group,
                                members: vec![member],
                            }),
                        }
                    }
                    if !class.is_empty() {
                        let leaders = if manager.is_empty() {
                            vec![]
                        } else {
                            vec![manager]
                        };
                        classes.push(sc::ClassTeam {
                            class_group: class,
                            teacher_id: staff.to_string(),
                            leader_ids: leaders,
                        });
                    }
                }
                client
                    .generate_year(sc::GenerateYearRequest {
                        command_id,
                        school_id: school.to_string(),
                        academic_year: year.clone(),
                        year_groups,
                        classes,
                    })
                    .await
            }
            _ => return Err(PageError::bad_request("Unknown change.")),
        };
    match result {
        Ok(_) if fields.get("change") == "generate" => Ok(IntoResponse::into_response(
            plan_page(&state, &viewer, school, year, None, true).await?,
        )),
        Ok(_) => Ok(see(format!("/admin/plan?school={school}&year={year}"))),
        Err(status) => Ok(refused_page(
            plan_page(&state, &viewer, school, year, Some(refusal(status)?), false).await?,
        )),
    }
}

// --- Single sign-on ---------------------------------------------------------------------------

pub struct ProviderRow {
    pub provider: String,
    pub issuer: String,
    pub client_id: String,
    pub hosted_domain: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/sso.html")]
pub struct SsoPage {
    nav: Nav,
    providers: Vec<ProviderRow>,
    error: Option<String>,
}

async fn sso_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
) -> Result<SsoPage, PageError> {
    let rows = sqlx::query!("SELECT provider, issuer, client_id, hosted_domain FROM gateway.sso_providers WHERE trust_id = $1 ORDER BY provider", viewer.trust.into_uuid())
        .fetch_all(&state.platform.pool)
        .await?;
    Ok(SsoPage {
        nav: Nav::new(state, viewer, "admin").await,
        providers: rows
            .into_iter()
            .map(|r| ProviderRow {
                provider: r.provider,
                issuer: r.issuer,
                client_id: r.client_id,
                hosted_domain: r.hosted_domain.unwrap_or_default(),
            })
            .collect(),
        error,
    })
}

pub async fn sso(State(state): State<AppState>, viewer: Viewer) -> Result<SsoPage, PageError> {
    require_trust_admin(&viewer)?;
    sso_page(&state, &viewer, None).await
}

/// Sets a provider; the client secret is kept only if a new one is typed (it is never shown).
pub async fn set_sso(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    require_trust_admin(&viewer)?;
    let provider = fields.trimmed("provider");
    let issuer = fields.trimmed("issuer");
    let client_id = fields.trimmed("client_id");
    let secret = fields.get("client_secret").to_owned();
    let domain = Some(fields.trimmed("hosted_domain")).filter(|d| !d.is_empty());
    let problem = if provider != "microsoft" && provider != "google" {
        Some("Choose Microsoft or Google.")
    } else if !(issuer.starts_with("https://")
        || issuer.starts_with("http://127.0.0.1")
        || issuer.starts_with("http://localhost"))
    {
        Some("The issuer must be an https:// address.")
    } else if client_id.is_empty() {
        Some("Enter the client id.")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Ok(refused_page(
            sso_page(&state, &viewer, Some(problem.to_owned())).await?,
        ));
    }
    let updated = sqlx::query!(
        "INSERT INTO gateway.sso_providers (trust_id, provider, issuer, client_id, client_secret, hosted_domain) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (trust_id, provider) DO UPDATE SET issuer = $3, client_id = $4, hosted_domain = $6, \
           client_secret = CASE WHEN $5 = '' THEN gateway.sso_providers.client_secret ELSE $5 END",
        viewer.trust.into_uuid(),
        provider,
        issuer,
        client_id,
        secret,
        domain
    )
    .execute(&state.platform.pool)
    .await;
    match updated {
        Ok(_) => Ok(see("/admin/sso")),
        Err(error) => Err(ServiceError::from(error).into()),
    }
}
