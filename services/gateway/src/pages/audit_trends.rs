//! Self-evaluation over time: a school's audits of one framework side by side (how each
//! statement moved), movement per quality indicator (for the overviews' chart), and the
//! trust's latest audit per school as a heat-map.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;
use waymark_domain::SchoolId;
use waymark_policy::{SchoolVerb, TrustVerb};
use waymark_proto::review_dialogue::v1 as rd;

use super::audits::{Rag, rag};
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Nav, long_date};

#[derive(Debug, Deserialize)]
pub struct TrendQuery {
    school: String,
    #[serde(default)]
    framework: String,
}

pub struct TrendRow {
    pub text: String,
    pub ratings: Vec<Rag>,
    pub movement: String,
    pub stayed_red: bool,
}

/// Which way a statement went between its first and its latest rating, in words.
/// Each audit's column heading: the day it was finalised, and where several were finalised
/// on one day, which of them it is ("7 December 2026 (2 of 3)"), in the order finalised.
fn column_headings(audits: &[rd::TrendPoint]) -> Vec<String> {
    audits
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let same_day: Vec<usize> = audits
                .iter()
                .enumerate()
                .filter(|(_, b)| b.finalised_on == a.finalised_on)
                .map(|(j, _)| j)
                .collect();
            let day = long_date(&a.finalised_on);
            match same_day.iter().position(|&j| j == i) {
                Some(n) if same_day.len() > 1 => {
                    format!("{day} ({} of {})", n + 1, same_day.len())
                }
                _ => day,
            }
        })
        .collect()
}

fn movement(statement: &rd::StatementTrend, labels: Option<&rd::RagLabels>) -> String {
    let rank = |r: &str| match r {
        "red" => Some(0),
        "amber" => Some(1),
        "green" => Some(2),
        _ => None,
    };
    let rated: Vec<i32> = statement.ratings.iter().filter_map(|r| rank(r)).collect();
    if statement.stayed_red {
        let red = rag("red", labels).label;
        return if red.eq_ignore_ascii_case("red") {
            "Stayed red".into()
        } else {
            format!("Stayed at “{red}”")
        };
    }
    match (rated.first(), rated.last()) {
        (Some(first), Some(last)) if last > first => "Improved".into(),
        (Some(first), Some(last)) if last < first => "Declined".into(),
        _ if statement.moved => "Moved, then back".into(),
        _ => "Unchanged".into(),
    }
}

fn rank(rating: &str) -> Option<u8> {
    match rating {
        "red" => Some(0),
        "amber" => Some(1),
        "green" => Some(2),
        _ => None,
    }
}

/// How one quality indicator (a section of the framework) moved between a school's two
/// latest finalised audits: its statements rated in both that went up, stayed and went
/// down, and the latest audit's red, amber and green.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Movement {
    pub section_id: String,
    pub section: String,
    pub improved: u32,
    pub unchanged: u32,
    pub declined: u32,
    pub latest: [u32; 3],
}

/// Movement per quality indicator, in the framework's order. Empty with fewer than two
/// audits: there is nothing to move from. A statement not rated in either of the two is
/// not counted as moving; the latest counts are of what the latest audit rated.
pub fn movement_by_section(trend: &rd::AuditTrendResponse) -> Vec<Movement> {
    let n = trend.audits.len();
    if n < 2 {
        return vec![];
    }
    let mut sections: Vec<Movement> = Vec::new();
    for statement in &trend.statements {
        let at = match sections
            .iter()
            .position(|s| s.section_id == statement.section_id)
        {
            Some(at) => at,
            None => {
                sections.push(Movement {
                    section_id: statement.section_id.clone(),
                    section: statement.section_title.clone(),
                    ..Movement::default()
                });
                sections.len() - 1
            }
        };
        let section = &mut sections[at];
        let rating = |k: usize| statement.ratings.get(k).and_then(|r| rank(r));
        let (before, latest) = (rating(n - 2), rating(n - 1));
        if let Some(latest) = latest {
            section.latest[usize::from(latest)] += 1;
        }
        match (before, latest) {
            (Some(b), Some(l)) if l > b => section.improved += 1,
            (Some(b), Some(l)) if l < b => section.declined += 1,
            (Some(_), Some(_)) => section.unchanged += 1,
            _ => {}
        }
    }
    sections
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit_trend.html")]
pub struct TrendPage {
    nav: Nav,
    school: String,
    audits: Vec<(String, String)>,
    rows: Vec<TrendRow>,
}

/// A school's finalised audits over time: which statements moved, which stayed red.
pub async fn trend(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<TrendQuery>,
) -> Result<TrendPage, PageError> {
    let school: SchoolId = query.school.parse().map_err(|_| PageError::not_found())?;
    viewer.require_on_school(SchoolVerb::SeeTrends, school)?;
    let trend = state
        .clients(&viewer)
        .audits()
        .audit_trend(rd::AuditTrendRequest {
            school_id: school.to_string(),
            framework_id: query.framework.clone(),
        })
        .await?
        .into_inner();
    let labels = trend.labels.as_ref();
    Ok(TrendPage {
        nav: Nav::new(&state, &viewer, "audits").await,
        school: crate::web::school_name(&viewer, &school.to_string()),
        audits: trend
            .audits
            .iter()
            .zip(column_headings(&trend.audits))
            .map(|(a, heading)| (format!("/audits/{}", a.audit_id), heading))
            .collect(),
        rows: trend
            .statements
            .iter()
            .map(|s| TrendRow {
                text: s.text.clone(),
                ratings: s.ratings.iter().map(|r| rag(r, labels)).collect(),
                movement: movement(s, labels),
                stayed_red: s.stayed_red,
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
pub struct HeatMapQuery {
    #[serde(default)]
    framework: String,
}

pub struct HeatRow {
    pub school: String,
    pub href: String,
    pub finalised: String,
    pub ratings: Vec<Rag>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit_heat_map.html")]
pub struct HeatMapPage {
    nav: Nav,
    statements: Vec<(usize, String)>,
    rows: Vec<HeatRow>,
}

/// The trust's latest finalised audit per school, statement by statement: schools, never people.
pub async fn heat_map(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HeatMapQuery>,
) -> Result<HeatMapPage, PageError> {
    viewer.require_on_trust(TrustVerb::SeeOverview)?;
    let map = state
        .clients(&viewer)
        .audits()
        .heat_map(rd::HeatMapRequest {
            framework_id: query.framework,
        })
        .await?
        .into_inner();
    let labels = map.labels.as_ref();
    Ok(HeatMapPage {
        nav: Nav::new(&state, &viewer, "audits").await,
        statements: map
            .statements
            .iter()
            .enumerate()
            .map(|(n, s)| (n + 1, s.text.clone()))
            .collect(),
        rows: map
            .schools
            .iter()
            .map(|row| HeatRow {
                school: crate::web::school_name(&viewer, &row.school_id),
                href: format!("/audits/{}", row.audit_id),
                finalised: long_date(&row.finalised_on),
                ratings: row.ratings.iter().map(|r| rag(r, labels)).collect(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movement_is_counted_per_section_between_the_two_latest_audits() {
        let statement = |section: &str, ratings: &[&str]| rd::StatementTrend {
            section_id: section.into(),
            section_title: format!("QI {section}"),
            ratings: ratings.iter().map(|r| (*r).to_owned()).collect(),
            ..Default::default()
        };
        let point = rd::TrendPoint::default();
        let mut trend = rd::AuditTrendResponse {
            audits: vec![point.clone(), point.clone(), point],
            statements: vec![
                // Only the last two audits count: red, then amber to green is up.
                statement("1.1", &["red", "amber", "green"]),
                statement("1.1", &["green", "green", "amber"]),
                statement("1.1", &["amber", "amber", "amber"]),
                // Not rated last time: not moved, but counted in the latest.
                statement("2.3", &["red", "", "red"]),
                // Not rated this time: neither.
                statement("2.3", &["red", "green", ""]),
            ],
            ..Default::default()
        };
        let moved = movement_by_section(&trend);
        assert_eq!(
            moved,
            [
                Movement {
                    section_id: "1.1".into(),
                    section: "QI 1.1".into(),
                    improved: 1,
                    unchanged: 1,
                    declined: 1,
                    latest: [0, 2, 1],
                },
                Movement {
                    section_id: "2.3".into(),
                    section: "QI 2.3".into(),
                    latest: [1, 0, 0],
                    ..Movement::default()
                },
            ]
        );
        trend.audits.truncate(1);
        assert!(
            movement_by_section(&trend).is_empty(),
            "one audit moves nothing"
        );
    }

    #[test]
    fn audits_finalised_on_one_day_get_headings_that_tell_them_apart() {
        let point = |id: &str, on: &str| rd::TrendPoint {
            audit_id: id.into(),
            finalised_on: on.into(),
        };
        let audits = [
            point("a", "2026-10-05"),
            point("b", "2026-12-07"),
            point("c", "2026-12-07"),
        ];
        assert_eq!(
            column_headings(&audits),
            [
                "5 October 2026",
                "7 December 2026 (1 of 2)",
                "7 December 2026 (2 of 2)"
            ]
        );
    }

    fn statement(ratings: &[&str], moved: bool, stayed_red: bool) -> rd::StatementTrend {
        rd::StatementTrend {
            ratings: ratings.iter().map(|r| (*r).to_owned()).collect(),
            moved,
            stayed_red,
            ..Default::default()
        }
    }

    #[test]
    fn movement_says_which_way_in_the_trusts_words() {
        let renamed = rd::RagLabels {
            red: "Not yet".into(),
            amber: "Developing".into(),
            green: "Secure".into(),
        };
        let cases = [
            (
                statement(&["amber", "", "green"], true, false),
                None,
                "Improved",
            ),
            (statement(&["green", "red"], true, false), None, "Declined"),
            (
                statement(&["red", "green", "red"], true, false),
                None,
                "Moved, then back",
            ),
            (
                statement(&["amber", "amber"], false, false),
                None,
                "Unchanged",
            ),
            (statement(&["red", "red"], false, true), None, "Stayed red"),
            (
                statement(&["red", "red"], false, true),
                Some(&renamed),
                "Stayed at “Not yet”",
            ),
        ];
        for (trend, labels, said) in cases {
            assert_eq!(movement(&trend, labels), said, "{:?}", trend.ratings);
        }
    }
}
