//! The gateway. So far it serves only its health endpoint; the web app arrives with its own
//! issue.

use std::sync::Arc;

use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use waymark_runtime::Platform;

pub const NAME: &str = "gateway";

/// Runs the gateway on `listener` until `shutdown`.
pub async fn run(
    _platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(service = NAME, address = %listener.local_addr()?, "listening");
    let app = axum::Router::new().route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
