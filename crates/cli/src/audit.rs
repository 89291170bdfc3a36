use std::path::Path;

use anyhow::Context;
use waymark_action_tracking::chain;
use waymark_domain::TrustId;
use waymark_runtime::process::Process;

/// Verifies audit chains and prints one line per trust. Returns whether all are intact.
pub async fn verify(config: Option<&Path>, trust: Option<TrustId>) -> anyhow::Result<bool> {
    let process = Process::start(config).await?;
    let platform = process.platform.clone();
    waymark_action_tracking::migrate(&platform.pool)
        .await
        .context("action-tracking schema")?;
    let trusts = match trust {
        Some(trust) => vec![trust],
        None => chain::trusts(&platform.pool).await?,
    };
    let mut intact = true;
    for trust in trusts {
        let report = chain::verify(&platform.pool, &platform.store, trust).await?;
        let head: String = report
            .head
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        match report.problem {
            None => println!(
                "trust {trust}: intact, {} events, head {head}",
                report.events_checked
            ),
            Some(problem) => {
                intact = false;
                println!(
                    "trust {trust}: TAMPERED at link {} (event {}): {} — {}",
                    problem.seq,
                    problem.event_id,
                    problem.kind.as_str(),
                    problem.detail
                );
            }
        }
    }
    process.finish().await;
    Ok(intact)
}
