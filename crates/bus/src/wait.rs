use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How soon to look again when committed events wait for a transaction appending below them.
pub(crate) const HELD_BACK_RETRY: Duration = Duration::from_millis(5);
/// How long to wait for a wake-up before polling anyway.
pub(crate) const POLL: Duration = Duration::from_millis(500);

/// Waits until new events may be readable, `max` has passed, or shutdown. Returns false on
/// shutdown.
pub(crate) async fn idle(
    wake: &mut watch::Receiver<u64>,
    max: Duration,
    shutdown: &CancellationToken,
) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        _ = tokio::time::timeout(max, wake.changed()) => true,
    }
}

/// Sleeps for `delay` unless shut down first. Returns false on shutdown.
pub(crate) async fn pause(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

/// Exponential backoff from 100 ms to 10 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(7))).min(Duration::from_secs(10))
}
