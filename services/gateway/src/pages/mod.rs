//! The pages. Each module authorises per object: a record of another trust never reaches
//! here (the services scope by trust), and one of another school, or of other people
//! without a leader's role there, answers 404 exactly as if it did not exist.

mod access_log;
mod actions;
mod admin;
mod audit_print;
mod audit_trail;
mod audit_trends;
mod audits;
mod calendar;
mod chart;
mod dashboard;
mod evidence;
mod export;
mod files;
mod finding;
mod frameworks;
mod inbox;
mod lists;
mod meetings;
mod occurrences;
mod people;
mod plan;
mod priorities;
mod review_compare;
mod reviews;
mod sharing;
mod staff;
mod subject_access;
mod trust;
mod visit_fairness;
mod visits;
mod webhooks;

use axum::Router;
use axum::routing::{get, post};
use waymark_domain::pages as links;

pub use files::Kind as FileKind;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(links::HOME, get(dashboard::page))
        .route("/access-log", get(access_log::page))
        .route("/actions", get(actions::list))
        .route("/actions.csv", get(actions::csv))
        .route("/reviews.csv", get(export::reviews))
        .route("/meetings.csv", get(export::meetings))
        .route("/visits.csv", get(export::visits))
        .route("/audits.csv", get(export::audits))
        .route(links::ACTION, get(actions::detail))
        .route("/actions/{id}/{verb}", post(actions::act))
        .route(
            "/actions/{id}/files",
            post(files::upload).layer(files::body_limit()),
        )
        .route("/actions/{id}/files/{file}", get(files::file))
        .route("/actions/{id}/files/{file}/remove", post(files::remove))
        .route("/reviews", get(reviews::list).post(reviews::schedule))
        .route("/reviews/new", get(reviews::new))
        .route("/reviews/compare", get(review_compare::compare))
        .route(links::REVIEW, get(reviews::detail))
        .route("/reviews/{id}/record", get(reviews::record))
        .route("/reviews/{id}/autosave", post(reviews::autosave))
        .route("/reviews/{id}/{verb}", post(reviews::act))
        .route(
            "/reviews/{id}/files",
            post(files::upload).layer(files::body_limit()),
        )
        .route("/reviews/{id}/files/{file}", get(files::file))
        .route("/reviews/{id}/files/{file}/remove", post(files::remove))
        .route("/meetings", get(meetings::list).post(meetings::schedule))
        .route("/meetings/new", get(meetings::new))
        .route(links::MEETING, get(meetings::detail))
        .route("/meetings/{id}/record", get(meetings::record))
        .route("/meetings/{id}/{verb}", post(meetings::act))
        .route(
            "/meetings/{id}/files",
            post(files::upload).layer(files::body_limit()),
        )
        .route("/meetings/{id}/files/{file}", get(files::file))
        .route("/meetings/{id}/files/{file}/remove", post(files::remove))
        .route("/visits", get(visits::list).post(visits::plan))
        .route("/visits/requests", post(visit_fairness::ask))
        .route("/visits/new", get(visits::new))
        .route(links::VISIT, get(visits::detail))
        // `record` is a verb (writing the record), so the printable record is `print`.
        .route("/visits/{id}/print", get(visits::print))
        .route("/visits/{id}/{verb}", post(visits::act))
        .route(
            "/visits/{id}/files",
            post(files::upload).layer(files::body_limit()),
        )
        .route("/visits/{id}/files/{file}", get(files::file))
        .route("/visits/{id}/files/{file}/remove", post(files::remove))
        .route(
            "/audits/{id}/files",
            post(files::upload).layer(files::body_limit()),
        )
        .route("/audits/{id}/files/{file}", get(files::file))
        .route("/audits/{id}/files/{file}/remove", post(files::remove))
        .route(
            "/occurrences/{id}/files",
            post(files::upload).layer(files::body_limit()),
        )
        .route("/occurrences/{id}/files/{file}", get(files::file))
        .route("/occurrences/{id}/files/{file}/remove", post(files::remove))
        .route(links::OCCURRENCE, get(occurrences::detail))
        .route("/occurrences/{id}/{verb}", post(occurrences::act))
        .route("/priorities", get(priorities::list).post(priorities::add))
        .route("/priorities/tie", post(priorities::tie))
        .route("/priorities/{id}", get(priorities::detail))
        .route("/priorities/{id}/{verb}", post(priorities::act))
        .route("/calendar", get(calendar::agenda))
        .route(
            "/calendar/feed",
            get(calendar::feed_page).post(calendar::new_feed),
        )
        .route("/calendar/feed/revoke", post(calendar::revoke_feed))
        .route("/calendar/feeds/{token}", get(calendar::feed))
        .merge(admin::routes())
        .merge(frameworks::routes())
        .route("/trust", get(trust::overview))
        .route("/schools/overview", get(trust::schools_overview))
        .route(links::INBOX, get(inbox::list))
        .route("/inbox/read", post(inbox::mark_read))
        .route(
            links::PREFERENCES,
            get(inbox::preferences).post(inbox::save_preferences),
        )
        .route("/audits", get(audits::list).post(audits::start))
        .route("/audits/new", get(audits::new))
        .route("/audits/trend", get(audit_trends::trend))
        .route("/audits/heat-map", get(audit_trends::heat_map))
        .route("/audits/{id}", get(audits::detail))
        // `{verb}` below takes posts; the printable record is read.
        .route("/audits/{id}/print", get(audit_print::print))
        .route(
            "/audits/{id}/statements/{statement}",
            get(audits::statement).post(audits::rate),
        )
        .route("/audits/{id}/{verb}", post(audits::act))
}
