//! Catch-up subscriptions over the global log.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::EventStore;
use crate::error::StoreError;
use crate::postgres::PgEventStore;
use crate::types::{Checkpoint, Filter, RecordedEvent};

/// How long to wait for a wake-up before reading again anyway.
const DEFAULT_POLL: Duration = Duration::from_millis(500);
/// How soon to look again when committed events wait for a transaction appending below them.
const HELD_BACK_RETRY: Duration = Duration::from_millis(5);

/// Reads the global log from a checkpoint: everything already stored first, then new events
/// as they commit. Wake-ups (local appends, NOTIFY from other processes) only shorten the
/// wait; a timed poll guarantees progress when a wake-up is lost.
pub struct Subscription {
    store: PgEventStore,
    checkpoint: Checkpoint,
    filter: Filter,
    batch_size: usize,
    poll: Duration,
    wake: watch::Receiver<u64>,
    /// Since when committed events have been waiting for a transaction appending below them.
    held_since: Option<Instant>,
    /// The reader's label in the metrics: its categories, or `all`.
    reader: String,
}

impl Subscription {
    pub(crate) fn new(store: PgEventStore, from: Checkpoint, filter: Filter) -> Self {
        let wake = store.changes();
        let reader = filter
            .categories
            .as_ref()
            .map_or_else(|| "all".to_owned(), |c| c.join(","));
        Self {
            store,
            checkpoint: from,
            filter,
            batch_size: 1000,
            poll: DEFAULT_POLL,
            wake,
            held_since: None,
            reader,
        }
    }

    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    #[must_use]
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Where the subscription stands: everything up to here has been returned.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// The next non-empty batch of events, in position order. Waits until there is one.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        loop {
            // Mark the current wake-up as seen *before* reading, so an append that lands
            // during the read wakes the wait below instead of being missed.
            self.wake.borrow_and_update();
            let batch = self
                .store
                .read_all(self.checkpoint, self.batch_size, &self.filter)
                .await?;
            self.checkpoint = batch.checkpoint;
            self.note_hold_back(batch.held_back);
            if !batch.events.is_empty() {
                return Ok(batch.events);
            }
            let wait = if batch.held_back {
                HELD_BACK_RETRY
            } else {
                self.poll
            };
            // A closed channel means the store is gone; fall back to plain polling.
            let _ = tokio::time::timeout(wait, self.wake.changed()).await;
        }
    }

    /// Metrics of the barrier: `waymark_event_store_held_back_seconds` (gauge, per reader's
    /// filter) is how long committed events have been waiting for a transaction appending
    /// below them to end, 0 when none are; each hold's length when it ends goes to the histogram
    /// `waymark_event_store_hold_back_seconds`.
    fn note_hold_back(&mut self, held_back: bool) {
        let held_for = match (held_back, self.held_since) {
            (false, None) => return,
            (true, None) => {
                self.held_since = Some(Instant::now());
                0.0
            }
            (true, Some(since)) => since.elapsed().as_secs_f64(),
            (false, Some(since)) => {
                self.held_since = None;
                metrics::histogram!("waymark_event_store_hold_back_seconds")
                    .record(since.elapsed().as_secs_f64());
                0.0
            }
        };
        // Looked up each time, not kept: the recorder may be installed after this
        // subscription starts.
        metrics::gauge!("waymark_event_store_held_back_seconds", "reader" => self.reader.clone())
            .set(held_for);
    }
}
