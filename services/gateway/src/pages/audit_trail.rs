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

/// One of the trust's two chains, as the page shows it.
pub struct ChainRow {
    pub title: &'static str,
    pub verified_at: Option<String>,
    pub events_checked: i64,
    pub problem: Option<Finding>,
    pub anchored_through: i64,
    pub anchored_at: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit_trail.html")]
pub struct AuditTrailPage {
    nav: Nav,
    chains: Vec<ChainRow>,
    anchors_configured: bool,
}

/// "5 December 2026 at 06:40 UTC" from an RFC 3339 time; nothing from an empty one.
fn moment(value: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(value).ok().map(|at| {
        at.with_timezone(&Utc)
            .format("%-d %B %Y at %H:%M UTC")
            .to_string()
    })
}

fn row(status: at::ChainStatus) -> ChainRow {
    let last = status.last.unwrap_or_default();
    ChainRow {
        title: match status.chain.as_str() {
            "records" => "Reviews, meetings and visits",
            _ => "Actions",
        },
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
        anchored_through: status.anchored_through,
        anchored_at: moment(&status.anchored_at),
    }
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
    Ok(AuditTrailPage {
        nav: Nav::new(&state, &viewer, "admin").await,
        chains: status.chains.into_iter().map(row).collect(),
        anchors_configured: status.anchors_configured,
    })
}

/// Verifies both chains now; the page then shows the results.
pub async fn verify(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::SeeOverview)?;
    let mut actions = state.clients(&viewer).actions();
    for chain in ["actions", "records"] {
        actions
            .verify_audit_trail(at::VerifyAuditTrailRequest {
                chain: chain.to_owned(),
            })
            .await?;
    }
    Ok(see(waymark_domain::pages::AUDIT_TRAIL))
}
