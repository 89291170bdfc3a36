//! `/access-log`: who opened the reviews, visits, meetings and audits about the viewer, and
//! what they got; trust administrators search everyone's. Review dialogue keeps the log and
//! decides who sees which entries; this page only asks.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::Response;
use waymark_policy::TrustVerb;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::names;
use crate::error::PageError;
use crate::pages::finding::{answered, list_page, urlencode};
use crate::pages::people::Person;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::Nav;

/// What the log is narrowed to.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct Search {
    /// Whose records (trust administrators).
    pub person: String,
    /// Who read (trust administrators).
    pub reader: String,
    pub from: String,
    pub to: String,
    pub page: u32,
}

pub struct Row {
    pub when: String,
    pub reader: String,
    pub what: String,
    pub href: Option<String>,
    pub about: String,
    pub seen: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/access_log.html")]
pub struct Page {
    nav: Nav,
    rows: Vec<Row>,
    everyone: bool,
    people: Vec<Person>,
    search: Search,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

fn what(kind: &str) -> &'static str {
    match kind {
        "review" => "Progress review",
        "visit" => "Monitoring visit",
        "meeting" => "Progress meeting",
        "export" => "Everything held about them (a subject-access export)",
        _ => "Self-evaluation audit",
    }
}

fn seen(seen: &str) -> &'static str {
    match seen {
        "full" => "Read it",
        "status" => "Saw its status only",
        _ => "Was refused",
    }
}

/// `GET /access-log`
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let everyone = viewer.may_on_trust(TrustVerb::SeeAccessLog);
    let (found, error) = answered(
        state
            .clients(&viewer)
            .reviews()
            .list_access_log(rd::ListAccessLogRequest {
                subject_id: if everyone {
                    search.person.clone()
                } else {
                    String::new()
                },
                reader_id: if everyone {
                    search.reader.clone()
                } else {
                    String::new()
                },
                from: search.from.clone(),
                to: search.to.clone(),
                page: search.page,
            })
            .await,
    )?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let rows = found
        .entries
        .into_iter()
        .map(|e| Row {
            when: e.at.replace('T', " ").trim_end_matches('Z').to_owned() + " UTC",
            reader: people.of(&e.reader_id),
            what: what(&e.record_kind).to_owned(),
            href: match (e.seen.as_str(), e.record_kind.as_str()) {
                ("refused", _) | (_, "export") => None,
                (_, "review") => Some(format!("/reviews/{}", e.record_id)),
                (_, "visit") => Some(format!("/visits/{}", e.record_id)),
                (_, "meeting") => Some(format!("/meetings/{}", e.record_id)),
                _ => Some(format!("/audits/{}", e.record_id)),
            },
            about: e
                .subject_ids
                .iter()
                .map(|s| people.of(s))
                .collect::<Vec<_>>()
                .join(", "),
            seen: seen(&e.seen),
        })
        .collect();
    let query = [
        ("person", &search.person),
        ("reader", &search.reader),
        ("from", &search.from),
        ("to", &search.to),
    ]
    .iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| format!("{key}={}&", urlencode(value)))
    .collect::<String>();
    let page_href = |page: u32| format!("/access-log?{query}page={page}");
    let refused = error.is_some();
    let shown = Page {
        nav: Nav::new(&state, &viewer, "inbox").await,
        rows,
        everyone,
        people: if everyone {
            crate::pages::people::everyone(&viewer, &people)
        } else {
            Vec::new()
        },
        previous: (search.page > 0).then(|| page_href(search.page - 1)),
        next: found.more.then(|| page_href(search.page + 1)),
        search,
        error,
    };
    Ok(list_page(shown, refused))
}
