//! The calendar: an agenda by week, half term or term — mine, or a whole school's for its
//! leaders — and each person's calendar feed (ICS) behind a secret address they can replace
//! or revoke.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::scheduling::v1 as sc;

use crate::directory::names;
use crate::error::PageError;
use crate::pages::lists;
use crate::session::{self, Viewer};
use crate::state::AppState;
use crate::web::{Fields, Nav, today, written};

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "progress_review" => "Progress review",
        "progress_meeting" => "Progress meeting",
        "visit" => "Visit",
        "action" => "Action due",
        _ => "Monitoring activity",
    }
}

/// One thing on a day.
#[derive(Debug, Clone)]
pub struct Item {
    /// Stable across feeds: the kind and the record's id.
    pub uid: String,
    pub date: NaiveDate,
    pub kind: &'static str,
    pub title: String,
    pub href: String,
    pub planned: bool,
}

impl Item {
    pub fn is_action(&self) -> bool {
        self.uid.starts_with("action-")
    }
}

/// Everything for `person` (or, with `None`, everyone at `school`) between two dates,
/// limited to what `viewer` may see.
pub async fn items(
    state: &AppState,
    viewer: &Viewer,
    school: Option<SchoolId>,
    person: Option<StaffId>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Item>, PageError> {
    let clients = state.clients(viewer);
    let people = names(&state.platform.pool, viewer.trust).await?;
    let school_id = school.map(|s| s.to_string()).unwrap_or_default();
    let person_id = person.map(|p| p.to_string()).unwrap_or_default();
    let in_range = |date: &str| {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .filter(|d| *d >= from && *d <= to)
    };
    let mut items = Vec::new();

    let occurrences = clients
        .scheduling()
        .list_occurrences(sc::ListOccurrencesRequest {
            school_id: school_id.clone(),
            person_id: person_id.clone(),
            from_date: from.to_string(),
            to_date: to.to_string(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .occurrences;
    for o in occurrences {
        let Some(date) = in_range(&o.date) else {
            continue;
        };
        // One record, not two: a planned entry held by a review, meeting or visit shows as
        // that record, to whoever may see it.
        if o.status == "cancelled"
            || !o.record_id.is_empty()
            || !viewer.sees_school_id(&o.school_id)
        {
            continue;
        }
        items.push(Item {
            uid: format!("occurrence-{}", o.occurrence_id),
            date,
            kind: kind_label(&o.kind),
            title: format!("Planned: {}", o.title),
            href: format!("/occurrences/{}", o.occurrence_id),
            planned: true,
        });
    }

    let reviews = lists::reviews(
        &clients,
        rd::ListReviewsRequest {
            school_id: school_id.clone(),
            from: from.to_string(),
            to: to.to_string(),
            ..Default::default()
        },
    )
    .await?;
    for r in reviews {
        let people_of = [&r.reviewer_id, &r.reviewee_id];
        if r.status == "cancelled" || person.is_some() && !people_of.contains(&&person_id) {
            continue;
        }
        let Some(date) = in_range(&r.window_closes) else {
            continue;
        };
        items.push(Item {
            uid: format!("review-{}", r.review_id),
            date,
            kind: "Progress review",
            title: format!(
                "Progress review: {} with {} (window closes)",
                r.year_group,
                people.of(&r.reviewee_id)
            ),
            href: format!("/reviews/{}", r.review_id),
            planned: false,
        });
    }

    let meetings = lists::meetings(
        &clients,
        rd::ListMeetingsRequest {
            school_id: school_id.clone(),
            from: from.to_string(),
            to: to.to_string(),
            ..Default::default()
        },
    )
    .await?;
    for m in meetings {
        if m.status == "cancelled"
            || person.is_some() && m.teacher_id != person_id && !m.leader_ids.contains(&person_id)
        {
            continue;
        }
        let Some(date) = in_range(&m.date) else {
            continue;
        };
        items.push(Item {
            uid: format!("meeting-{}", m.meeting_id),
            date,
            kind: "Progress meeting",
            title: format!(
                "Progress meeting: {} ({}) with {}",
                m.class_group,
                m.assessment_point,
                people.of(&m.teacher_id)
            ),
            href: format!("/meetings/{}", m.meeting_id),
            planned: false,
        });
    }

    let visits = lists::visits(
        &clients,
        rd::ListVisitsRequest {
            school_id: school_id.clone(),
            from: from.to_string(),
            to: to.to_string(),
            ..Default::default()
        },
    )
    .await?;
    for v in visits {
        if v.status == "cancelled"
            || person.is_some() && v.teacher_id != person_id && v.visitor_id != person_id
        {
            continue;
        }
        let Some(date) = in_range(&v.date) else {
            continue;
        };
        items.push(Item {
            uid: format!("visit-{}", v.visit_id),
            date,
            kind: "Visit",
            title: format!(
                "Visit: {} visits {}",
                people.of(&v.visitor_id),
                people.of(&v.teacher_id)
            ),
            href: format!("/visits/{}", v.visit_id),
            planned: false,
        });
    }

    if let Some(person) = person {
        let actions = clients
            .actions()
            .list_actions(at::ListActionsRequest {
                person_ids: vec![person.to_string()],
                due_on_or_before: to.to_string(),
                today: today(state).to_string(),
                limit: 1000,
                ..Default::default()
            })
            .await?
            .into_inner()
            .actions;
        for a in actions {
            let Some(date) = in_range(&a.due_date) else {
                continue;
            };
            items.push(Item {
                uid: format!("action-{}", a.action_id),
                date,
                kind: "Action due",
                title: format!("Action due: {}", a.description),
                href: format!("/actions/{}", a.action_id),
                planned: false,
            });
        }
    }
    items.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.title.cmp(&b.title)));
    Ok(items)
}

#[derive(Debug, Default, Deserialize)]
pub struct AgendaQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    school: String,
}

pub struct Day {
    pub label: String,
    pub items: Vec<Item>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/calendar.html")]
pub struct AgendaPage {
    nav: Nav,
    heading: String,
    /// Why a term or half term shows as a week instead.
    note: Option<String>,
    view: String,
    date: String,
    school: String,
    schools: Vec<Choice>,
    days: Vec<Day>,
    previous: String,
    next: String,
}

/// The period an agenda shows: its first and last days, its heading, and a note when the
/// term or half term asked for could not be found.
struct Period {
    from: NaiveDate,
    to: NaiveDate,
    heading: String,
    note: Option<String>,
}

/// The week, half term or term around `date`, from the school's calendar where it has one.
async fn range(
    state: &AppState,
    viewer: &Viewer,
    school: Option<SchoolId>,
    view: &str,
    date: NaiveDate,
) -> Result<Period, PageError> {
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    let week = |note: Option<String>| Period {
        from: monday,
        to: monday + Duration::days(6),
        heading: format!("Week of {}", written(monday)),
        note,
    };
    if view != "term" && view != "half-term" {
        return Ok(week(None));
    }
    let Some(school) = school.or_else(|| viewer.schools().first().copied()) else {
        return Ok(week(Some(
            "Terms come from a school’s calendar, and you are not in a school: showing the week."
                .into(),
        )));
    };
    let period = |from, to, heading| {
        Ok(Period {
            from,
            to,
            heading,
            note: None,
        })
    };
    let calendar = state
        .clients(viewer)
        .scheduling()
        .get_calendar(sc::GetCalendarRequest {
            school_id: school.to_string(),
        })
        .await?
        .into_inner();
    let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    for year in &calendar.years {
        for term in &year.terms {
            let (Some(starts), Some(ends)) = (parse(&term.starts), parse(&term.ends)) else {
                continue;
            };
            if date < starts || date > ends {
                continue;
            }
            if view == "term" {
                return period(starts, ends, term.name.clone());
            }
            // Half terms: the term split by a holiday inside it.
            let split = year
                .holidays
                .iter()
                .filter_map(|h| Some((parse(&h.starts)?, parse(&h.ends)?)))
                .find(|(s, e)| *s > starts && *e < ends);
            return match split {
                Some((hs, _)) if date < hs => period(
                    starts,
                    hs - Duration::days(1),
                    format!("{}, first half", term.name),
                ),
                Some((_, he)) => period(
                    he + Duration::days(1),
                    ends,
                    format!("{}, second half", term.name),
                ),
                None => period(starts, ends, term.name.clone()),
            };
        }
    }
    // No term holds the date (a holiday, or no calendar yet): show the week, and say why.
    Ok(week(Some(format!(
        "{} has no term on {} in its calendar: showing the week.",
        crate::web::school_name(viewer, &school.to_string()),
        written(date)
    ))))
}

pub async fn agenda(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<AgendaQuery>,
) -> Result<AgendaPage, PageError> {
    let date = NaiveDate::parse_from_str(&query.date, "%Y-%m-%d").unwrap_or_else(|_| today(&state));
    let school = if query.school.is_empty() {
        None
    } else {
        let school: SchoolId = query.school.parse().map_err(|_| PageError::not_found())?;
        if !viewer.leads(school) {
            return Err(PageError::not_found());
        }
        Some(school)
    };
    let view = match query.view.as_str() {
        "term" | "half-term" => query.view.clone(),
        _ => "week".to_owned(),
    };
    let Period {
        from,
        to,
        heading,
        note,
    } = range(&state, &viewer, school, &view, date).await?;
    let person = if school.is_some() {
        None
    } else {
        Some(viewer.staff)
    };
    let items = items(&state, &viewer, school, person, from, to).await?;
    let mut days: Vec<Day> = Vec::new();
    for item in items {
        let label = item.date.format("%A %-d %B").to_string();
        match days.last_mut() {
            Some(day) if day.label == label => day.items.push(item),
            _ => days.push(Day {
                label,
                items: vec![item],
            }),
        }
    }
    let schools = viewer
        .schools()
        .into_iter()
        .filter(|s| viewer.leads(*s))
        .map(|s| Choice {
            value: s.to_string(),
            label: format!(
                "Everyone at {}",
                crate::web::school_name(&viewer, &s.to_string())
            ),
            selected: school == Some(s),
        })
        .collect();
    Ok(AgendaPage {
        nav: Nav::new(&state, &viewer, "calendar").await,
        heading,
        note,
        view,
        date: date.to_string(),
        school: query.school,
        schools,
        days,
        previous: (from - Duration::days(1)).to_string(),
        next: (to + Duration::days(1)).to_string(),
    })
}

// --- The calendar feed ----------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "pages/calendar_feed.html")]
pub struct FeedPage {
    nav: Nav,
    has_feed: bool,
    new_url: Option<String>,
}

async fn has_feed(state: &AppState, viewer: &Viewer) -> Result<bool, PageError> {
    Ok(sqlx::query_scalar!(
        "SELECT count(*) FROM gateway.calendar_feeds WHERE trust_id = $1 AND staff_id = $2",
        viewer.trust.into_uuid(),
        viewer.staff.into_uuid()
    )
    .fetch_one(&state.platform.pool)
    .await?
    .unwrap_or(0)
        > 0)
}

pub async fn feed_page(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<FeedPage, PageError> {
    Ok(FeedPage {
        nav: Nav::new(&state, &viewer, "calendar").await,
        has_feed: has_feed(&state, &viewer).await?,
        new_url: None,
    })
}

/// A new secret address; the old one stops working. Shown once: only its hash is kept.
pub async fn new_feed(
    State(state): State<AppState>,
    viewer: Viewer,
    _fields: Fields,
) -> Result<FeedPage, PageError> {
    let (token, hash) = session::new_token();
    let mut tx = state.platform.pool.begin().await?;
    sqlx::query!(
        "DELETE FROM gateway.calendar_feeds WHERE trust_id = $1 AND staff_id = $2",
        viewer.trust.into_uuid(),
        viewer.staff.into_uuid()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO gateway.calendar_feeds (token_hash, trust_id, staff_id) VALUES ($1, $2, $3)",
        hash,
        viewer.trust.into_uuid(),
        viewer.staff.into_uuid()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let url = format!("{}/calendar/feeds/{token}.ics", state.settings.public_url);
    Ok(FeedPage {
        nav: Nav::new(&state, &viewer, "calendar").await,
        has_feed: true,
        new_url: Some(url),
    })
}

pub async fn revoke_feed(
    State(state): State<AppState>,
    viewer: Viewer,
    _fields: Fields,
) -> Result<Response, PageError> {
    sqlx::query!(
        "DELETE FROM gateway.calendar_feeds WHERE trust_id = $1 AND staff_id = $2",
        viewer.trust.into_uuid(),
        viewer.staff.into_uuid()
    )
    .execute(&state.platform.pool)
    .await?;
    Ok(crate::web::see("/calendar/feed"))
}

/// The feed itself: no session (calendar programs have none); the secret address is the key.
pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, PageError> {
    let token = file.strip_suffix(".ics").ok_or_else(PageError::not_found)?;
    let row = sqlx::query!(
        "SELECT trust_id, staff_id FROM gateway.calendar_feeds WHERE token_hash = $1",
        session::hash(token)
    )
    .fetch_optional(&state.platform.pool)
    .await?
    .ok_or_else(PageError::not_found)?;
    let viewer = session::viewer_of(
        &state,
        TrustId::from_uuid(row.trust_id),
        StaffId::from_uuid(row.staff_id),
        String::new(),
    )
    .await?
    .ok_or_else(PageError::not_found)?;
    let today = today(&state);
    let items = items(
        &state,
        &viewer,
        None,
        Some(viewer.staff),
        today - Duration::days(60),
        today + Duration::days(400),
    )
    .await?;
    let body = ics(
        &state.settings.public_url,
        state.platform.clock.now(),
        &items,
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response())
}

/// An iCalendar file of all-day events (RFC 5545: `DTEND` is the day after, exclusive).
pub fn ics(base: &str, now: chrono::DateTime<chrono::Utc>, items: &[Item]) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".into(),
        "PRODID:-//Waymark//Calendar//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "X-WR-CALNAME:Waymark".into(),
    ];
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    for item in items {
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}@waymark", item.uid));
        lines.push(format!("DTSTAMP:{stamp}"));
        lines.push(format!("DTSTART;VALUE=DATE:{}", item.date.format("%Y%m%d")));
        lines.push(format!(
            "DTEND;VALUE=DATE:{}",
            (item.date + Duration::days(1)).format("%Y%m%d")
        ));
        lines.push(format!("SUMMARY:{}", escape(&item.title)));
        lines.push(format!("URL:{base}{}", item.href));
        lines.push("TRANSP:TRANSPARENT".into());
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    lines
        .iter()
        .map(|line| fold(line))
        .collect::<Vec<_>>()
        .join("")
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// Lines of at most 75 octets, continued with a space, never splitting a character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_day_events_end_the_next_day_and_lines_fold() {
        let item = Item {
            uid: "action-1".into(),
            date: NaiveDate::from_ymd_opt(2027, 2, 28).unwrap(),
            kind: "Action due",
            title: "Action due: a long description, with commas; and semicolons — that runs well past seventy-five octets".into(),
            href: "/actions/1".into(),
            planned: false,
        };
        let text = ics("https://w.example", chrono::Utc::now(), &[item]);
        assert!(text.contains("DTSTART;VALUE=DATE:20270228\r\n"));
        assert!(text.contains("DTEND;VALUE=DATE:20270301\r\n"));
        assert!(text.contains("UID:action-1@waymark\r\n"));
        assert!(text.contains("\\, with commas\\; and"));
        assert!(text.lines().all(|line| line.len() <= 75));
        assert!(text.contains("\r\n "));
    }
}
