use std::path::Path;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use waymark_runtime::process::Process;

pub const SERVICES: [&str; 5] = [
    "scheduling",
    "review-dialogue",
    "action-tracking",
    "notifications",
    "gateway",
];

/// Starts the selected services in this process and waits until shutdown or until one fails.
pub async fn serve(config: Option<&Path>, selected: &[&str]) -> anyhow::Result<()> {
    let process = Process::start(config).await?;
    let platform = process.platform.clone();
    let mut running = JoinSet::new();
    for &name in selected {
        let address = match name {
            "scheduling" => &platform.config.scheduling,
            "review-dialogue" => &platform.config.review_dialogue,
            "action-tracking" => &platform.config.action_tracking,
            "notifications" => &platform.config.notifications,
            _ => &platform.config.gateway,
        };
        let listener = TcpListener::bind(address.listen)
            .await
            .with_context(|| format!("{name} cannot listen on {}", address.listen))?;
        println!("{name:>16}  {}", address.url);
        let (platform, shutdown) = (platform.clone(), process.shutdown.clone());
        let name = name.to_owned();
        running.spawn(async move {
            let outcome = match name.as_str() {
                "scheduling" => waymark_scheduling::run(platform, listener, shutdown).await,
                "review-dialogue" => {
                    waymark_review_dialogue::run(platform, listener, shutdown).await
                }
                "action-tracking" => {
                    waymark_action_tracking::run(platform, listener, shutdown).await
                }
                "notifications" => waymark_notifications::run(platform, listener, shutdown).await,
                _ => waymark_gateway::run(platform, listener, shutdown).await,
            };
            outcome.with_context(|| format!("{name} stopped"))
        });
    }
    if selected.contains(&"gateway") {
        println!(
            "Waymark is running: open {} (Ctrl-C stops it)",
            platform.config.gateway.url
        );
    }
    let mut failure = None;
    while let Some(finished) = running.join_next().await {
        let outcome = finished
            .context("a service panicked")
            .and_then(|outcome| outcome);
        if let Err(error) = outcome {
            tracing::error!("{error:#}");
            // One service down takes the process down, so a supervisor restarts it whole.
            process.shutdown.cancel();
            failure.get_or_insert(error);
        }
    }
    process.finish().await;
    failure.map_or(Ok(()), Err)
}

/// Migrates every schema and exits.
pub async fn migrate(config: Option<&Path>) -> anyhow::Result<()> {
    let process = Process::start_as_owner(config).await?;
    let pool = &process.platform.pool;
    waymark_scheduling::migrate(pool)
        .await
        .context("scheduling")?;
    waymark_notifications::migrate(pool)
        .await
        .context("notifications")?;
    waymark_review_dialogue::migrate(pool)
        .await
        .context("review-dialogue")?;
    waymark_action_tracking::migrate(pool)
        .await
        .context("action-tracking")?;
    waymark_gateway::migrate(pool).await.context("gateway")?;
    println!("migrated");
    if let Some(role) = &process.platform.config.database.service_role {
        waymark_runtime::schema::grant(pool, role)
            .await
            .with_context(|| format!("granting {role} what the services need"))?;
        println!("granted {role} what the services need");
    }
    process.finish().await;
    Ok(())
}
