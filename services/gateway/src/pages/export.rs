//! CSV exports: UTF-8 with a byte-order mark (so spreadsheet programs read accents right) and
//! safe from formula injection (a cell that a spreadsheet would run as a formula is prefixed
//! with an apostrophe).
//!
//! The lists of reviews, meetings, visits and audits as CSV: every record the list's search finds for
//! the viewer (up to the 1,000 one search reads), a line each, saying who, when and how far it
//! has got — never what it says, so a line is no more than the list itself shows the viewer.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::directory::names;
use crate::error::PageError;
use crate::pages::finding::Search;
use crate::pages::lists;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{school_name, tag};

/// `GET /reviews.csv`, narrowed as `/reviews` is.
pub async fn reviews(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let found = lists::reviews(&state.clients(&viewer), search.reviews())
        .await
        .map_err(unreadable)?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut csv = Csv::new(&[
        "School",
        "Academic year",
        "Year group",
        "Reviewer",
        "Reviewee",
        "Window opens",
        "Window closes",
        "Status",
    ]);
    for r in &found {
        csv.row(&[
            &school_name(&viewer, &r.school_id),
            &r.academic_year,
            &r.year_group,
            &people.of(&r.reviewer_id),
            &people.of(&r.reviewee_id),
            &r.window_opens,
            &r.window_closes,
            tag(&r.status).label,
        ]);
    }
    Ok(csv.into_response("reviews.csv"))
}

/// `GET /meetings.csv`, narrowed as `/meetings` is.
pub async fn meetings(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let found = lists::meetings(&state.clients(&viewer), search.meetings())
        .await
        .map_err(unreadable)?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut csv = Csv::new(&[
        "School",
        "Academic year",
        "Class",
        "Assessment point",
        "Teacher",
        "Date",
        "Status",
    ]);
    for m in &found {
        csv.row(&[
            &school_name(&viewer, &m.school_id),
            &m.academic_year,
            &m.class_group,
            &m.assessment_point,
            &people.of(&m.teacher_id),
            &m.date,
            tag(&m.status).label,
        ]);
    }
    Ok(csv.into_response("meetings.csv"))
}

/// `GET /visits.csv`, narrowed as `/visits` is.
pub async fn visits(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let found = lists::visits(&state.clients(&viewer), search.visits())
        .await
        .map_err(unreadable)?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut csv = Csv::new(&["School", "Kind", "Visitor", "Teacher", "Date", "Status"]);
    for v in &found {
        csv.row(&[
            &school_name(&viewer, &v.school_id),
            crate::pages::visits::kind_label(&v.kind),
            &people.of(&v.visitor_id),
            &people.of(&v.teacher_id),
            &v.date,
            tag(&v.status).label,
        ]);
    }
    Ok(csv.into_response("visits.csv"))
}

/// `GET /audits.csv`, narrowed as `/audits` is.
pub async fn audits(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let found = lists::audits(&state.clients(&viewer), search.audits())
        .await
        .map_err(unreadable)?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut csv = Csv::new(&[
        "School",
        "Audit",
        "Department",
        "Lead",
        "Started",
        "Finalised",
        "Status",
    ]);
    for a in &found {
        let finalised = a.status == "finalised";
        csv.row(&[
            &school_name(&viewer, &a.school_id),
            &a.title,
            &a.department,
            &people.of(&a.lead_id),
            &a.started_on,
            if finalised { &a.finalised_on } else { "" },
            if finalised {
                "Finalised"
            } else {
                "In progress"
            },
        ]);
    }
    Ok(csv.into_response("audits.csv"))
}

/// A search review dialogue could not read (a date that is not one) is the request's fault.
fn unreadable(status: tonic::Status) -> PageError {
    if status.code() == tonic::Code::InvalidArgument {
        PageError::bad_request(status.message())
    } else {
        status.into()
    }
}

pub struct Csv {
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    pub fn new(headings: &[&str]) -> Self {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer("\u{feff}".as_bytes().to_vec());
        // Writing to memory cannot fail.
        let _ = writer.write_record(headings);
        Self { writer }
    }

    pub fn row(&mut self, cells: &[&str]) {
        let _ = self
            .writer
            .write_record(cells.iter().map(|cell| defuse(cell)));
    }

    pub fn into_response(self, file_name: &str) -> Response {
        let body = self.writer.into_inner().unwrap_or_default();
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
            ],
            body,
        )
            .into_response()
    }
}

/// `=1+1` becomes `'=1+1`: shown as text, never run.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_text_is_kept() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("+44 20"), "'+44 20");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("-1"), "'-1");
        assert_eq!(defuse("Année 5 – reading"), "Année 5 – reading");
    }

    #[test]
    fn files_start_with_a_byte_order_mark_and_quote_commas() {
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(&["x, y", "=2"]);
        let body = csv.writer.into_inner().unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text, "\u{feff}a,b\r\n\"x, y\",'=2\r\n");
    }
}
