//! `waymark-action-tracking`: runs the action-tracking service alone.

use anyhow::Context;
use waymark_runtime::process::Process;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let process = Process::start(None).await?;
    let address = process.platform.config.action_tracking.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    waymark_action_tracking::run(process.platform.clone(), listener, process.shutdown.clone())
        .await?;
    process.finish().await;
    Ok(())
}
