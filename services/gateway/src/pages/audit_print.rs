//! A self-evaluation audit's record on its own, for printing or saving as PDF: the same
//! audit, read the same way, as its page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};

use waymark_proto::review_dialogue::v1 as rd;

use super::audits::{Section, WeaknessRow, show};
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav};

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit_record.html")]
pub struct RecordPage {
    nav: Nav,
    audit: rd::AuditRecord,
    school: String,
    lead: String,
    participants: String,
    sections: Vec<Section>,
    rated: usize,
    total: usize,
    strengths: Vec<String>,
    weaknesses: Vec<WeaknessRow>,
    finalised: bool,
}

/// `GET /audits/{id}/print`.
pub async fn print(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<RecordPage, PageError> {
    let page = show(&state, &viewer, &id, None, Fields::default()).await?;
    Ok(RecordPage {
        nav: page.nav,
        audit: page.audit,
        school: page.school,
        lead: page.lead,
        participants: page.participants,
        sections: page.sections,
        rated: page.rated,
        total: page.total,
        strengths: page.strengths,
        weaknesses: page.weaknesses,
        finalised: page.finalised,
    })
}
