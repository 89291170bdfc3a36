//! Two agreed reviews of a year group side by side: which look-fors moved between them.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Nav, long_date};

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    school: String,
    year_group: String,
    academic_year: String,
    #[serde(default)]
    reviewee: String,
}

pub struct Change {
    pub label: String,
    pub change: &'static str,
    pub first: String,
    pub second: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/review_compare.html")]
pub struct ComparePage {
    nav: Nav,
    year_group: String,
    reviewee: String,
    first: String,
    second: String,
    first_href: String,
    second_href: String,
    changes: Vec<Change>,
}

/// The year group's two agreed reviews side by side: what moved between them.
pub async fn compare(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CompareQuery>,
) -> Result<ComparePage, PageError> {
    // Another trust's or another school's year group is simply not there, whatever the
    // service would say of it.
    if !viewer.sees_school_id(&query.school) {
        return Err(PageError::not_found());
    }
    let compared = state
        .clients(&viewer)
        .reviews()
        .compare_reviews(rd::CompareReviewsRequest {
            school_id: query.school.clone(),
            year_group: query.year_group.clone(),
            academic_year: query.academic_year.clone(),
            reviewee_id: query.reviewee.clone(),
        })
        .await;
    // Review dialogue compares only records the viewer may read: without two of them, there
    // is no comparison for this viewer to see.
    let comparison = match compared {
        Ok(reply) => reply.into_inner(),
        Err(status)
            if waymark_runtime::ServiceError::from_status(&status).code
                == "review.nothing_to_compare" =>
        {
            return Err(PageError::not_found());
        }
        Err(status) => return Err(status.into()),
    };
    let (Some(first), Some(second)) = (comparison.first, comparison.second) else {
        return Err(PageError::not_found());
    };
    let people = names(&state.platform.pool, viewer.trust).await?;
    Ok(ComparePage {
        nav: Nav::new(&state, &viewer, "reviews").await,
        year_group: first.year_group.clone(),
        reviewee: people.of(&first.reviewee_id),
        first: long_date(&first.window_closes),
        second: long_date(&second.window_closes),
        first_href: format!("/reviews/{}", first.review_id),
        second_href: format!("/reviews/{}", second.review_id),
        changes: comparison
            .changes
            .into_iter()
            .map(|c| Change {
                change: match c.change.as_str() {
                    "focus_covered" => "Area to focus covered",
                    "focus_repeated" => "Still an area to focus",
                    "new_exemplary" => "Newly exemplary",
                    "exemplary_kept" => "Still exemplary",
                    _ => "Changed",
                },
                label: c.label,
                first: c.first_comment,
                second: c.second_comment,
            })
            .collect(),
    })
}
