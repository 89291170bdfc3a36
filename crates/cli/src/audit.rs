use std::path::Path;

use anyhow::Context;
use waymark_action_tracking::anchors::Anchors;
use waymark_action_tracking::chain::{self, Chain};
use waymark_domain::TrustId;
use waymark_runtime::process::Process;

/// Verifies both audit chains of one trust, or of every trust (against their anchors, when
/// configured), and prints one line per trust and chain. Returns whether all are intact.
pub async fn verify(config: Option<&Path>, trust: Option<TrustId>) -> anyhow::Result<bool> {
    let (process, anchors) = start(config).await?;
    let platform = process.platform.clone();
    if anchors.is_none() {
        println!("no audit key is configured: checking the chains alone, not against anchors");
    }
    let mut intact = true;
    for chain in Chain::ALL {
        let trusts = match trust {
            Some(trust) => vec![trust],
            None => chain::trusts(&platform.pool, chain).await?,
        };
        for trust in trusts {
            let report = chain::verify_with_anchors(
                &platform.pool,
                &platform.store,
                anchors.as_ref(),
                chain,
                trust,
            )
            .await?;
            let which = format!("trust {trust}, {}", chain.as_str());
            match report.problem {
                None => println!(
                    "{which}: intact, {} events, head {}, anchored through link {}",
                    report.events_checked,
                    hex(&report.head),
                    report.anchored_through
                ),
                Some(problem) => {
                    intact = false;
                    println!(
                        "{which}: TAMPERED at link {} (event {}): {} — {}",
                        problem.seq,
                        problem.event_id,
                        problem.kind.as_str(),
                        problem.detail
                    );
                }
            }
        }
    }
    process.finish().await;
    Ok(intact)
}

/// Anchors every trust's new links now. Returns false when a chain did not verify (nothing
/// of it is anchored then).
pub async fn anchor(config: Option<&Path>) -> anyhow::Result<bool> {
    let (process, anchors) = start(config).await?;
    let platform = process.platform.clone();
    let anchors = anchors.context("audit.signing_key is not set: there is nothing to sign with")?;
    let mut signed = true;
    for anchoring in anchors.anchor_all(&platform.pool, &platform.store).await? {
        let which = format!("trust {}, {}", anchoring.trust, anchoring.chain.as_str());
        match anchoring.outcome {
            Ok(through) => println!("{which}: anchored through link {through}"),
            Err(error) => {
                signed = false;
                println!("{which}: NOT anchored: {error}");
            }
        }
    }
    process.finish().await;
    Ok(signed)
}

/// The process, with action tracking's schema ready, and the anchors the configuration sets up.
async fn start(config: Option<&Path>) -> anyhow::Result<(Process, Option<Anchors>)> {
    let process = Process::start(config).await?;
    let platform = &process.platform;
    platform
        .ready_schema(
            waymark_action_tracking::migrator(),
            waymark_action_tracking::SCHEMA_HISTORY,
        )
        .await
        .context("action-tracking schema")?;
    let anchors = Anchors::from_config(&platform.config, platform.clock.clone())?;
    Ok((process, anchors))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
