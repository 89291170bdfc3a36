//! `waymark projections`: the projections that can be built again from the store, and the
//! rebuild itself (`waymark_bus::rebuild`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use waymark_bus::Rebuild;
use waymark_runtime::process::Process;

/// Every service's rebuildable projections. Consumers with effects outside their tables
/// (e-mails, reminders, audit links, the gateway's contact outbox) are not among them.
fn all() -> Vec<Box<dyn Rebuild>> {
    [
        waymark_action_tracking::projections(),
        waymark_review_dialogue::projections(),
        waymark_scheduling::projections(),
        waymark_notifications::projections(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Prints each rebuildable projection with how far it has read and whether it is stuck.
pub async fn list(config: Option<&Path>) -> anyhow::Result<()> {
    let process = Process::start(config).await?;
    let pool = &process.platform.pool;
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM event_store.events")
        .fetch_one(pool)
        .await?;
    println!("store head: position {head}");
    for projection in all() {
        let name = projection.name();
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM bus.checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
        let stuck: Option<String> =
            sqlx::query_scalar("SELECT error FROM bus.stuck_feeds WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
        let at = position.map_or_else(|| "not started".to_owned(), |p| format!("at {p}"));
        match stuck {
            Some(error) => println!("{name}: {at}, STUCK: {error}"),
            None => println!("{name}: {at}"),
        }
    }
    process.finish().await;
    Ok(())
}

/// Rebuilds the projection called `name`, printing progress every few seconds.
pub async fn rebuild(config: Option<&Path>, name: &str) -> anyhow::Result<()> {
    let projections = all();
    let Some(projection) = projections.iter().find(|p| p.name() == name) else {
        let known: Vec<&str> = projections.iter().map(|p| p.name()).collect();
        bail!(
            "no projection called {name} can be rebuilt; these can: {}",
            known.join(", ")
        );
    };
    let process = Process::start(config).await?;
    let mut last = Instant::now();
    let mut progress = |progress: waymark_bus::rebuild::Progress| {
        if last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            println!(
                "{name}: {} events, at position {}",
                progress.events, progress.position
            );
        }
    };
    let rebuilt = projection
        .run(&process.platform.store, &mut progress)
        .await
        .with_context(|| format!("rebuilding {name}; the old read model is unchanged"))?;
    let seconds = rebuilt.elapsed.as_secs_f64();
    println!(
        "{name}: rebuilt from {} events in {seconds:.1} s ({:.0} events/s); the live feed \
         carries on from position {}",
        rebuilt.events,
        rebuilt.events as f64 / seconds.max(1e-9),
        rebuilt.checkpoint.position
    );
    process.finish().await;
    Ok(())
}
