//! The gateway. So far it serves only its health and readiness endpoints; the web app
//! arrives with its own issue.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use waymark_runtime::Platform;

pub const NAME: &str = "gateway";

/// Runs the gateway on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(service = NAME, address = %listener.local_addr()?, "listening");
    let pool = platform.pool.clone();
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                match sqlx::query("SELECT 1").execute(&pool).await {
                    Ok(_) => (StatusCode::OK, "ready"),
                    Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
                }
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
