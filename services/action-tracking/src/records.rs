//! Chains each trust's review, meeting and visit events — the history of every agreed
//! record: who scheduled, drafted, responded, agreed what, and when — into the trust's
//! records chain (`chain::Chain::Records`), in the order readers read them, in the feed's
//! transaction.
//! Review dialogue owns the records; action tracking keeps the trust's audit chains, their
//! anchors and their verification in one place.

use sqlx::PgConnection;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError};
use waymark_event_store::RecordedEvent;

use crate::chain::{self, Chain};

pub const NAME: &str = "action-tracking.record-chain.v1";

pub struct RecordChain;

impl EventHandler for RecordChain {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        Chain::Records.categories()
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let record = event
            .stream_id
            .as_str()
            .split_once('-')
            .and_then(|(_, id)| Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                HandlerError::Permanent(format!("{} is not a record's stream", event.stream_id))
            })?;
        chain::append(tx, Chain::Records, event, record, None).await?;
        Ok(())
    }
}
