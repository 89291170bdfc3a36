//! Errors as pages. Statuses come from the runtime's one table; another trust's or another
//! school's records answer 404, exactly like records that do not exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use waymark_runtime::{ErrorKind, ServiceError};

#[derive(Debug)]
pub enum PageError {
    /// Not signed in: off to the sign-in page.
    SignIn,
    Status(StatusCode, String),
}

impl PageError {
    pub fn not_found() -> Self {
        Self::Status(StatusCode::NOT_FOUND, "Page not found".into())
    }

    pub fn forbidden() -> Self {
        Self::Status(
            StatusCode::FORBIDDEN,
            "You do not have access to this page".into(),
        )
    }

    /// A record the viewer may know of (who, when, its state) but not read.
    pub fn private(what: &str) -> Self {
        Self::Status(
            StatusCode::FORBIDDEN,
            format!(
                "What this {what} says stays between the people in it until they have agreed it."
            ),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Status(StatusCode::BAD_REQUEST, message.into())
    }
}

impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> Self {
        match error.kind {
            // Whether it exists elsewhere is nobody's business.
            ErrorKind::NotFound => Self::not_found(),
            ErrorKind::Unauthenticated => Self::SignIn,
            ErrorKind::Unavailable | ErrorKind::Internal => Self::Status(
                error.kind.http_status(),
                "Sorry, something is not working. Try again in a moment.".into(),
            ),
            kind => Self::Status(kind.http_status(), error.message),
        }
    }
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        ServiceError::from_status(&status).into()
    }
}

impl From<sqlx::Error> for PageError {
    fn from(error: sqlx::Error) -> Self {
        ServiceError::from(error).into()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/sign-in").into_response(),
            Self::Status(status, message) => {
                let title = status.canonical_reason().unwrap_or("Error").to_owned();
                (status, ErrorPage { title, message }).into_response()
            }
        }
    }
}
