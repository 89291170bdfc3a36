//! `waymark-gateway`: runs the gateway alone.

use anyhow::Context;
use waymark_runtime::process::Process;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let process = Process::start(None).await?;
    let address = process.platform.config.gateway.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    waymark_gateway::run(process.platform.clone(), listener, process.shutdown.clone()).await?;
    process.finish().await;
    Ok(())
}
