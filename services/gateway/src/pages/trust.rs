//! The trust overview, for trust leaders: per school, monitoring done against the plan so far
//! this year (in all and term by term), progress reviews agreed and meetings held, actions
//! open, overdue and done; month by month, monitoring held and actions opened against closed;
//! self-evaluation movement per quality indicator; across schools, the areas to focus that
//! keep coming back and the practice worth sharing. Aggregates by school only — no tables of individual teachers.
//! The same page for a head teacher (or senior leader) covers their own school only
//! (`/schools/overview`). What counts as held, due, overdue and early is
//! `waymark_domain::scheduling::completion`.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::NaiveDate;
use waymark_domain::SchoolId;
use waymark_domain::scheduling::completion::{Tally, standing};
use waymark_policy::{SchoolVerb, TrustVerb};
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::scheduling::v1 as sc;

use crate::error::PageError;
use crate::pages::lists;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Nav, academic_year, today, written};

pub struct SchoolRow {
    pub name: String,
    pub monitoring: Tally,
    pub reviews: Tally,
    pub meetings: Tally,
    pub live_actions: usize,
    pub overdue_actions: usize,
    pub done_actions: usize,
    /// Of the done actions, those with their impact recorded.
    pub with_impact: usize,
    /// Planned monitoring due in each month of the year, and how much of it was held.
    pub by_month: Vec<MonthRow>,
    /// The same as a chart (SVG).
    pub chart: String,
    /// Actions opened and closed in each month of the academic year, and as a chart.
    pub action_months: Vec<ActionMonth>,
    pub actions_chart: String,
    /// Self-evaluation movement per quality indicator between the two latest audits of the
    /// default framework (none with fewer than two), and as a chart.
    pub movement: Vec<super::audit_trends::Movement>,
    pub movement_chart: String,
}

pub struct ActionMonth {
    pub month: String,
    pub opened: u32,
    pub closed: u32,
}

/// "2026-09" as "Sep".
fn month_name(month: &str) -> String {
    month
        .split_once('-')
        .and_then(|(_, m)| m.parse::<u8>().ok())
        .and_then(|m| chrono::Month::try_from(m).ok())
        .map(|m| m.name()[..3].to_owned())
        .unwrap_or_else(|| month.to_owned())
}

pub struct MonthRow {
    pub month: String,
    pub planned: u32,
    pub held: u32,
}

/// Planned monitoring due in each month from September to July, and of it what was held.
fn by_month(occurrences: &[sc::Occurrence], start_year: i32) -> Vec<MonthRow> {
    [9u32, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7]
        .into_iter()
        .map(|month| {
            let year = if month >= 8 {
                start_year
            } else {
                start_year + 1
            };
            let prefix = format!("{year}-{month:02}-");
            let due: Vec<&sc::Occurrence> = occurrences
                .iter()
                .filter(|o| o.due.starts_with(&prefix))
                .collect();
            let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            MonthRow {
                month: chrono::Month::try_from(u8::try_from(month).unwrap_or(1))
                    .map(|m| m.name()[..3].to_owned())
                    .unwrap_or_default(),
                planned: count(due.len()),
                held: count(due.iter().filter(|o| o.status == "held").count()),
            }
        })
        .collect()
}

/// One school's monitoring in one term of its calendar.
pub struct TermRow {
    pub school: String,
    pub term: String,
    pub dates: String,
    pub monitoring: Tally,
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
    /// The trust's, or the viewer's schools'.
    trust: bool,
    year_start: String,
    today: String,
    rows: Vec<SchoolRow>,
    terms: Vec<TermRow>,
    themes: Vec<Theme>,
    exemplary: Vec<Theme>,
}

fn date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// Look-fors flagged by `pick` in agreed reviews, counted over reviews and schools, most
/// widespread first (at most ten).
fn themes(reviews: &[rd::Review], pick: impl Fn(&rd::LookForEntry) -> bool) -> Vec<Theme> {
    let mut found: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for review in reviews.iter().filter(|r| r.status == "agreed") {
        for entry in review.look_fors.iter().filter(|l| pick(l)) {
            let theme = found.entry(entry.label.clone()).or_default();
            theme.0 += 1;
            theme.1.insert(review.school_id.clone());
        }
    }
    let mut themes: Vec<Theme> = found
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
    themes
}

/// `GET /trust`: every school of the trust.
pub async fn overview(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<OverviewPage, PageError> {
    viewer.require_on_trust(TrustVerb::SeeOverview)?;
    let schools = viewer.directory.schools.keys().copied().collect();
    build(&state, &viewer, schools, true).await
}

/// `GET /schools/overview`: the schools whose trends the viewer sees (a head teacher's own).
pub async fn schools_overview(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<OverviewPage, PageError> {
    let schools = viewer.schools_for(SchoolVerb::SeeTrends);
    if schools.is_empty() {
        return Err(PageError::not_found());
    }
    build(&state, &viewer, schools, false).await
}

async fn build(
    state: &AppState,
    viewer: &Viewer,
    schools: Vec<SchoolId>,
    trust: bool,
) -> Result<OverviewPage, PageError> {
    let clients = state.clients(viewer);
    let today = today(state);
    let start_year = crate::web::start_year(today);
    let year_start = NaiveDate::from_ymd_opt(start_year, 8, 1).unwrap_or(today);
    let year_end = NaiveDate::from_ymd_opt(start_year + 1, 7, 31).unwrap_or(today);
    let this_year = |opens: Option<NaiveDate>, closes: Option<NaiveDate>| match (opens, closes) {
        (Some(opens), Some(closes)) if closes >= year_start && opens <= year_end => {
            Some((opens, closes))
        }
        _ => None,
    };

    let ids: Vec<String> = schools.iter().map(ToString::to_string).collect();
    let reviews: Vec<rd::Review> = lists::reviews(&clients, rd::ListReviewsRequest::default())
        .await?
        .into_iter()
        .filter(|r| ids.contains(&r.school_id))
        .collect();
    let meetings = lists::meetings(&clients, rd::ListMeetingsRequest::default()).await?;
    let mut rows = Vec::new();
    let mut terms = Vec::new();
    for school in &schools {
        let id = school.to_string();
        let name = crate::web::school_name(viewer, &id);
        let occurrences: Vec<sc::Occurrence> = clients
            .scheduling()
            .list_occurrences(sc::ListOccurrencesRequest {
                school_id: id.clone(),
                from_date: year_start.to_string(),
                to_date: year_end.to_string(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .occurrences
            .into_iter()
            .filter(|o| o.status != "cancelled")
            .collect();
        let planned = |o: &sc::Occurrence| {
            this_year(date(&o.date), date(&o.due))
                .map(|(opens, closes)| standing(o.status == "held", opens, closes, today))
        };
        let actions = async |statuses: Vec<String>| -> Result<Vec<at::Action>, PageError> {
            Ok(clients
                .actions()
                .list_actions(at::ListActionsRequest {
                    school_id: id.clone(),
                    today: today.to_string(),
                    statuses,
                    limit: 1000,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .actions)
        };
        let live = actions(vec![]).await?;
        let done: Vec<at::Action> = actions(vec!["done".into()])
            .await?
            .into_iter()
            .filter(|a| date(&a.due_date).is_some_and(|d| d >= year_start))
            .collect();
        let calendar = clients
            .scheduling()
            .get_calendar(sc::GetCalendarRequest {
                school_id: id.clone(),
            })
            .await?
            .into_inner();
        let action_months: Vec<ActionMonth> = clients
            .actions()
            .count_actions_by_month(at::CountActionsByMonthRequest {
                school_id: id.clone(),
                from: year_start.to_string(),
                to: year_end.to_string(),
                time_zone: calendar.time_zone.clone(),
            })
            .await?
            .into_inner()
            .months
            .into_iter()
            .map(|m| ActionMonth {
                month: month_name(&m.month),
                opened: m.opened,
                closed: m.closed,
            })
            .collect();
        let actions_chart = super::chart::bars(
            &format!("actions-{id}"),
            &format!("{name}: actions opened and closed each month"),
            &action_months
                .iter()
                .map(|m| m.month.clone())
                .collect::<Vec<_>>(),
            &[
                super::chart::Series {
                    name: "Opened",
                    class: "chart__planned",
                    values: action_months.iter().map(|m| m.opened).collect(),
                },
                super::chart::Series {
                    name: "Closed",
                    class: "chart__held",
                    values: action_months.iter().map(|m| m.closed).collect(),
                },
            ],
        );
        let trend = clients
            .audits()
            .audit_trend(rd::AuditTrendRequest {
                school_id: id.clone(),
                framework_id: String::new(),
            })
            .await?
            .into_inner();
        let movement = super::audit_trends::movement_by_section(&trend);
        let movement_chart = if movement.is_empty() {
            String::new()
        } else {
            super::chart::bars(
                &format!("movement-{id}"),
                &format!(
                    "{name}: self-evaluation statements improved, unchanged and declined since the previous audit, by quality indicator"
                ),
                &movement
                    .iter()
                    .map(|m| m.section_id.clone())
                    .collect::<Vec<_>>(),
                &[
                    super::chart::Series {
                        name: "Improved",
                        class: "chart__held",
                        values: movement.iter().map(|m| m.improved).collect(),
                    },
                    super::chart::Series {
                        name: "Unchanged",
                        class: "chart__same",
                        values: movement.iter().map(|m| m.unchanged).collect(),
                    },
                    super::chart::Series {
                        name: "Declined",
                        class: "chart__down",
                        values: movement.iter().map(|m| m.declined).collect(),
                    },
                ],
            )
        };
        let months = by_month(&occurrences, start_year);
        let chart = super::chart::bars(
            &format!("chart-{id}"),
            &format!("{name}: planned monitoring due each month, and held"),
            &months.iter().map(|m| m.month.clone()).collect::<Vec<_>>(),
            &[
                super::chart::Series {
                    name: "Planned",
                    class: "chart__planned",
                    values: months.iter().map(|m| m.planned).collect(),
                },
                super::chart::Series {
                    name: "Held",
                    class: "chart__held",
                    values: months.iter().map(|m| m.held).collect(),
                },
            ],
        );
        rows.push(SchoolRow {
            by_month: months,
            chart,
            action_months,
            actions_chart,
            movement,
            movement_chart,
            name: name.clone(),
            monitoring: occurrences.iter().filter_map(planned).collect(),
            reviews: reviews
                .iter()
                .filter(|r| r.school_id == id && r.status != "cancelled")
                .filter_map(|r| {
                    this_year(date(&r.window_opens), date(&r.window_closes))
                        .map(|(opens, closes)| standing(r.status == "agreed", opens, closes, today))
                })
                .collect(),
            meetings: meetings
                .iter()
                .filter(|m| m.school_id == id && m.status != "cancelled")
                .filter_map(|m| {
                    this_year(date(&m.date), date(&m.date))
                        .map(|(day, _)| standing(m.status == "closed", day, day, today))
                })
                .collect(),
            live_actions: live.len(),
            overdue_actions: live.iter().filter(|a| a.overdue).count(),
            with_impact: done.iter().filter(|a| !a.impact.trim().is_empty()).count(),
            done_actions: done.len(),
        });

        // Term by term, each occurrence in the term its window closes in.
        let year = academic_year(today);
        for term in calendar
            .years
            .iter()
            .filter(|y| y.academic_year == year)
            .flat_map(|y| &y.terms)
        {
            let (Some(starts), Some(ends)) = (date(&term.starts), date(&term.ends)) else {
                continue;
            };
            terms.push(TermRow {
                school: name.clone(),
                term: term.name.clone(),
                dates: format!("{} to {}", written(starts), written(ends)),
                monitoring: occurrences
                    .iter()
                    .filter(|o| date(&o.due).is_some_and(|d| d >= starts && d <= ends))
                    .filter_map(planned)
                    .collect(),
            });
        }
    }

    Ok(OverviewPage {
        nav: Nav::new(state, viewer, if trust { "trust" } else { "school" }).await,
        trust,
        year_start: written(year_start),
        today: written(today),
        rows,
        terms,
        themes: themes(&reviews, |l| l.focus),
        exemplary: themes(&reviews, |l| l.exemplary),
    })
}
