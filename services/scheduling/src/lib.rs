//! The scheduling service. So far it serves only health, readiness and metrics; its API and
//! workers arrive with its own issue.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use waymark_runtime::Platform;

pub const NAME: &str = "scheduling";

/// Runs the service on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(service = NAME, address = %listener.local_addr()?, "listening");
    waymark_runtime::grpc::serve(
        listener,
        tonic::service::Routes::default(),
        waymark_proto::FILE_DESCRIPTOR_SET,
        platform.pool.clone(),
        shutdown,
    )
    .await?;
    Ok(())
}
