//! The audit trail people read, made from the chained events themselves: every entry shows
//! only what the hash chain covers (`chain::link`: the event's type, actor, time and
//! payload), so an edit that changes what people read also breaks the chain, and
//! `chain::verify` names the place. The chain row adds only the action and school the
//! trail is looked up by, and verification checks those against the events too.

use std::collections::HashMap;

use chrono::SecondsFormat;
use uuid::Uuid;
use waymark_domain::EventId;
use waymark_domain::action_tracking::action::ActionEvent;
use waymark_event_store::{PgEventStore, RecordedEvent, decode};
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::ServiceError;

/// One link of the chain, as the trail is looked up.
pub struct Link {
    pub seq: i64,
    pub event_id: Uuid,
    pub action_id: Uuid,
    pub school_id: Uuid,
}

/// The trail's entries for `links`, in their order.
pub async fn entries(
    store: &PgEventStore,
    links: Vec<Link>,
) -> Result<Vec<pb::AuditEntry>, ServiceError> {
    let ids: Vec<EventId> = links
        .iter()
        .map(|link| EventId::from_uuid(link.event_id))
        .collect();
    let events = store.read_by_ids(&ids).await?;
    let by_id: HashMap<Uuid, &RecordedEvent> = events
        .iter()
        .map(|event| (event.event_id.into_uuid(), event))
        .collect();
    Ok(links
        .into_iter()
        .map(|link| {
            let event = by_id.get(&link.event_id).copied();
            entry(link, event)
        })
        .collect())
}

fn entry(link: Link, event: Option<&RecordedEvent>) -> pb::AuditEntry {
    let mut entry = pb::AuditEntry {
        seq: link.seq,
        event_id: link.event_id.to_string(),
        action_id: link.action_id.to_string(),
        school_id: link.school_id.to_string(),
        ..pb::AuditEntry::default()
    };
    let Some(event) = event else {
        entry.summary =
            "This event is no longer in the event store: the trail has been altered".to_owned();
        return entry;
    };
    entry.actor_id = event.metadata.actor.to_string();
    entry.recorded_at = event.recorded_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    entry.event_type.clone_from(&event.event_type);
    entry.details_json = event.payload.get().to_owned();
    match decode::<ActionEvent>(event) {
        Ok(action) => {
            let (summary, reason) = action.trail_line();
            entry.action_id = action.action_id().to_string();
            entry.summary = summary;
            entry.reason = reason.unwrap_or_default();
        }
        Err(_) => {
            entry.summary = "This event cannot be read: the trail has been altered".to_owned();
        }
    }
    entry
}
