//! Administration: schools, staff (with CSV import), roles, line management, disabling
//! accounts, look-fors and evidence sources, school calendars, the monitoring plan, and
//! single sign-on. Trust administrators see all of it; a school's administrator (or head)
//! their school's staff, calendar and plan.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use waymark_domain::directory::DirectoryCommand;
use waymark_domain::ids::ActorId;
use waymark_domain::text::Text;
use waymark_domain::{CommandId, SchoolId};
use waymark_policy::TrustVerb;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::scheduling::v1 as sc;
use waymark_runtime::ServiceError;

use crate::directory;
use crate::error::PageError;
use crate::pages::staff;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, academic_year, new_command_id, refusal, refused_page, see, today};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/schools", get(schools).post(add_school))
        .route("/admin/staff", get(staff::staff).post(staff::add_staff))
        .route("/admin/staff/import", post(staff::import))
        .route("/admin/staff/{id}", get(staff::person))
        .route(
            "/admin/staff/{id}/export",
            post(super::subject_access::export),
        )
        .route("/admin/staff/{id}/{verb}", post(staff::change_person))
        .route("/admin/catalogue", get(catalogue).post(change_catalogue))
        .route("/admin/calendar", get(calendar).post(set_calendar))
        .route(
            "/admin/plan",
            get(super::plan::plan).post(super::plan::change_plan),
        )
        .route(
            "/admin/plan/activity",
            get(super::plan::activity).post(super::plan::set_activity),
        )
        .route("/admin/sso", get(sso).post(set_sso))
        .route(
            "/admin/sharing",
            get(super::sharing::sharing).post(super::sharing::set_sharing),
        )
        .route(
            "/admin/webhooks",
            get(super::webhooks::webhooks).post(super::webhooks::set_webhook),
        )
        .route(
            waymark_domain::pages::AUDIT_TRAIL,
            get(super::audit_trail::status).post(super::audit_trail::verify),
        )
}

pub(super) fn actor(viewer: &Viewer) -> ActorId {
    ActorId::from_uuid(viewer.staff.into_uuid())
}

pub(super) fn command_of(fields: &Fields) -> CommandId {
    CommandId::from_uuid(Uuid::parse_str(&fields.command_id()).unwrap_or_else(|_| Uuid::now_v7()))
}

/// Schools this viewer administers.
pub(super) fn administered(viewer: &Viewer) -> Vec<SchoolId> {
    viewer
        .directory
        .schools
        .keys()
        .copied()
        .filter(|s| viewer.administers(Some(*s)))
        .collect()
}

pub(super) fn require_admin(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.administers_any() {
        Ok(())
    } else {
        Err(PageError::not_found())
    }
}

pub(super) fn require_school(viewer: &Viewer, school: &str) -> Result<SchoolId, PageError> {
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

pub(super) fn school_choices(viewer: &Viewer, selected: Option<SchoolId>) -> Vec<Choice> {
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
    viewer.require_on_trust(TrustVerb::ManageSettings)?;
    schools_page(&state, &viewer, None, Fields::default()).await
}

/// Adds a school, or renames one (`school_id` given).
pub async fn add_school(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ManageSettings)?;
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
    viewer.require_on_trust(TrustVerb::ManageCatalogue)?;
    catalogue_page(&state, &viewer, None).await
}

pub async fn change_catalogue(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ManageCatalogue)?;
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
    /// The trust's own sign-in page, with its buttons (the public one names no trust).
    sign_in_page: String,
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
        sign_in_page: format!("{}/sign-in/{}", state.settings.public_url, viewer.trust),
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
    viewer.require_on_trust(TrustVerb::ManageSettings)?;
    sso_page(&state, &viewer, None).await
}

/// Sets a provider; the client secret is kept only if a new one is typed (it is never shown).
pub async fn set_sso(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ManageSettings)?;
    let provider = fields.trimmed("provider");
    let issuer = fields.trimmed("issuer");
    let client_id = fields.trimmed("client_id");
    let secret = fields.get("client_secret").to_owned();
    let domain = Some(fields.trimmed("hosted_domain")).filter(|d| !d.is_empty());
    let allow_loopback = state.platform.config.network.allow_loopback;
    let problem = if provider != "microsoft" && provider != "google" {
        Some("Choose Microsoft or Google.")
    } else if let Err(problem) = crate::sso::check_issuer(&provider, &issuer, allow_loopback) {
        Some(problem)
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
