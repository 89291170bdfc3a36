//! The trust overview, for trust leaders: per school, monitoring done against what was
//! planned so far this year and the actions overdue; across schools, the themes that keep
//! coming back. Aggregates by school only — no tables of individual teachers.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::{Datelike, NaiveDate};
use waymark_policy::TrustVerb;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::scheduling::v1 as sc;

use crate::error::PageError;
use crate::pages::lists;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Nav, today, written};

pub struct SchoolRow {
    pub name: String,
    pub planned: usize,
    pub held: usize,
    pub reviews_due: usize,
    pub reviews_agreed: usize,
    pub meetings_due: usize,
    pub meetings_closed: usize,
    pub live_actions: usize,
    pub overdue_actions: usize,
}

impl SchoolRow {
    /// "7 of 9 (78%)"; "none due yet" when nothing was due.
    pub fn share(done: &usize, due: &usize) -> String {
        if *due == 0 {
            "None due yet".to_owned()
        } else {
            format!("{done} of {due} ({}%)", done * 100 / due)
        }
    }
}

pub struct Theme {
    pub label: String,
    pub reviews: usize,
    pub schools: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/trust.html")]
pub struct OverviewPage {
    nav: Nav,
    year_start: String,
    rows: Vec<SchoolRow>,
    themes: Vec<Theme>,
}

pub async fn overview(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<OverviewPage, PageError> {
    viewer.require_on_trust(TrustVerb::SeeOverview)?;
    let clients = state.clients(&viewer);
    let today = today(&state);
    let start_year = if today.month() >= 8 {
        today.year()
    } else {
        today.year() - 1
    };
    let year_start = NaiveDate::from_ymd_opt(start_year, 8, 1).unwrap_or(today);
    let due = |date: &str| {
        NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok_and(|d| d >= year_start && d <= today)
    };

    let reviews = lists::reviews(&clients, rd::ListReviewsRequest::default()).await?;
    let meetings = lists::meetings(&clients, rd::ListMeetingsRequest::default()).await?;
    let mut rows = Vec::new();
    for (school, name) in &viewer.directory.schools {
        let id = school.to_string();
        let occurrences = clients
            .scheduling()
            .list_occurrences(sc::ListOccurrencesRequest {
                school_id: id.clone(),
                from_date: year_start.to_string(),
                to_date: today.to_string(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .occurrences;
        let live = clients
            .actions()
            .list_actions(at::ListActionsRequest {
                school_id: id.clone(),
                today: today.to_string(),
                limit: 1000,
                ..Default::default()
            })
            .await?
            .into_inner()
            .actions;
        let counted: Vec<&sc::Occurrence> = occurrences
            .iter()
            .filter(|o| o.status != "cancelled" && due(&o.date))
            .collect();
        let school_reviews: Vec<&rd::Review> = reviews
            .iter()
            .filter(|r| r.school_id == id && r.status != "cancelled" && due(&r.window_closes))
            .collect();
        let school_meetings: Vec<&rd::Meeting> = meetings
            .iter()
            .filter(|m| m.school_id == id && m.status != "cancelled" && due(&m.date))
            .collect();
        rows.push(SchoolRow {
            name: name.to_string(),
            planned: counted.len(),
            held: counted.iter().filter(|o| o.status == "held").count(),
            reviews_due: school_reviews.len(),
            reviews_agreed: school_reviews
                .iter()
                .filter(|r| r.status == "agreed")
                .count(),
            meetings_due: school_meetings.len(),
            meetings_closed: school_meetings
                .iter()
                .filter(|m| m.status == "closed")
                .count(),
            live_actions: live.len(),
            overdue_actions: live.iter().filter(|a| a.overdue).count(),
        });
    }

    // Recurring themes: look-fors agreed as areas to focus, counted over reviews and schools.
    let mut themes: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for review in reviews.iter().filter(|r| r.status == "agreed") {
        for entry in review.look_fors.iter().filter(|l| l.focus) {
            let theme = themes.entry(entry.label.clone()).or_default();
            theme.0 += 1;
            theme.1.insert(review.school_id.clone());
        }
    }
    let mut themes: Vec<Theme> = themes
        .into_iter()
        .map(|(label, (reviews, schools))| Theme {
            label,
            reviews,
            schools: schools.len(),
        })
        .collect();
    themes.sort_by(|a, b| {
        b.schools
            .cmp(&a.schools)
            .then(b.reviews.cmp(&a.reviews))
            .then(a.label.cmp(&b.label))
    });
    themes.truncate(10);
    Ok(OverviewPage {
        nav: Nav::new(&state, &viewer, "trust").await,
        year_start: written(year_start),
        rows,
        themes,
    })
}
