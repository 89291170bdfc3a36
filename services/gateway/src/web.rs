//! What every page shares: posted fields, the navigation bar, dates, status words.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use uuid::Uuid;
use waymark_proto::notifications::v1 as nt;

use crate::error::PageError;
use crate::session::{Viewer, form_urlencoded_pairs};
use crate::state::AppState;

/// A posted form, as name/value pairs in order (fields may repeat). Pages re-render with it
/// after a refusal, so nothing typed is lost.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    pub fn trimmed(&self, name: &str) -> String {
        self.get(name).trim().to_owned()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    pub fn has(&self, name: &str, value: &str) -> bool {
        self.0.iter().any(|(key, v)| key == name && v == value)
    }

    /// The lines of a text box, trimmed, blank lines left out.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// A form filled in before it is shown (from a planned occurrence, say).
    pub fn prefilled(pairs: Vec<(&str, String)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        )
    }

    /// The command id the form was rendered with: a resubmitted form repeats its command,
    /// which the services answer with the original result.
    pub fn command_id(&self) -> String {
        match Uuid::parse_str(self.get("command_id")) {
            Ok(id) => id.to_string(),
            Err(_) => Uuid::now_v7().to_string(),
        }
    }
}

/// The most fields a form may post. The longest of our forms (a self-evaluation audit's
/// ratings) has a few hundred; anything far beyond is refused before it is decoded.
pub const MAX_FIELDS: usize = 2_000;

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = PageError;

    /// At most axum's default body limit (2 MB) and [`MAX_FIELDS`] fields.
    async fn from_request(request: Request, state: &S) -> Result<Self, PageError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| PageError::bad_request("The form could not be read."))?;
        if bytes.split(|b| *b == b'&').nth(MAX_FIELDS).is_some() {
            return Err(PageError::Status(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("A form may send at most {MAX_FIELDS} fields."),
            ));
        }
        Ok(Self::with_dates(form_urlencoded_pairs(&bytes).collect()))
    }
}

impl Fields {
    /// Dates arrive as day, month and year boxes (`due.day`, `due.month`, `due.year`); each
    /// becomes one `due` field, `YYYY-MM-DD` (zero-padded when the boxes hold numbers, as
    /// typed otherwise, so the service's refusal names the field and the boxes show again).
    fn with_dates(mut pairs: Vec<(String, String)>) -> Self {
        // Each name's first value, looked up once per date rather than by scanning.
        let mut first: HashMap<&str, &str> = HashMap::with_capacity(pairs.len());
        for (key, value) in &pairs {
            first.entry(key.as_str()).or_insert(value.as_str());
        }
        let mut names: Vec<&str> = first
            .keys()
            .filter_map(|key| key.strip_suffix(".day"))
            .collect();
        names.sort_unstable();
        let mut dates = Vec::with_capacity(names.len());
        for name in names {
            let part = |suffix: &str| {
                first
                    .get(format!("{name}.{suffix}").as_str())
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_default()
            };
            let (day, month, year) = (part("day"), part("month"), part("year"));
            if day.is_empty() && month.is_empty() && year.is_empty() {
                continue;
            }
            let date = match (
                day.parse::<u32>(),
                month.parse::<u32>(),
                year.parse::<i32>(),
            ) {
                (Ok(d), Ok(m), Ok(y)) => format!("{y:04}-{m:02}-{d:02}"),
                _ => format!("{year}-{month}-{day}"),
            };
            dates.push((name.to_owned(), date));
        }
        pairs.extend(dates);
        Self(pairs)
    }
}

/// One box of a date for the date input: 0 year, 1 month, 2 day of "YYYY-MM-DD".
pub fn date_part(value: impl std::fmt::Display, part: usize) -> String {
    value
        .to_string()
        .splitn(3, '-')
        .nth(part)
        .unwrap_or("")
        .to_owned()
}

/// Working copies of long forms, saved as people type (see `gateway.autosaves`). Each
/// copy has a revision; a form carries the revision it was built from (`copy`), and a save
/// from a form that is behind (the same person typing in another window) is refused rather
/// than written over the other window's text.
pub mod autosave {
    use sqlx::types::Json;

    use super::Fields;
    use crate::error::PageError;
    use crate::session::Viewer;
    use crate::state::AppState;

    /// A stored working copy.
    pub struct Copy {
        pub fields: Fields,
        pub revision: i64,
        /// When it was saved, in school time ("14:05").
        pub saved_at: String,
    }

    pub enum Saved {
        /// Saved as `revision`, at the time given.
        Saved { revision: i64, at: String },
        /// Another window saved since this form was built: nothing was written.
        Behind(Copy),
    }

    fn clock_time(at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&chrono_tz::Europe::London)
            .format("%H:%M")
            .to_string()
    }

    /// The revision the posted form was built from (0: none).
    pub fn based_on(fields: &Fields) -> i64 {
        fields.get("copy").parse().unwrap_or(0)
    }

    /// Saves the copy if the stored one is still the revision the form was built from.
    pub async fn save(
        state: &AppState,
        viewer: &Viewer,
        key: &str,
        fields: &Fields,
    ) -> Result<Saved, PageError> {
        let now = state.platform.clock.now();
        let kept: Vec<&(String, String)> = fields
            .0
            .iter()
            .filter(|(name, _)| name != "_csrf" && name != "copy")
            .collect();
        let (trust, staff, fields_json) = (
            viewer.trust.into_uuid(),
            viewer.staff.into_uuid(),
            Json(&kept),
        );
        let revision = match based_on(fields) {
            0 => sqlx::query_scalar!(
                "INSERT INTO gateway.autosaves (trust_id, staff_id, key, fields, saved_at, revision) \
                 VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (trust_id, staff_id, key) DO NOTHING RETURNING revision",
                trust,
                staff,
                key,
                fields_json as _,
                now
            )
            .fetch_optional(&state.platform.pool)
            .await?,
            revision => sqlx::query_scalar!(
                "UPDATE gateway.autosaves SET fields = $4, saved_at = $5, revision = revision + 1 \
                 WHERE trust_id = $1 AND staff_id = $2 AND key = $3 AND revision = $6 RETURNING revision",
                trust,
                staff,
                key,
                fields_json as _,
                now,
                revision
            )
            .fetch_optional(&state.platform.pool)
            .await?,
        };
        if let Some(revision) = revision {
            return Ok(Saved::Saved {
                revision,
                at: clock_time(now),
            });
        }
        // Behind: the other window's copy, or (if it was shared and cleared) none.
        Ok(Saved::Behind(load(state, viewer, key).await?.unwrap_or(
            Copy {
                fields: Fields::default(),
                revision: 0,
                saved_at: String::new(),
            },
        )))
    }

    pub async fn load(
        state: &AppState,
        viewer: &Viewer,
        key: &str,
    ) -> Result<Option<Copy>, PageError> {
        let row = sqlx::query!(
            r#"SELECT fields AS "fields: Json<Vec<(String, String)>>", revision, saved_at FROM gateway.autosaves WHERE trust_id = $1 AND staff_id = $2 AND key = $3"#,
            viewer.trust.into_uuid(),
            viewer.staff.into_uuid(),
            key
        )
        .fetch_optional(&state.platform.pool)
        .await?;
        Ok(row.map(|row| Copy {
            fields: Fields(row.fields.0),
            revision: row.revision,
            saved_at: clock_time(row.saved_at),
        }))
    }

    pub async fn clear(state: &AppState, viewer: &Viewer, key: &str) -> Result<(), PageError> {
        sqlx::query!(
            "DELETE FROM gateway.autosaves WHERE trust_id = $1 AND staff_id = $2 AND key = $3",
            viewer.trust.into_uuid(),
            viewer.staff.into_uuid(),
            key
        )
        .execute(&state.platform.pool)
        .await?;
        Ok(())
    }
}

/// A fresh command id for a form about to be shown.
pub fn new_command_id() -> String {
    Uuid::now_v7().to_string()
}

/// A refused command's message, to show on the form again; faults and 404s stay errors.
pub fn refusal(error: impl Into<PageError>) -> Result<String, PageError> {
    match error.into() {
        PageError::Status(code, message)
            if code.is_client_error() && code != axum::http::StatusCode::NOT_FOUND =>
        {
            Ok(message)
        }
        other => Err(other),
    }
}

/// A page shown again after a refusal: 422, with the reason on it.
pub fn refused_page(page: impl IntoResponse) -> Response {
    (axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// After a successful POST: back to a page with GET (so reloading repeats nothing).
pub fn see(path: impl AsRef<str>) -> Response {
    Redirect::to(path.as_ref()).into_response()
}

/// How long a page waits for notifications' unread count before it shows without one.
const UNREAD_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// The navigation bar's contents.
pub struct Nav {
    pub csrf: String,
    pub section: &'static str,
    pub trust_view: bool,
    /// A head teacher's (or senior leader's) overview of their school.
    pub school_view: bool,
    pub admin: bool,
    pub unread: i64,
    pub name: String,
}

impl Nav {
    pub async fn new(state: &AppState, viewer: &Viewer, section: &'static str) -> Self {
        // The unread count is a nicety: a page still shows, at once, if notifications is down
        // or does not answer (no count then).
        let mut notifications = state.clients(viewer).notifications();
        let asked = notifications.list_inbox(nt::ListInboxRequest {
            unread_only: true,
            limit: 1,
        });
        let unread = match tokio::time::timeout(UNREAD_PATIENCE, asked).await {
            Ok(Ok(reply)) => reply.into_inner().unread,
            _ => 0,
        };
        Self {
            csrf: viewer.csrf.clone(),
            section,
            trust_view: viewer.is_trust_leader() || viewer.is_trust_admin(),
            school_view: !viewer
                .schools_for(waymark_policy::SchoolVerb::SeeTrends)
                .is_empty(),
            admin: viewer.administers_any(),
            unread,
            name: viewer.name.clone(),
        }
    }
}

/// Today where the schools are.
pub fn today(state: &AppState) -> NaiveDate {
    state
        .platform
        .clock
        .now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
}

/// The calendar year the academic year of `date` starts in (it runs 1 August to 31 July).
pub fn start_year(date: NaiveDate) -> i32 {
    if date.month() >= 8 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// The academic year a date falls in: "2026-27" from 1 August.
pub fn academic_year(date: NaiveDate) -> String {
    let start = start_year(date);
    format!("{}-{:02}", start, (start + 1) % 100)
}

/// A date as pages write it: "7 December 2026".
pub fn written(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// "3 March 2027" from "2027-03-03"; other text as it is.
pub fn long_date(value: &str) -> String {
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(date) => written(date),
        Err(_) => value.to_owned(),
    }
}

/// A status as words and the tag's colour class; the word always shows.
pub fn status_tag(status: &str) -> (&'static str, &'static str) {
    match status {
        "open" => ("Open", "tag--blue"),
        "in_progress" => ("In progress", "tag--blue"),
        "done" => ("Done", "tag--green"),
        "carried_forward" => ("Carried forward", "tag--grey"),
        "dropped" => ("Dropped", "tag--grey"),
        "overdue" => ("Overdue", "tag--red"),
        "scheduled" | "planned" => ("Scheduled", "tag--grey"),
        "gathering" => ("Gathering evidence", "tag--blue"),
        "discussed" => ("Dialogue held", "tag--blue"),
        "drafted" => ("Awaiting agreement", "tag--yellow"),
        "agreed" => ("Agreed", "tag--green"),
        "closed" => ("Closed", "tag--green"),
        "held" => ("Held", "tag--green"),
        "cancelled" => ("Cancelled", "tag--grey"),
        "focus_agreed" => ("Focus agreed", "tag--blue"),
        "recorded" => ("Awaiting agreement", "tag--yellow"),
        "in_progress_audit" | "draft" => ("In progress", "tag--blue"),
        "finalised" => ("Finalised", "tag--green"),
        "rescheduled" => ("Rescheduled", "tag--grey"),
        _ => ("Unknown", "tag--grey"),
    }
}

/// The status tag as HTML-safe parts for templates.
pub struct Tag {
    pub label: &'static str,
    pub class: &'static str,
}

/// One option of a list to choose from.
pub struct Choice {
    pub value: String,
    pub label: String,
}

pub fn tag(status: &str) -> Tag {
    let (label, class) = status_tag(status);
    Tag { label, class }
}

/// A school's name, or "Unknown school".
pub fn school_name(viewer: &Viewer, school: &str) -> String {
    school
        .parse()
        .ok()
        .and_then(|id| viewer.directory.schools.get(&id))
        .map_or_else(|| "Unknown school".to_owned(), |name| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_box_gives_its_lines_trimmed_without_blank_ones() {
        let fields = Fields::prefilled(vec![(
            "head_teacher",
            " Agree focus \n\n Share feedback\r\n".to_owned(),
        )]);
        assert_eq!(
            fields.lines("head_teacher"),
            ["Agree focus", "Share feedback"]
        );
        assert!(fields.lines("impact").is_empty());
    }

    #[test]
    fn academic_years_turn_in_august() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(academic_year(d("2026-07-31")), "2025-26");
        assert_eq!(academic_year(d("2026-08-01")), "2026-27");
        assert_eq!(academic_year(d("2099-09-01")), "2099-00");
    }

    #[test]
    fn date_boxes_become_one_date_and_split_back() {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let fields = Fields::with_dates(pairs(&[
            ("due.day", "7"),
            ("due.month", "3"),
            ("due.year", "2027"),
            ("empty.day", ""),
        ]));
        assert_eq!(fields.get("due"), "2027-03-07");
        assert_eq!(fields.get("empty"), "");
        let typo = Fields::with_dates(pairs(&[
            ("due.day", "3l"),
            ("due.month", "2"),
            ("due.year", "2027"),
        ]));
        assert_eq!(typo.get("due"), "2027-2-3l");
        let parts = (
            date_part("2027-2-3l", 2),
            date_part("2027-2-3l", 1),
            date_part("2027-2-3l", 0),
        );
        assert_eq!(parts, ("3l".to_owned(), "2".to_owned(), "2027".to_owned()));
        assert_eq!(date_part("", 1), "");
    }

    #[test]
    fn repeated_command_ids_are_kept() {
        let id = Uuid::now_v7().to_string();
        let fields = Fields(vec![("command_id".into(), id.clone())]);
        assert_eq!(fields.command_id(), id);
        assert_ne!(
            Fields::default().command_id(),
            Fields::default().command_id()
        );
    }
}
