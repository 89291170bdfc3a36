//! Admin → Chat webhooks: each school's Slack or Teams incoming webhook, which notifications
//! calls for the people who choose that channel. Notifications decides who may set one and
//! checks the address; this page shows where each points (the host only) and, once, the
//! signing secret of a webhook just set.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use waymark_domain::SchoolId;
use waymark_policy::SchoolVerb;
use waymark_proto::notifications::v1 as nt;

use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, refusal, refused_page};

pub struct SchoolRow {
    pub id: String,
    pub name: String,
    /// Where its webhook points, if it has one.
    pub host: Option<String>,
}

/// A webhook just set: its school and the secret shown this once.
pub struct JustSet {
    pub school: String,
    pub secret: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/webhooks.html")]
pub struct WebhooksPage {
    nav: Nav,
    schools: Vec<SchoolRow>,
    just_set: Option<JustSet>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    just_set: Option<JustSet>,
    error: Option<String>,
) -> Result<WebhooksPage, PageError> {
    let set = state
        .clients(viewer)
        .notifications()
        .list_school_webhooks(nt::ListSchoolWebhooksRequest {})
        .await?
        .into_inner()
        .webhooks;
    let schools = viewer
        .schools_for(SchoolVerb::ManageWebhooks)
        .into_iter()
        .map(|school| SchoolRow {
            id: school.to_string(),
            name: name_of(viewer, school),
            host: set
                .iter()
                .find(|w| w.school_id == school.to_string())
                .map(|w| w.host.clone()),
        })
        .collect();
    Ok(WebhooksPage {
        nav: Nav::new(state, viewer, "admin").await,
        schools,
        just_set,
        error,
    })
}

fn name_of(viewer: &Viewer, school: SchoolId) -> String {
    viewer
        .directory
        .schools
        .get(&school)
        .map(|name| name.to_string())
        .unwrap_or_default()
}

pub async fn webhooks(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<WebhooksPage, PageError> {
    if viewer.schools_for(SchoolVerb::ManageWebhooks).is_empty() {
        return Err(PageError::not_found());
    }
    page(&state, &viewer, None, None).await
}

/// Sets (or, with an empty address, removes) a school's webhook. The reply carries the new
/// signing secret, so the page is shown here rather than redirected to.
pub async fn set_webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let school: SchoolId = fields
        .get("school_id")
        .parse()
        .map_err(|_| PageError::not_found())?;
    viewer.require_on_school(SchoolVerb::ManageWebhooks, school)?;
    let url = fields.get("url").trim().to_owned();
    let reply = state
        .clients(&viewer)
        .notifications()
        .set_school_webhook(nt::SetSchoolWebhookRequest {
            school_id: school.to_string(),
            url,
        })
        .await;
    match reply {
        Ok(reply) => {
            let secret = reply.into_inner().secret;
            let just_set = (!secret.is_empty()).then(|| JustSet {
                school: name_of(&viewer, school),
                secret,
            });
            Ok(page(&state, &viewer, just_set, None).await?.into_response())
        }
        Err(status) => Ok(refused_page(
            page(&state, &viewer, None, Some(refusal(status)?)).await?,
        )),
    }
}
