//! A school's records that a self-evaluation rating can point to as its evidence: agreed
//! progress reviews, closed progress meetings, agreed visits and actions — only those the
//! viewer may see, the most recent of each kind.

use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::long_date;

/// How many of each kind are offered.
const EACH: usize = 15;

pub struct Record {
    /// `kind:id`, as a form posts it.
    pub value: String,
    pub label: String,
}

/// Where a record of this kind lives, for linking to it.
pub fn href(kind: &str, id: &str) -> Option<String> {
    let base = match kind {
        "review" => "reviews",
        "meeting" => "meetings",
        "visit" => "visits",
        "action" => "actions",
        _ => return None,
    };
    Some(format!("/{base}/{id}"))
}

/// What to call a linked record the viewer was not offered (someone else's link).
pub fn generic_label(kind: &str) -> &'static str {
    match kind {
        "review" => "A progress review",
        "meeting" => "A progress meeting",
        "visit" => "A monitoring visit",
        _ => "An action",
    }
}

/// Newest first, at most `EACH`.
fn newest<T>(mut records: Vec<(String, T)>) -> impl Iterator<Item = T> {
    records.sort_by(|a, b| b.0.cmp(&a.0));
    records.into_iter().take(EACH).map(|(_, r)| r)
}

pub async fn records_of(
    state: &AppState,
    viewer: &Viewer,
    school: &str,
) -> Result<Vec<Record>, PageError> {
    let clients = state.clients(viewer);
    let people = names(&state.platform.pool, viewer.trust).await?;
    let mut records = Vec::new();

    let reviews = clients
        .reviews()
        .list_reviews(rd::ListReviewsRequest {
            school_id: school.to_owned(),
            status: "agreed".to_owned(),
            newest_first: true,
            page_size: EACH as u32,
            ..Default::default()
        })
        .await?
        .into_inner()
        .reviews
        .into_iter()
        .filter(|r| r.status == "agreed" && !r.redacted)
        .map(|r| {
            let record = Record {
                value: format!("review:{}", r.review_id),
                label: format!(
                    "Progress review: {} with {} ({})",
                    r.year_group,
                    people.of(&r.reviewee_id),
                    r.academic_year
                ),
            };
            (r.window_closes, record)
        })
        .collect();
    records.extend(newest(reviews));

    let meetings = clients
        .reviews()
        .list_meetings(rd::ListMeetingsRequest {
            school_id: school.to_owned(),
            status: "closed".to_owned(),
            newest_first: true,
            page_size: EACH as u32,
            ..Default::default()
        })
        .await?
        .into_inner()
        .meetings
        .into_iter()
        .filter(|m| m.status == "closed" && !m.redacted)
        .map(|m| {
            let record = Record {
                value: format!("meeting:{}", m.meeting_id),
                label: format!(
                    "Progress meeting: {} ({}) with {}, {}",
                    m.class_group,
                    m.assessment_point,
                    people.of(&m.teacher_id),
                    long_date(&m.date)
                ),
            };
            (m.date, record)
        })
        .collect();
    records.extend(newest(meetings));

    let visits = clients
        .reviews()
        .list_visits(rd::ListVisitsRequest {
            school_id: school.to_owned(),
            status: "agreed".to_owned(),
            newest_first: true,
            page_size: EACH as u32,
            ..Default::default()
        })
        .await?
        .into_inner()
        .visits
        .into_iter()
        .filter(|v| v.status == "agreed" && !v.redacted)
        .map(|v| {
            let record = Record {
                value: format!("visit:{}", v.visit_id),
                label: format!(
                    "Visit: {} visited {}, {}",
                    people.of(&v.visitor_id),
                    people.of(&v.teacher_id),
                    long_date(&v.date)
                ),
            };
            (v.date, record)
        })
        .collect();
    records.extend(newest(visits));

    let actions = clients
        .actions()
        .list_actions(at::ListActionsRequest {
            school_id: school.to_owned(),
            statuses: ["open", "in_progress", "done"].map(String::from).to_vec(),
            limit: 500,
            ..Default::default()
        })
        .await?
        .into_inner()
        .actions
        .into_iter()
        .map(|a| {
            let record = Record {
                value: format!("action:{}", a.action_id),
                label: format!(
                    "Action: {} ({}, due {})",
                    a.description,
                    people.of(&a.owner_id),
                    long_date(&a.due_date)
                ),
            };
            (a.due_date, record)
        })
        .collect();
    records.extend(newest(actions));
    Ok(records)
}
