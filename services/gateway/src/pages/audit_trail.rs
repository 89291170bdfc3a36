//! Admin → Audit trail: when the trust's action audit trail was last verified (on the
//! schedule, or here on request), what was found, and how far it is anchored outside the
//! database. Action tracking decides who may see it and verifies; this page shows.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use waymark_policy::TrustVerb;
use waymark_proto::action_tracking::v1 as at;

use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Nav, see};

pub struct Finding {
    pub at: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit_trail.html")]
pub struct AuditTrailPage {
    nav: Nav,
    verified_at: Option<String>,
    events_checked: i64,
    problem: Option<Finding>,
    anchors_configured: bool,
    anchored_through: i64,
    anchored_at: Option<String>,
}

/// "5 December 2026 at 06:40 UTC" from an RFC 3339 time; nothing from an empty one.
fn moment(value: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(value).ok().map(|at| {
        at.with_timezone(&Utc)
            .format("%-d %B %Y at %H:%M UTC")
            .to_string()
    })
}

pub async fn status(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<AuditTrailPage, PageError> {
    viewer.require_on_trust(TrustVerb::SeeOverview)?;
    let status = state
        .clients(&viewer)
        .actions()
        .get_audit_status(at::GetAuditStatusRequest {})
        .await?
        .into_inner();
    let last = status.last.unwrap_or_default();
    Ok(AuditTrailPage {
        nav: Nav::new(&state, &viewer, "admin").await,
        verified_at: moment(&status.verified_at),
        events_checked: last.events_checked,
        problem: last.problem.map(|problem| Finding {
            at: if problem.seq == 0 {
                "its anchors".to_owned()
            } else {
                format!("entry {}", problem.seq)
            },
            kind: problem.kind,
            detail: problem.detail,
        }),
        anchors_configured: status.anchors_configured,
        anchored_through: status.anchored_through,
        anchored_at: moment(&status.anchored_at),
    })
}

/// Verifies now; the page then shows the result.
pub async fn verify(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::SeeOverview)?;
    state
        .clients(&viewer)
        .actions()
        .verify_audit_trail(at::VerifyAuditTrailRequest {})
        .await?;
    Ok(see(waymark_domain::pages::AUDIT_TRAIL))
}
