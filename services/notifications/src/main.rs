//! `waymark-notifications`: runs the notifications service alone.

use anyhow::Context;
use waymark_runtime::process::Process;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let process = Process::start(None).await?;
    let address = process.platform.config.notifications.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    waymark_notifications::run(process.platform.clone(), listener, process.shutdown.clone())
        .await?;
    process.finish().await;
    Ok(())
}
