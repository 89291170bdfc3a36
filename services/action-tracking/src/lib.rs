//! The action-tracking service: every agreed action followed to done.
//!
//! It learns of reviews (and, later, meetings, visits and audits) from the other services'
//! events and keeps them as the origins actions come from.

mod grpc;
mod origins;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use waymark_proto::action_tracking::v1::action_tracking_server::ActionTrackingServer;
use waymark_runtime::Platform;

pub const NAME: &str = "action-tracking";

/// Creates or upgrades the service's schema.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("action_tracking");
    migrator.dangerous_set_table_name("action_tracking._sqlx_migrations");
    migrator.run(pool).await
}

/// Runs the service on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    migrate(&platform.pool).await?;
    let origins = platform.spawn_consumer(Arc::new(origins::Origins), shutdown.clone());
    let service = grpc::ActionTrackingService::new(platform.clone());
    let routes = tonic::service::Routes::new(ActionTrackingServer::with_interceptor(
        service,
        platform.authenticate(),
    ));
    tracing::info!(service = NAME, address = %listener.local_addr()?, "listening");
    waymark_runtime::grpc::serve(
        listener,
        routes,
        waymark_proto::FILE_DESCRIPTOR_SET,
        platform.pool.clone(),
        shutdown.clone(),
    )
    .await?;
    shutdown.cancel();
    origins.await?;
    Ok(())
}
