//! The tamper-evident audit trail: each trust's action events, in the order readers read them, form a hash
//! chain; so do its reviews', meetings' and visits' events (who drafted, responded, agreed
//! what, when) in a second chain (`Chain`). Link n is SHA-256 over link n-1 and every stored
//! field of event n, so changing, deleting or reordering a stored event (or a link) breaks
//! the chain from there on, and `verify` names the first place it breaks.
//!
//! The trail people read is made from the chained events (`trail`), and each link's action
//! and school, or record (what the trail is looked up by), are checked against the events, so
//! nothing a reader sees can change without `verify` saying so.
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
        // The storing transaction, as recorded.
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

/// The two chains each trust has: its actions' events, and its agreed records' history
/// (reviews, meetings and visits: who drafted, responded, agreed what, when).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    Actions,
    Records,
}

impl Chain {
    pub const ALL: [Chain; 2] = [Chain::Actions, Chain::Records];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Actions => "actions",
            Self::Records => "records",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|chain| chain.as_str() == name)
    }

    /// What it is the history of, in words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Actions => "the record of actions",
            Self::Records => "the history of reviews, meetings and visits",
        }
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::Actions => "action_tracking.audit_chain",
            Self::Records => "action_tracking.record_chain",
        }
    }

    /// The stream categories whose events it chains.
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            Self::Actions => &["action"],
            Self::Records => &["review", "meeting", "visit"],
        }
    }

    /// The projection that appends to it.
    fn projection(self) -> &'static str {
        match self {
            Self::Actions => crate::projection::NAME,
            Self::Records => crate::records::NAME,
        }
    }
}

/// The trust's last link of `chain`: (sequence number, hash), or (0, genesis) when empty.
pub async fn head(
    tx: &mut PgConnection,
    chain: Chain,
    trust: TrustId,
) -> Result<(i64, Hash), sqlx::Error> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT seq, hash FROM {} WHERE trust_id = $1 ORDER BY seq DESC LIMIT 1",
        chain.table()
    )))
    .bind(trust.into_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match row {
        Some((seq, hash)) => (seq, to_hash(&hash)),
        None => (0, GENESIS),
    })
}

/// Appends `event` to its trust's `chain`, filed under `subject` (the action, or the
/// record) and, for actions, `school`. In the projection's transaction.
pub async fn append(
    tx: &mut PgConnection,
    chain: Chain,
    event: &RecordedEvent,
    subject: Uuid,
    school: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    let (seq, previous) = head(tx, chain, event.trust_id).await?;
    let hash = link(&previous, event);
    // Records are filed under the record alone; the school is the record's own business.
    let (columns, filed) = match chain {
        Chain::Actions => ("action_id, school_id", "$4, $7"),
        Chain::Records => ("record_id", "$4"),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {} (trust_id, seq, event_id, prev_hash, hash, {columns}) VALUES ($1, $2, $3, $5, $6, {filed})",
        chain.table()
    )))
    .bind(event.trust_id.into_uuid())
    .bind(seq + 1)
    .bind(event.event_id.into_uuid())
    .bind(subject)
    .bind(&previous[..])
    .bind(&hash[..]);
    if chain == Chain::Actions {
        query = query.bind(school);
    }
    query.execute(&mut *tx).await?;
    Ok(())
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
    chain: Chain,
    trust: TrustId,
    anchored: &Anchored,
) -> Result<Report, VerifyError> {
    let mut previous = GENESIS;
    let mut expected_seq = 1;
    // Each action's school, from its creation event.
    let mut schools: HashMap<Uuid, Uuid> = HashMap::new();
    let select = format!(
        "SELECT seq, event_id, {} FROM {} WHERE trust_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        match chain {
            Chain::Actions => "action_id AS subject, school_id, prev_hash, hash",
            Chain::Records => "record_id AS subject, NULL::uuid AS school_id, prev_hash, hash",
        },
        chain.table()
    );
    loop {
        let links: Vec<LinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
            .bind(trust.into_uuid())
            .bind(expected_seq)
            .bind(PAGE)
            .fetch_all(pool)
            .await?;
        let ids: Vec<EventId> = links
            .iter()
            .map(|link| EventId::from_uuid(link.event_id))
            .collect();
        let stored: HashMap<Uuid, RecordedEvent> = store
            .read_by_ids(&ids)
            .await?
            .into_iter()
            .map(|event| (event.event_id.into_uuid(), event))
            .collect();
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
            let Some(event) = stored.get(&row.event_id) else {
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
            // What the link is filed (and looked up) under is the event's own: an action's
            // id and school, or a record's id (its stream's).
            let own = match chain {
                Chain::Actions => {
                    let action = decode::<ActionEvent>(event).ok();
                    if let Some(ActionEvent::ActionCreated {
                        action_id,
                        school_id,
                        ..
                    }) = &action
                    {
                        schools.insert(*action_id, school_id.into_uuid());
                    }
                    action.map(|a| {
                        let id = a.action_id();
                        (id, schools.get(&id).copied())
                    })
                }
                Chain::Records => event
                    .stream_id
                    .as_str()
                    .split_once('-')
                    .filter(|(category, _)| chain.categories().contains(category))
                    .and_then(|(_, id)| Uuid::parse_str(id).ok())
                    .map(|id| (id, None)),
            };
            if own != Some((row.subject, row.school_id)) {
                return Ok(report(problem(
                    ProblemKind::Altered,
                    format!(
                        "the chain files this {} under another {} than its own",
                        event.event_type,
                        match chain {
                            Chain::Actions => "action or school",
                            Chain::Records => "record",
                        }
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
    // Stored events of the chain's kinds that its projection has passed must all be chained.
    let unchained: Option<(Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT e.event_id, e.event_type FROM event_store.events e \
         JOIN bus.checkpoints c ON c.name = $2 \
         WHERE e.trust_id = $1 AND split_part(e.stream_id, '-', 1) = ANY($3) \
           AND e.position <= c.position \
           AND NOT EXISTS (SELECT 1 FROM {} a WHERE a.event_id = e.event_id) \
         ORDER BY e.position LIMIT 1",
        chain.table()
    )))
    .bind(trust.into_uuid())
    .bind(chain.projection())
    .bind(chain.categories())
    .fetch_optional(pool)
    .await?;
    let problem = unchained.map(|(event_id, event_type)| Problem {
        seq: checked + 1,
        event_id,
        kind: ProblemKind::Unchained,
        detail: format!("a stored {event_type} is not in the chain"),
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
    chain: Chain,
    trust: TrustId,
) -> Result<Report, VerifyError> {
    let anchored = match anchors {
        Some(anchors) => anchors.read(chain, trust).await?,
        None => Anchored::default(),
    };
    verify(pool, store, chain, trust, &anchored).await
}

/// The trusts that have a `chain`.
pub async fn trusts(pool: &PgPool, chain: Chain) -> Result<Vec<TrustId>, sqlx::Error> {
    let rows: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT trust_id FROM {} ORDER BY trust_id",
        chain.table()
    )))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(TrustId::from_uuid).collect())
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    seq: i64,
    event_id: Uuid,
    subject: Uuid,
    school_id: Option<Uuid>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}
