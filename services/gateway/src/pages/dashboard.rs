//! Home: my actions due this week (overdue first), records awaiting my agreement, and what is
//! coming up for me.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::Duration;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Nav, Tag, long_date, tag, today, written};

pub struct ActionRow {
    pub id: String,
    pub description: String,
    pub due: String,
    pub tag: Tag,
}

pub struct Awaiting {
    pub href: String,
    pub title: String,
}

pub struct Upcoming {
    pub href: String,
    pub title: String,
    pub date: String,
    pub kind: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/dashboard.html")]
pub struct Dashboard {
    nav: Nav,
    actions: Vec<ActionRow>,
    awaiting: Vec<Awaiting>,
    upcoming: Vec<Upcoming>,
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Dashboard, PageError> {
    let clients = state.clients(&viewer);
    let today = today(&state);
    let me = viewer.staff.to_string();
    let mut actions = clients
        .actions()
        .list_actions(at::ListActionsRequest {
            person_ids: vec![me.clone()],
            due_on_or_before: (today + Duration::days(7)).to_string(),
            today: today.to_string(),
            limit: 200,
            ..Default::default()
        })
        .await?
        .into_inner()
        .actions;
    // Overdue first, then soonest due.
    actions.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then_with(|| a.due_date.cmp(&b.due_date))
    });
    let actions = actions.into_iter().map(action_row).collect();

    let waiting = clients
        .reviews()
        .awaiting_agreement(rd::AwaitingAgreementRequest {
            person_id: me.clone(),
        })
        .await?
        .into_inner();
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut awaiting: Vec<Awaiting> = waiting
        .reviews
        .iter()
        .map(|r| Awaiting {
            href: format!("/reviews/{}", r.review_id),
            title: format!(
                "Progress review of {} with {}",
                r.year_group,
                people.of(&r.reviewee_id)
            ),
        })
        .collect();
    awaiting.extend(waiting.visits.iter().map(|v| Awaiting {
        href: format!("/visits/{}", v.visit_id),
        title: format!(
            "Visit to {} on {}",
            people.of(&v.teacher_id),
            long_date(&v.date)
        ),
    }));

    // The same items as my calendar (planned monitoring and the records themselves), less
    // the actions, which have their own panel.
    let upcoming = crate::pages::calendar::items(
        &state,
        &viewer,
        None,
        Some(viewer.staff),
        today,
        today + Duration::days(28),
    )
    .await?
    .into_iter()
    .filter(|item| !item.is_action())
    .take(20)
    .map(|item| Upcoming {
        date: written(item.date),
        kind: item.kind.to_owned(),
        title: item.title,
        href: item.href,
    })
    .collect();
    Ok(Dashboard {
        nav: Nav::new(&state, &viewer, "home").await,
        actions,
        awaiting,
        upcoming,
    })
}

pub fn action_row(action: at::Action) -> ActionRow {
    let status = if action.overdue {
        "overdue"
    } else {
        action.status.as_str()
    };
    ActionRow {
        tag: tag(status),
        id: action.action_id,
        description: action.description,
        due: long_date(&action.due_date),
    }
}
