//! Admin → Record sharing: the trust's setting of who else reads agreed reviews, visits and
//! meetings (`policy/records.cedar`, the template `trust-shares-agreed-records`). The
//! directory holds it, so every service's copy of the directory applies it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;
use waymark_domain::directory::{DirectoryCommand, Role};
use waymark_policy::TrustVerb;

use crate::directory;
use crate::error::PageError;
use crate::pages::admin::{actor, command_of};
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, new_command_id, refusal, refused_page, see};

/// The roles a trust may share agreed records with: head teachers and trust leaders read
/// them already.
const SHAREABLE: [Role; 6] = [
    Role::SeniorLeader,
    Role::MiddleLeader,
    Role::ClassTeacher,
    Role::SupportForLearning,
    Role::Admin,
    Role::TrustAdmin,
];

pub struct ShareChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/sharing.html")]
pub struct SharingPage {
    nav: Nav,
    roles: Vec<ShareChoice>,
    command_id: String,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
) -> Result<SharingPage, PageError> {
    let shared = &viewer.directory.agreed_record_readers;
    Ok(SharingPage {
        nav: Nav::new(state, viewer, "admin").await,
        roles: SHAREABLE
            .iter()
            .map(|role| ShareChoice {
                value: role.as_str(),
                label: role.label(),
                hint: if role.is_trust_wide() {
                    "in every school"
                } else {
                    "in their own school"
                },
                checked: shared.contains(role),
            })
            .collect(),
        command_id: new_command_id(),
        error,
    })
}

pub async fn sharing(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<SharingPage, PageError> {
    viewer.require_on_trust(TrustVerb::ManageSettings)?;
    page(&state, &viewer, None).await
}

pub async fn set_sharing(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ManageSettings)?;
    let roles: Vec<Role> = fields
        .all("role")
        .iter()
        .filter_map(|value| Role::parse(value))
        .filter(|role| SHAREABLE.contains(role))
        .collect();
    match directory::run(
        &state.platform,
        &state.directory,
        viewer.trust,
        actor(&viewer),
        command_of(&fields),
        DirectoryCommand::ShareAgreedRecords { roles },
    )
    .await
    {
        Ok(_) => Ok(see("/admin/sharing")),
        Err(error) => Ok(refused_page(
            page(&state, &viewer, Some(refusal(error)?)).await?,
        )),
    }
}
