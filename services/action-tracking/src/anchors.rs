//! Anchors: the audit chain's links, signed and kept where the database cannot reach them.
//!
//! Every `audit.anchor_interval_s` (hourly by default) and on demand (`waymark anchor-audit`),
//! the service takes each trust's links added since its last anchor, checks them against the
//! events (it never signs a chain that does not verify), signs them with an Ed25519 key that
//! is configuration only (`audit.signing_key`), and puts the signed checkpoint in an object
//! store (`audit.anchors`) as `<trust>/<chain>/<last link, 12 digits>.json` (chain `actions`
//! or `records`), never replacing one.
//!
//! Verification reads every anchor of the trust, refuses any not signed by the installation's
//! key, and compares each anchored link with the chain recomputed from the events as stored
//! now. So rewriting an event *and* every later link, or cutting the chain's tail, is found,
//! and the first event that differs from what was anchored is named. What an anchor cannot
//! cover is the part of the chain newer than the last anchor: that part has the chain alone.
//! Someone holding both the store's credentials and the signing key could forge anchors; keep
//! them apart from the database's credentials (an S3 bucket with object lock makes anchors
//! unchangeable even to the service).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{DynObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;
use waymark_domain::{EventId, TrustId};
use waymark_event_store::{PgEventStore, RecordedEvent};
use waymark_runtime::objects::{self, ObjectStoreConfig};
use waymark_runtime::{Clock, Config, Secret};

use crate::chain::{self, Chain, GENESIS, Hash};

/// The `audit` section of the configuration.
///
/// | key | meaning | default |
/// |---|---|---|
/// | `audit.signing_key` (secret) | base64 of a 32-byte Ed25519 secret key (`waymark audit-key` makes one) | none: no anchors are made |
/// | `audit.verifying_key` | base64 of the public key, to verify without the secret one | derived from `signing_key` |
/// | `audit.anchor_interval_s` | how often each trust's new links are anchored | 3600 |
/// | `audit.verify_interval_s` | how often each trust's whole chain is verified (`verification`) | 86400 |
/// | `audit.anchors.*` | where anchors go (see `waymark_runtime::objects`) | `file:///var/lib/waymark/audit-anchors` |
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    pub signing_key: Option<Secret<String>>,
    pub verifying_key: Option<String>,
    pub anchor_interval_s: u64,
    pub verify_interval_s: u64,
    pub anchors: ObjectStoreConfig,
}

impl AuditSettings {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let settings: Self = config.section("audit")?;
        anyhow::ensure!(
            settings.anchor_interval_s >= 1 && settings.verify_interval_s >= 1,
            "audit.anchor_interval_s and audit.verify_interval_s must be at least 1"
        );
        Ok(settings)
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            signing_key: None,
            verifying_key: None,
            anchor_interval_s: 3600,
            verify_interval_s: 86_400,
            anchors: ObjectStoreConfig {
                url: "file:///var/lib/waymark/audit-anchors".to_owned(),
                ..ObjectStoreConfig::default()
            },
        }
    }
}

const FORMAT: &str = "waymark-audit-anchor/1";
/// The most links one anchor carries; more wait for the next round (which follows at once).
const MOST_LINKS: i64 = 10_000;

/// A new key pair, as the two configuration values: (signing key, verifying key).
pub fn new_key() -> (String, String) {
    let key = SigningKey::from_bytes(&rand::random());
    (
        BASE64.encode(key.to_bytes()),
        BASE64.encode(key.verifying_key().to_bytes()),
    )
}

fn key_bytes(name: &str, text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|_| anyhow::anyhow!("audit.{name} is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("audit.{name} must be 32 bytes"))
}

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    format: String,
    chain: String,
    trust_id: Uuid,
    signed_at: DateTime<Utc>,
    links: Vec<AnchoredLink>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AnchoredLink {
    seq: i64,
    event_id: Uuid,
    hash: String,
}

/// What is stored: the checkpoint exactly as signed, its signature and the public key.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    checkpoint: String,
    signature: String,
    key: String,
}

/// The links anchored for one trust, as read back and checked.
#[derive(Debug, Default)]
pub struct Anchored {
    /// Each anchored link: the event it was for and its hash.
    pub links: BTreeMap<i64, (Uuid, Hash)>,
    /// The newest anchor's time.
    pub latest: Option<DateTime<Utc>>,
    /// Objects that are not valid anchors of this installation, with why.
    pub refused: Vec<String>,
}

impl Anchored {
    pub fn through(&self) -> i64 {
        self.links.keys().next_back().copied().unwrap_or(0)
    }
}

/// One chain of one trust anchored (through the link given) or not (and why).
#[derive(Debug)]
pub struct Anchoring {
    pub chain: Chain,
    pub trust: TrustId,
    pub outcome: Result<i64, AnchorError>,
}

#[derive(sqlx::FromRow)]
struct PendingLink {
    seq: i64,
    event_id: Uuid,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// Why a trust's new links were not anchored.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("link {seq} (event {event_id}) does not verify: {detail}; nothing was anchored")]
    Tampered {
        seq: i64,
        event_id: Uuid,
        detail: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Verify(#[from] chain::VerifyError),
    #[error("{0}")]
    Other(String),
}

#[derive(Clone)]
pub struct Anchors {
    signing: Option<Arc<SigningKey>>,
    verifying: VerifyingKey,
    store: Arc<DynObjectStore>,
    clock: Arc<dyn Clock>,
    pub interval: std::time::Duration,
}

impl std::fmt::Debug for Anchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchors")
            .field("store", &self.store.to_string())
            .finish_non_exhaustive()
    }
}

impl Anchors {
    /// The anchors the configuration sets up, or `None` when it names no key.
    pub fn from_config(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Option<Self>> {
        let settings = AuditSettings::from_config(config)?;
        let signing = match &settings.signing_key {
            Some(key) => Some(SigningKey::from_bytes(&key_bytes(
                "signing_key",
                key.expose(),
            )?)),
            None => None,
        };
        let verifying = match (&settings.verifying_key, &signing) {
            (Some(key), _) => VerifyingKey::from_bytes(&key_bytes("verifying_key", key)?)
                .map_err(|_| anyhow::anyhow!("audit.verifying_key is not an Ed25519 key"))?,
            (None, Some(signing)) => signing.verifying_key(),
            (None, None) => return Ok(None),
        };
        if let Some(signing) = &signing {
            anyhow::ensure!(
                signing.verifying_key() == verifying,
                "audit.verifying_key is not the public half of audit.signing_key"
            );
        }
        let store = objects::open(&settings.anchors, config.network.allow_loopback)?;
        Ok(Some(Self {
            signing: signing.map(Arc::new),
            verifying,
            store,
            clock,
            interval: std::time::Duration::from_secs(settings.anchor_interval_s),
        }))
    }

    /// Anchors every trust's new links. Returns, per trust, the last link anchored now (or
    /// why not); a trust with nothing new is left out.
    pub async fn anchor_all(
        &self,
        pool: &PgPool,
        store: &PgEventStore,
    ) -> Result<Vec<Anchoring>, AnchorError> {
        self.signer()?;
        let mut outcomes = Vec::new();
        for chain in Chain::ALL {
            for trust in chain::trusts(pool, chain).await? {
                loop {
                    let outcome = self.anchor(pool, store, chain, trust).await;
                    let done = !matches!(outcome, Ok(Some(_)));
                    if let Some(outcome) = outcome.transpose() {
                        outcomes.push(Anchoring {
                            chain,
                            trust,
                            outcome,
                        });
                    }
                    if done {
                        break;
                    }
                }
            }
        }
        Ok(outcomes)
    }

    /// Anchors up to `MOST_LINKS` of the trust's links added since its last anchor, after
    /// checking them. `None` when there is nothing new.
    pub async fn anchor(
        &self,
        pool: &PgPool,
        store: &PgEventStore,
        chain: Chain,
        trust: TrustId,
    ) -> Result<Option<i64>, AnchorError> {
        let signing = self.signer()?;
        let last = sqlx::query!(
            "SELECT head_seq, head_hash FROM action_tracking.audit_anchors WHERE trust_id = $1 AND chain = $2",
            trust.into_uuid(),
            chain.as_str(),
        )
        .fetch_optional(pool)
        .await?
        .map(|row| (row.head_seq, chain::to_hash(&row.head_hash)))
        .unwrap_or((0, GENESIS));
        let links: Vec<PendingLink> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT seq, event_id, prev_hash, hash FROM {} WHERE trust_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            chain.table()
        )))
        .bind(trust.into_uuid())
        .bind(last.0)
        .bind(MOST_LINKS)
        .fetch_all(pool)
        .await?;
        if links.is_empty() {
            return Ok(None);
        }
        let ids: Vec<EventId> = links
            .iter()
            .map(|l| EventId::from_uuid(l.event_id))
            .collect();
        let events: HashMap<Uuid, RecordedEvent> = store
            .read_by_ids(&ids)
            .await
            .map_err(chain::VerifyError::from)?
            .into_iter()
            .map(|event| (event.event_id.into_uuid(), event))
            .collect();
        let (mut seq, mut previous) = last;
        let mut anchored = Vec::with_capacity(links.len());
        for row in &links {
            let refuse = |detail: &str| AnchorError::Tampered {
                seq: row.seq,
                event_id: row.event_id,
                detail: detail.to_owned(),
            };
            if row.seq != seq + 1 {
                return Err(refuse("the chain skips a link"));
            }
            if chain::to_hash(&row.prev_hash) != previous {
                return Err(refuse("it does not follow the link before it"));
            }
            let event = events
                .get(&row.event_id)
                .ok_or_else(|| refuse("its event is not in the event store"))?;
            let hash = chain::link(&previous, event);
            if event.trust_id != trust || hash != chain::to_hash(&row.hash) {
                return Err(refuse("the stored event differs from the one chained"));
            }
            anchored.push(AnchoredLink {
                seq: row.seq,
                event_id: row.event_id,
                hash: hex::encode(hash),
            });
            (seq, previous) = (row.seq, hash);
        }
        let checkpoint = serde_json::to_string(&Checkpoint {
            format: FORMAT.to_owned(),
            chain: chain.as_str().to_owned(),
            trust_id: trust.into_uuid(),
            signed_at: self.clock.now(),
            links: anchored,
        })
        .map_err(|error| AnchorError::Other(error.to_string()))?;
        let envelope = Envelope {
            signature: BASE64.encode(signing.sign(checkpoint.as_bytes()).to_bytes()),
            key: BASE64.encode(self.verifying.to_bytes()),
            checkpoint,
        };
        let body = serde_json::to_vec_pretty(&envelope)
            .map_err(|error| AnchorError::Other(error.to_string()))?;
        let path = Path::from(format!(
            "{}/{}/{seq:012}.json",
            trust.into_uuid(),
            chain.as_str()
        ));
        let created = self
            .store
            .put_opts(
                &path,
                PutPayload::from(body),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match created {
            // Another replica anchored the same links a moment ago.
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        sqlx::query!(
            "INSERT INTO action_tracking.audit_anchors (trust_id, chain, head_seq, head_hash, object, anchored_at) \
             VALUES ($1, $6, $2, $3, $4, $5) \
             ON CONFLICT (trust_id, chain) DO UPDATE SET head_seq = EXCLUDED.head_seq, head_hash = EXCLUDED.head_hash, \
               object = EXCLUDED.object, anchored_at = EXCLUDED.anchored_at \
             WHERE audit_anchors.head_seq < EXCLUDED.head_seq",
            trust.into_uuid(),
            seq,
            &previous[..],
            path.to_string(),
            self.clock.now(),
            chain.as_str(),
        )
        .execute(pool)
        .await?;
        tracing::info!(%trust, chain = chain.as_str(), through = seq, object = %path, "audit chain anchored");
        Ok(Some(seq))
    }

    fn signer(&self) -> Result<&SigningKey, AnchorError> {
        self.signing.as_deref().ok_or_else(|| {
            AnchorError::Other(
                "anchoring needs audit.signing_key; only the verifying key is set".to_owned(),
            )
        })
    }

    /// Every anchor of the trust, checked against the installation's verifying key.
    pub async fn read(
        &self,
        chain: Chain,
        trust: TrustId,
    ) -> Result<Anchored, object_store::Error> {
        let prefix = Path::from(format!("{}/{}", trust.into_uuid(), chain.as_str()));
        let objects: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut anchored = Anchored::default();
        for object in objects {
            let body = self.store.get(&object.location).await?.bytes().await?;
            match self.open(chain, trust, &body) {
                Ok(checkpoint) => {
                    for link in checkpoint.links {
                        let hash = hex::decode(&link.hash)
                            .ok()
                            .map(|bytes| chain::to_hash(&bytes));
                        let Some(hash) = hash else {
                            anchored
                                .refused
                                .push(format!("{}: a link's hash is not hex", object.location));
                            continue;
                        };
                        let earlier = anchored.links.insert(link.seq, (link.event_id, hash));
                        if earlier.is_some_and(|earlier| earlier != (link.event_id, hash)) {
                            anchored.refused.push(format!(
                                "{}: link {} differs from another anchor's",
                                object.location, link.seq
                            ));
                        }
                    }
                    anchored.latest = anchored.latest.max(Some(checkpoint.signed_at));
                }
                Err(why) => anchored.refused.push(format!("{}: {why}", object.location)),
            }
        }
        Ok(anchored)
    }

    fn open(&self, chain: Chain, trust: TrustId, body: &[u8]) -> Result<Checkpoint, &'static str> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|_| "not an anchor")?;
        let signature = BASE64
            .decode(&envelope.signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or("its signature is malformed")?;
        self.verifying
            .verify(envelope.checkpoint.as_bytes(), &signature)
            .map_err(|_| "not signed by this installation's audit key")?;
        let checkpoint: Checkpoint =
            serde_json::from_str(&envelope.checkpoint).map_err(|_| "not an anchor")?;
        if checkpoint.format != FORMAT
            || checkpoint.trust_id != trust.into_uuid()
            || checkpoint.chain != chain.as_str()
        {
            return Err("an anchor of another trust, chain or format");
        }
        Ok(checkpoint)
    }

    /// Anchors on the interval until `shutdown`.
    pub async fn run(
        self,
        pool: PgPool,
        store: PgEventStore,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            match self.anchor_all(&pool, &store).await {
                Ok(outcomes) => {
                    for anchoring in outcomes {
                        if let Err(error) = anchoring.outcome {
                            metrics::counter!("waymark_audit_anchor_refused_total").increment(1);
                            tracing::error!(trust = %anchoring.trust, chain = anchoring.chain.as_str(), %error, "audit chain not anchored");
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "audit anchoring could not run; trying again next round")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}
