//! The gateway: the web app staff use. It signs people in, keeps the directory (trusts,
//! schools, staff, roles, line management) and sessions, authorises every request per object,
//! and renders pages from what the services answer over gRPC. It never reads another
//! service's tables.

mod contacts;
mod directory;
mod error;
pub mod housekeeping;
mod invitation_mail;
mod pages;
mod session;
pub mod settings;
mod sign_in;
mod sso;
mod state;
mod web;

pub mod bootstrap;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use waymark_runtime::Platform;

pub use directory::gateway_actor;
pub use settings::Settings;
use state::AppState;
pub use state::{Channels, Clients, Signed};

pub const NAME: &str = "gateway";

/// Where the gateway's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "gateway._sqlx_migrations";

/// The gateway's migrations.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("gateway");
    migrator.dangerous_set_table_name(SCHEMA_HISTORY);
    migrator
}

/// Creates or upgrades the gateway's schema.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    migrator().run(pool).await
}

/// Runs the gateway on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    platform.ready_schema(migrator(), SCHEMA_HISTORY).await?;
    let settings = Arc::new(Settings::from_config(&platform.config)?);
    let wake_contacts = Arc::new(tokio::sync::Notify::new());
    let (directory, projection) = platform.spawn_projection(
        Arc::new(directory::DirectoryView {
            contacts: wake_contacts.clone(),
        }),
        shutdown.clone(),
    );
    let state = AppState {
        platform: platform.clone(),
        settings,
        channels: Channels::new(&platform)?,
        directory,
        policies: Arc::new(waymark_policy::Policies::load()?),
    };
    let contacts = contacts::spawn_sender(state.clone(), wake_contacts, shutdown.clone());
    let housekeeping = housekeeping::spawn(
        platform.clone(),
        state.settings.web.clone(),
        shutdown.clone(),
    );
    tracing::info!(service = NAME, address = %listener.local_addr()?, "listening");
    // The client's address is counted in sign-in failures (`sign_in`).
    axum::serve(
        waymark_runtime::grpc::no_delay(listener),
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await?;
    shutdown.cancel();
    projection.await?;
    contacts.await?;
    housekeeping.await?;
    Ok(())
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/assets/{file}", get(asset))
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/sign-in/{trust}", get(sign_in::trust_page))
        .route("/sign-out", post(sign_in::sign_out))
        .route(
            waymark_domain::pages::INVITATION,
            get(sign_in::invitation_page).post(sign_in::accept_invitation),
        )
        .route("/sso/{trust}/{provider}/start", post(sso::start))
        .route("/sso/callback", get(sso::callback))
        .merge(pages::routes())
        .fallback(|| async { error::PageError::not_found() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::csrf_guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    waymark_runtime::grpc::readiness(&state.platform.pool).await
}

/// The stylesheets and the vendored htmx, compiled in: nothing comes from elsewhere.
async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "waymark.css" => (
            include_bytes!("../assets/waymark.css"),
            "text/css; charset=utf-8",
        ),
        "print.css" => (
            include_bytes!("../assets/print.css"),
            "text/css; charset=utf-8",
        ),
        "htmx.min.js" => (
            include_bytes!("../assets/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "waymark.js" => (
            include_bytes!("../assets/waymark.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return error::PageError::not_found().into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The default policy: our own scripts, styles and forms only. Sign-in pages widen
/// `form-action` to the trust's identity providers (a form there is redirected to them).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    harden(
        response.headers_mut(),
        state.settings.public_url.starts_with("https://"),
    );
    response
}

/// The headers every page gets. Served over https (the public address says so), browsers are
/// also told to use nothing else for a year (HSTS).
fn harden(headers: &mut axum::http::HeaderMap, https: bool) {
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages hold personal data: not for shared caches or the back button after sign-out.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_site_served_over_https_asks_for_https_only() {
        let mut over_https = axum::http::HeaderMap::new();
        harden(&mut over_https, true);
        assert_eq!(
            over_https[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
        let mut over_http = axum::http::HeaderMap::new();
        harden(&mut over_http, false);
        assert!(!over_http.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(over_http[header::X_FRAME_OPTIONS], "DENY");
    }
}
