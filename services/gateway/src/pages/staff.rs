//! Staff administration: adding people (one by one or from a CSV file) with an e-mailed
//! invitation, their roles and line managers, disabling an account.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;
use waymark_domain::directory::{DirectoryCommand, Grant, Role};
use waymark_domain::{CommandId, SchoolId, StaffId};
use waymark_policy::PersonVerb;

use crate::directory::{self, Names, names};
use crate::error::PageError;
use crate::pages::admin::{Choice, actor, command_of, require_admin, school_choices};
use crate::session::{self, Viewer};
use crate::sign_in::InviteError;
use crate::state::AppState;
use crate::web::{Fields, Nav, new_command_id, refusal, refused_page, see};

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
    invitation: Option<(String, Invited)>,
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
/// Whether the policies let the viewer do `verb` to `staff` (`policy/people.cedar`).
fn may(state: &AppState, viewer: &Viewer, verb: PersonVerb, staff: StaffId) -> bool {
    state
        .policies
        .allows_on_person(&viewer.directory, viewer.staff, verb, staff)
}

/// Whether the policies let the viewer give (or take away) `grant` to (from) `staff`.
fn may_change_role(
    state: &AppState,
    viewer: &Viewer,
    staff: StaffId,
    grant: Grant,
    giving: bool,
) -> bool {
    state
        .policies
        .allows_role_change(&viewer.directory, viewer.staff, staff, grant, giving)
}

/// A refused change shown on its page: 403, with the reason.
fn forbidden_page(page: impl IntoResponse) -> Response {
    (axum::http::StatusCode::FORBIDDEN, page).into_response()
}

const NOT_YOURS: &str = "You cannot do that: people with a trust-wide role or a role in another school are managed by the trust’s administrators, only a head teacher makes someone head teacher or school administrator, and nobody changes their own roles.";

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
    invitation: Option<(String, Invited)>,
    report: Vec<String>,
) -> Result<StaffPage, PageError> {
    // A fresh read: this page follows changes the viewer has just made.
    let directory = directory::load(&state.platform.pool, viewer.trust).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut rows: Vec<StaffRow> = directory
        .staff
        .iter()
        .filter(|(id, _)| may(state, viewer, PersonVerb::Edit, **id))
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
    let newcomer = StaffId::from_uuid(Uuid::new_v4());
    if !may_change_role(&state, &viewer, newcomer, grant, true) {
        return Ok(forbidden_page(
            staff_page(
                &state,
                &viewer,
                Some(NOT_YOURS.to_owned()),
                fields,
                None,
                vec![],
            )
            .await?,
        ));
    }
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
            let invited = invite(&state, &viewer, staff)
                .await?
                .ok_or_else(|| PageError::bad_request("This account is already active."))?;
            Ok(IntoResponse::into_response(
                staff_page(
                    &state,
                    &viewer,
                    None,
                    Fields::default(),
                    Some((name, invited)),
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
                // Matching by e-mail must not hand anyone a way into someone else's account:
                // a person who is not the uploader's to manage is left as they are.
                if !has && !may_change_role(&state, &viewer, staff, row.grant, true) {
                    report.push(format!(
                        "Row {}: {} is already in Waymark with roles you do not manage; nothing was changed. Ask the trust’s administrators.",
                        row.line, row.name
                    ));
                    continue;
                }
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
            None if !may_change_role(
                &state,
                &viewer,
                StaffId::from_uuid(Uuid::new_v4()),
                row.grant,
                true,
            ) =>
            {
                report.push(format!(
                    "Row {}: {} not added: only a head teacher makes someone head teacher or school administrator.",
                    row.line, row.name
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
                let emailed = match invite(&state, &viewer, staff).await? {
                    Some(Invited { emailed, .. }) => emailed,
                    None => String::new(),
                };
                report.push(format!("Row {}: {} added. {emailed}", row.line, row.name));
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
        if viewer.directory.staff.contains_key(&staff)
            && !may(&state, &viewer, PersonVerb::SetLineManager, staff)
        {
            report.push(format!(
                "Row {}: line manager not set: {} is not yours to manage.",
                row.line, row.name
            ));
            continue;
        }
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
    invitation: Option<Invited>,
    /// Signs in already: no invitation is offered.
    active: bool,
    /// The viewer may export everything held about them (the services decide again).
    may_export: bool,
    command_id: String,
    error: Option<String>,
}

async fn person_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    invitation: Option<Invited>,
) -> Result<PersonPage, PageError> {
    let staff: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    let directory = state.directory_of(viewer.trust).await?;
    if !may(state, viewer, PersonVerb::Edit, staff) {
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
        may_export: viewer.may_on_trust(waymark_policy::TrustVerb::ExportPersonalData),
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
        active: crate::sign_in::is_active(&state.platform.pool, viewer.trust, staff).await?,
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
    if !may(&state, &viewer, PersonVerb::Edit, staff) {
        return Err(PageError::not_found());
    }
    let refused = |state: AppState, viewer: Viewer, id: String| async move {
        Ok::<_, PageError>(forbidden_page(
            person_page(&state, &viewer, &id, Some(NOT_YOURS.to_owned()), None).await?,
        ))
    };
    let verb_allowed = |verb| may(&state, &viewer, verb, staff);
    let command = match verb.as_str() {
        "grant" | "revoke" => {
            let giving = verb == "grant";
            match grant_from(&viewer, fields.get("role"), fields.get("school_id")) {
                Ok(grant) if !may_change_role(&state, &viewer, staff, grant, giving) => {
                    return refused(state, viewer, id).await;
                }
                Ok(grant) if giving => DirectoryCommand::Grant {
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
        "line-manager" if !verb_allowed(PersonVerb::SetLineManager) => {
            return refused(state, viewer, id).await;
        }
        "disable" if !verb_allowed(PersonVerb::Disable) => {
            return refused(state, viewer, id).await;
        }
        "enable" if !verb_allowed(PersonVerb::Enable) => {
            return refused(state, viewer, id).await;
        }
        "invite" if !verb_allowed(PersonVerb::Invite) => {
            return refused(state, viewer, id).await;
        }
        "line-manager" => DirectoryCommand::SetLineManager {
            staff_id: staff,
            manager: fields.get("manager_id").parse().ok(),
        },
        "disable" => DirectoryCommand::Disable { staff_id: staff },
        "enable" => DirectoryCommand::Enable { staff_id: staff },
        "invite" => {
            let page = match invite(&state, &viewer, staff).await? {
                Some(invited) => person_page(&state, &viewer, &id, None, Some(invited)).await?,
                None => {
                    let problem = InviteError::Active.to_string();
                    return Ok(refused_page(
                        person_page(&state, &viewer, &id, Some(problem), None).await?,
                    ));
                }
            };
            return Ok(IntoResponse::into_response(page));
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

// --- Invitations --------------------------------------------------------------------------------

pub struct Invited {
    /// The link, for the administrator to pass on if the e-mail does not arrive.
    pub link: String,
    /// What became of the e-mail, to show.
    pub emailed: String,
}

/// A new invitation for `staff` (older ones stop working), e-mailed to them through
/// notifications, so it shows in the delivery log. `None` for an account that is already
/// active: its holder signs in already, and nobody else may be handed a way in.
async fn invite(
    state: &AppState,
    viewer: &Viewer,
    staff: StaffId,
) -> Result<Option<Invited>, PageError> {
    let path = match crate::sign_in::invite(&state.platform, viewer.trust, staff).await {
        Ok(path) => path,
        Err(InviteError::Active) => return Ok(None),
        Err(InviteError::Database(error)) => return Err(error.into()),
    };
    let people = names(&state.platform.pool, viewer.trust).await?;
    let (name, email) = (
        people.of(&staff.to_string()),
        people.email(&staff.to_string()),
    );
    let trust = state.directory_of(viewer.trust).await?;
    crate::invitation_mail::queue(
        &state.platform.pool,
        viewer.caller(),
        &crate::invitation_mail::Invitation {
            staff,
            display_name: name,
            email: email.clone(),
            link: path.clone(),
            trust_name: trust.name.map(|n| n.to_string()).unwrap_or_default(),
        },
    )
    .await?;
    let emailed = format!("An invitation is on its way to {email}.");
    Ok(Some(Invited {
        link: waymark_domain::pages::absolute(&state.settings.public_url, &path),
        emailed,
    }))
}
