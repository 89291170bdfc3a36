//! The tamper-evident audit trail: each trust's action events, in commit order, form a hash
//! chain. Link n is SHA-256 over link n-1 and every stored field of event n, so changing,
//! deleting or reordering a stored event (or a link) breaks the chain from there on, and
//! `verify` names the first place it breaks.
//!
//! The trail people read is made from the chained events (`trail`), and each link's action
//! and school (what the trail is looked up by) are checked against the events, so nothing a
//! reader sees can change without `verify` saying so.
//!
//! What the chain alone proves: that the events as stored now are the events as chained.
//! Someone able to rewrite both the events and every later link could hide a change from
//! it; the signed anchors kept outside the database (`anchors`) rule that out for every link
//! anchored, and `verify` checks them too.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use waymark_domain::action_tracking::action::ActionEvent;
use waymark_domain::{EventId, TrustId};
use waymark_event_store::{PgEventStore, RecordedEvent, StoreError, decode};

use crate::anchors::{Anchored, Anchors};

pub type Hash = [u8; 32];

/// The link before the first.
pub const GENESIS: Hash = [0; 32];

/// The hash of the link for `event` following `previous`.
pub fn link(previous: &Hash, event: &RecordedEvent) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    let optional = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    let fields = [
        event.event_id.to_string(),
        event.stream_id.to_string(),
        event.stream_version.to_string(),
        event.position.to_string(),
        // The commit order readers follow.
        event.tx_id.to_string(),
        event.event_type.clone(),
        event.schema_version.to_string(),
        event.trust_id.to_string(),
        event.metadata.actor.to_string(),
        optional(event.metadata.causation_id.map(EventId::into_uuid)),
        event.metadata.correlation_id.to_string(),
        optional(event.metadata.command_id.map(|id| id.into_uuid())),
        event.recorded_at.timestamp_micros().to_string(),
        event.payload.get().to_owned(),
    ];
    for field in fields {
        hasher.update(field.as_bytes());
        // A separator no field contains, so moving bytes between fields changes the hash.
        hasher.update([0x1f]);
    }
    hasher.finalize().into()
}

/// The trust's last link: (sequence number, hash), or (0, genesis) for an empty chain.
pub async fn head(tx: &mut PgConnection, trust: TrustId) -> Result<(i64, Hash), sqlx::Error> {
    let row = sqlx::query!(
        "SELECT seq, hash FROM action_tracking.audit_chain WHERE trust_id = $1 ORDER BY seq DESC LIMIT 1",
        trust.into_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match row {
        Some(row) => (row.seq, to_hash(&row.hash)),
        None => (0, GENESIS),
    })
}

pub(crate) fn to_hash(bytes: &[u8]) -> Hash {
    let mut hash = GENESIS;
    if bytes.len() == hash.len() {
        hash.copy_from_slice(bytes);
    }
    hash
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The stored event is not what was chained.
    Altered,
    /// A chained event, or a link, is gone.
    Removed,
    /// Links are out of order.
    Reordered,
    /// A stored action event is missing from the chain.
    Unchained,
    /// The chain agrees with itself but not with a signed anchor: an event, or the order,
    /// was changed and the links after it recomputed.
    Rewritten,
    /// Links that were anchored are gone from the end of the chain.
    Truncated,
    /// An object among the anchors is not a valid anchor of this installation.
    BadAnchor,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Altered => "altered",
            Self::Removed => "removed",
            Self::Reordered => "reordered",
            Self::Unchained => "unchained",
            Self::Rewritten => "rewritten",
            Self::Truncated => "truncated",
            Self::BadAnchor => "bad-anchor",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        [
            Self::Altered,
            Self::Removed,
            Self::Reordered,
            Self::Unchained,
            Self::Rewritten,
            Self::Truncated,
            Self::BadAnchor,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub seq: i64,
    pub event_id: Uuid,
    pub kind: ProblemKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub events_checked: i64,
    pub head: Hash,
    pub problem: Option<Problem>,
    /// The last link a signed anchor covers (0: none), and when the newest anchor was signed.
    pub anchored_through: i64,
    pub anchored_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the anchors cannot be read: {0}")]
    Anchors(#[from] object_store::Error),
    #[error("the verification's result cannot be recorded: {0}")]
    Record(String),
}

const PAGE: i64 = 1000;

/// Walks the trust's chain from the start, recomputing every link from the events as they
/// are stored now and comparing each with its signed anchor, if any. Stops at the first
/// problem.
pub async fn verify(
    pool: &PgPool,
    store: &PgEventStore,
    trust: TrustId,
    anchored: &Anchored,
) -> Result<Report, VerifyError> {
    let mut previous = GENESIS;
    let mut expected_seq = 1;
    // Each action's school, from its creation event.
    let mut schools: HashMap<Uuid, Uuid> = HashMap::new();
    loop {
        let links = sqlx::query!(
            "SELECT seq, event_id, action_id, school_id, prev_hash, hash FROM action_tracking.audit_chain \
             WHERE trust_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            trust.into_uuid(),
            expected_seq,
            PAGE,
        )
        .fetch_all(pool)
        .await?;
        let ids: Vec<EventId> = links
            .iter()
            .map(|link| EventId::from_uuid(link.event_id))
            .collect();
        let stored = store.read_by_ids(&ids).await?;
        for row in &links {
            let problem = |kind, detail: String| Problem {
                seq: row.seq,
                event_id: row.event_id,
                kind,
                detail,
            };
            let report = |problem| Report {
                events_checked: expected_seq - 1,
                head: previous,
                problem: Some(problem),
                anchored_through: anchored.through(),
                anchored_at: anchored.latest,
            };
            if row.seq != expected_seq {
                return Ok(report(problem(
                    ProblemKind::Removed,
                    format!(
                        "link {expected_seq} is missing; the chain jumps to {}",
                        row.seq
                    ),
                )));
            }
            if to_hash(&row.prev_hash) != previous {
                return Ok(report(problem(
                    ProblemKind::Reordered,
                    "this link does not follow the one before it".to_owned(),
                )));
            }
            let Some(event) = stored
                .iter()
                .find(|event| event.event_id.into_uuid() == row.event_id)
            else {
                return Ok(report(problem(
                    ProblemKind::Removed,
                    "the chained event is no longer in the event store".to_owned(),
                )));
            };
            if event.trust_id != trust || link(&previous, event) != to_hash(&row.hash) {
                return Ok(report(problem(
                    ProblemKind::Altered,
                    format!(
                        "the stored {} differs from the event that was chained",
                        event.event_type
                    ),
                )));
            }
            if let Some((event_id, hash)) = anchored.links.get(&row.seq)
                && (*event_id, *hash) != (row.event_id, to_hash(&row.hash))
            {
                return Ok(report(Problem {
                    seq: row.seq,
                    event_id: *event_id,
                    kind: ProblemKind::Rewritten,
                    detail: if *event_id == row.event_id {
                        "the stored event differs from what was anchored, and the links after it were recomputed".to_owned()
                    } else {
                        format!(
                            "this link was anchored for this event; the chain now has {} there and was recomputed",
                            row.event_id
                        )
                    },
                }));
            }
            // The action and school the trail is looked up by are the event's own.
            let action = decode::<ActionEvent>(event).ok();
            if let Some(ActionEvent::ActionCreated {
                action_id,
                school_id,
                ..
            }) = &action
            {
                schools.insert(*action_id, school_id.into_uuid());
            }
            let own = action.map(|a| {
                let id = a.action_id();
                (id, schools.get(&id).copied())
            });
            if own != Some((row.action_id, Some(row.school_id))) {
                return Ok(report(problem(
                    ProblemKind::Altered,
                    format!(
                        "the chain files this {} under another action or school than its own",
                        event.event_type
                    ),
                )));
            }
            previous = to_hash(&row.hash);
            expected_seq += 1;
        }
        if (links.len() as i64) < PAGE {
            break;
        }
    }
    let checked = expected_seq - 1;
    // Stored action events the projection has passed must all be chained.
    let unchained = sqlx::query!(
        "SELECT e.event_id, e.event_type FROM event_store.events e \
         JOIN bus.checkpoints c ON c.name = $2 \
         WHERE e.trust_id = $1 AND e.stream_id LIKE 'action-%' \
           AND (e.tx_id, e.position) <= (c.tx_id, c.position) \
           AND NOT EXISTS (SELECT 1 FROM action_tracking.audit_chain a WHERE a.event_id = e.event_id) \
         ORDER BY e.tx_id, e.position LIMIT 1",
        trust.into_uuid(),
        crate::projection::NAME,
    )
    .fetch_optional(pool)
    .await?;
    let problem = unchained.map(|row| Problem {
        seq: checked + 1,
        event_id: row.event_id,
        kind: ProblemKind::Unchained,
        detail: format!("a stored {} is not in the chain", row.event_type),
    });
    let through = anchored.through();
    let problem = problem.or_else(|| {
        let (_, (event_id, _)) = anchored.links.range(checked + 1..).next()?;
        Some(Problem {
            seq: checked + 1,
            event_id: *event_id,
            kind: ProblemKind::Truncated,
            detail: format!("links up to {through} were anchored; the chain ends at {checked}"),
        })
    });
    let problem = problem.or_else(|| {
        let why = anchored.refused.first()?;
        Some(Problem {
            seq: 0,
            event_id: Uuid::nil(),
            kind: ProblemKind::BadAnchor,
            detail: why.clone(),
        })
    });
    Ok(Report {
        events_checked: checked,
        head: previous,
        problem,
        anchored_through: through,
        anchored_at: anchored.latest,
    })
}

/// `verify`, with the trust's anchors read first when anchors are configured.
pub async fn verify_with_anchors(
    pool: &PgPool,
    store: &PgEventStore,
    anchors: Option<&Anchors>,
    trust: TrustId,
) -> Result<Report, VerifyError> {
    let anchored = match anchors {
        Some(anchors) => anchors.read(trust).await?,
        None => Anchored::default(),
    };
    verify(pool, store, trust, &anchored).await
}

/// The trusts that have an audit chain.
pub async fn trusts(pool: &PgPool) -> Result<Vec<TrustId>, sqlx::Error> {
    let rows = sqlx::query_scalar!(
        "SELECT DISTINCT trust_id FROM action_tracking.audit_chain ORDER BY trust_id"
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(TrustId::from_uuid).collect())
}
