//! The inbox of reminders and notices, and each person's notification preferences.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use waymark_proto::notifications::v1 as nt;

use crate::error::PageError;
use crate::pages::actions::when;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, refusal, refused_page, see};

pub struct Notice {
    pub id: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub when: String,
    pub read: bool,
    pub urgent: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/inbox.html")]
pub struct InboxPage {
    nav: Nav,
    notices: Vec<Notice>,
    unread: i64,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<InboxPage, PageError> {
    let inbox = state
        .clients(&viewer)
        .notifications()
        .list_inbox(nt::ListInboxRequest {
            unread_only: false,
            limit: 100,
        })
        .await?
        .into_inner();
    let notices = inbox
        .notices
        .into_iter()
        .map(|n| Notice {
            // Only our own pages are linked to; notices from before links were stored as
            // paths carry the public address in front.
            link: {
                let link = n
                    .link
                    .strip_prefix(state.settings.public_url.as_str())
                    .unwrap_or(&n.link);
                if waymark_domain::pages::is_path(link) {
                    link.to_owned()
                } else {
                    String::new()
                }
            },
            when: when(&n.created_at),
            id: n.notice_id,
            title: n.title,
            body: n.body,
            read: n.read,
            urgent: n.urgent,
        })
        .collect();
    Ok(InboxPage {
        nav: Nav::new(&state, &viewer, "inbox").await,
        notices,
        unread: inbox.unread,
    })
}

/// Marks the notices named (or, with none named, every unread one) as read.
pub async fn mark_read(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let mut client = state.clients(&viewer).notifications();
    let mut ids = fields.all("notice_id");
    if ids.is_empty() {
        let unread = client
            .list_inbox(nt::ListInboxRequest {
                unread_only: true,
                limit: 500,
            })
            .await?
            .into_inner();
        ids = unread.notices.into_iter().map(|n| n.notice_id).collect();
    }
    if !ids.is_empty() {
        client
            .mark_read(nt::MarkReadRequest { notice_ids: ids })
            .await?;
    }
    Ok(see("/inbox"))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/preferences.html")]
pub struct PreferencesPage {
    nav: Nav,
    preferences: nt::Preferences,
    saved: bool,
    error: Option<String>,
}

pub async fn preferences(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<PreferencesPage, PageError> {
    let preferences = state
        .clients(&viewer)
        .notifications()
        .get_preferences(nt::GetPreferencesRequest {})
        .await?
        .into_inner();
    let saved = query.is_some_and(|q| q.contains("saved=1"));
    Ok(PreferencesPage {
        nav: Nav::new(&state, &viewer, "inbox").await,
        preferences,
        saved,
        error: None,
    })
}

pub async fn save_preferences(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let wanted = nt::Preferences {
        email: fields.checked("email"),
        webhook: fields.checked("webhook"),
        mode: fields.trimmed("mode"),
        weekly_digest: fields.checked("weekly_digest"),
        quiet_from: fields.trimmed("quiet_from"),
        quiet_to: fields.trimmed("quiet_to"),
    };
    match state
        .clients(&viewer)
        .notifications()
        .set_preferences(wanted.clone())
        .await
    {
        Ok(_) => Ok(see("/preferences?saved=1")),
        Err(status) => {
            let error = Some(refusal(status)?);
            Ok(refused_page(PreferencesPage {
                nav: Nav::new(&state, &viewer, "inbox").await,
                preferences: wanted,
                saved: false,
                error,
            }))
        }
    }
}
