//! Files attached to records as evidence, kept by the service that owns the record.
//!
//! The owner implements [`EvidenceOwner`] (append `EvidenceAttached` / `EvidenceRemoved`
//! through its decider; say whether a caller may read a file); [`EvidenceService`] is the
//! rest, the same for every owner: it checks the file (`waymark_domain::evidence::check`),
//! keeps the bytes in the object store *before* the event is appended (so no event names a
//! file that is not there), and deletes them again if the record refuses. [`EvidenceIndex`]
//! keeps the service's `evidence_files` table from the events, and [`EvidenceFiles::sweep`]
//! deletes the bytes of removed files and of files no event ever named.
//!
//! Settings, section `evidence`:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `max_bytes` | the largest file taken | 20000000 (20 MB) |
//! | `files.*` | where the bytes go (see [`crate::objects`]); each service under its own prefix | `file:///var/lib/waymark/evidence` |
//! | `removed_grace_s` | how long a removed file's bytes stay before the sweep deletes them | 86400 |
//! | `sweep_interval_s` | how often the sweep runs | 3600 |

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{DynObjectStore, ObjectStoreExt, PutPayload};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_bus::HandlerError;
use waymark_domain::evidence::{Attachment, FileName, MediaType, check};
use waymark_domain::ids::AttachmentId;
use waymark_domain::{CommandId, StaffId, TrustId};
use waymark_event_store::RecordedEvent;
use waymark_proto::evidence::v1 as pb;

use crate::auth::RequestContext;
use crate::objects::{self, ObjectStoreConfig, ObjectStoreError};
use crate::{Clock, Config, ErrorKind, ServiceError, parse};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceSettings {
    pub max_bytes: u64,
    pub files: ObjectStoreConfig,
    pub removed_grace_s: u64,
    pub sweep_interval_s: u64,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            max_bytes: 20_000_000,
            files: ObjectStoreConfig {
                url: "file:///var/lib/waymark/evidence".to_owned(),
                ..ObjectStoreConfig::default()
            },
            removed_grace_s: 86_400,
            sweep_interval_s: 3600,
        }
    }
}

impl EvidenceSettings {
    pub fn from_config(config: &Config) -> Result<Self, ObjectStoreError> {
        let settings: Self = config
            .section("evidence")
            .map_err(|error| ObjectStoreError::Config(error.to_string()))?;
        if !(1..=200_000_000).contains(&settings.max_bytes) {
            return Err(ObjectStoreError::Config(
                "evidence.max_bytes must be between 1 and 200000000".to_owned(),
            ));
        }
        if settings.removed_grace_s > 10 * 366 * 86_400 {
            return Err(ObjectStoreError::Config(
                "evidence.removed_grace_s must be at most ten years".to_owned(),
            ));
        }
        if settings.sweep_interval_s == 0 {
            return Err(ObjectStoreError::Config(
                "evidence.sweep_interval_s must be at least 1".to_owned(),
            ));
        }
        Ok(settings)
    }

    /// The largest gRPC message that carries a file: the file and room for the rest.
    pub fn message_limit(&self) -> usize {
        usize::try_from(self.max_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(64 * 1024)
    }
}

/// One service's evidence: its object store (under the service's own prefix), the limits,
/// and its `evidence_files` table.
pub struct EvidenceFiles {
    store: Arc<DynObjectStore>,
    prefix: &'static str,
    table: &'static str,
    pub settings: EvidenceSettings,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Removed files whose bytes were deleted.
    pub removed: usize,
    /// Bytes no event names (a process stopped between keeping them and the event), deleted.
    pub orphans: usize,
}

impl EvidenceFiles {
    /// `prefix` keeps the service's files apart in a shared bucket; `table` is its
    /// `evidence_files` table.
    pub fn open(
        config: &Config,
        prefix: &'static str,
        table: &'static str,
    ) -> Result<Arc<Self>, ObjectStoreError> {
        let settings = EvidenceSettings::from_config(config)?;
        let store = objects::open(&settings.files, config.network.allow_loopback)?;
        Ok(Arc::new(Self {
            store,
            prefix,
            table,
            settings,
        }))
    }

    fn path(&self, trust: TrustId, id: AttachmentId) -> Path {
        Path::from(format!("{}/{trust}/{id}", self.prefix))
    }

    async fn keep(
        &self,
        trust: TrustId,
        id: AttachmentId,
        bytes: Vec<u8>,
    ) -> Result<(), ServiceError> {
        self.store
            .put(&self.path(trust, id), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|error| store_error(&error))
    }

    async fn forget(&self, trust: TrustId, id: AttachmentId) {
        match self.store.delete(&self.path(trust, id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(%error, %id, "could not delete an evidence file; the sweep will")
            }
        }
    }

    /// The bytes of file `id`.
    pub async fn read(&self, trust: TrustId, id: AttachmentId) -> Result<Vec<u8>, ServiceError> {
        let got = self
            .store
            .get(&self.path(trust, id))
            .await
            .map_err(|error| store_error(&error))?;
        let bytes = got.bytes().await.map_err(|error| store_error(&error))?;
        Ok(bytes.to_vec())
    }

    /// Whether the bytes of file `id` are still kept.
    pub async fn kept(&self, trust: TrustId, id: AttachmentId) -> Result<bool, ServiceError> {
        match self.store.head(&self.path(trust, id)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(store_error(&error)),
        }
    }

    /// Deletes the bytes of files removed before `now` less the grace period, and of files
    /// kept before `orphaned_before` that no event names.
    pub async fn sweep(
        &self,
        pool: &PgPool,
        now: DateTime<Utc>,
        orphaned_before: DateTime<Utc>,
    ) -> Result<Swept, ServiceError> {
        // At most ten years (`from_config`), so this cannot overflow.
        let grace =
            chrono::Duration::seconds(i64::try_from(self.settings.removed_grace_s).unwrap_or(0));
        let due: Vec<(Uuid, Uuid)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT trust_id, attachment_id FROM {} WHERE removed_at <= $1 AND deleted_at IS NULL",
            self.table
        )))
        .bind(now - grace)
        .fetch_all(pool)
        .await?;
        let mut swept = Swept::default();
        for (trust, id) in due {
            let (trust, id) = (TrustId::from_uuid(trust), AttachmentId::from_uuid(id));
            self.forget(trust, id).await;
            if !self.kept(trust, id).await? {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {} SET deleted_at = $2 WHERE attachment_id = $1",
                    self.table
                )))
                .bind(id.into_uuid())
                .bind(now)
                .execute(pool)
                .await?;
                swept.removed += 1;
            }
        }
        let prefix = Path::from(self.prefix);
        let mut listed = Vec::new();
        let mut objects = self.store.list(Some(&prefix));
        while let Some(object) = objects
            .try_next()
            .await
            .map_err(|error| store_error(&error))?
        {
            if object.last_modified < orphaned_before {
                listed.push(object.location);
            }
        }
        for location in listed {
            let Some(id) = location
                .filename()
                .and_then(|name| Uuid::parse_str(name).ok())
            else {
                continue;
            };
            let named: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE attachment_id = $1)",
                self.table
            )))
            .bind(id)
            .fetch_one(pool)
            .await?;
            if !named {
                match self.store.delete(&location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => swept.orphans += 1,
                    Err(error) => return Err(store_error(&error)),
                }
            }
        }
        Ok(swept)
    }

    /// Sweeps every `sweep_interval_s` until `shutdown`. Bytes kept more than a day ago that
    /// no event names are orphans.
    pub fn spawn_sweeper(
        self: Arc<Self>,
        pool: PgPool,
        clock: Arc<dyn Clock>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut every =
                tokio::time::interval(Duration::from_secs(self.settings.sweep_interval_s));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = every.tick() => {}
                }
                let now = clock.now();
                match self
                    .sweep(&pool, now, now - chrono::Duration::days(1))
                    .await
                {
                    Ok(swept) if swept != Swept::default() => {
                        tracing::info!(
                            removed = swept.removed,
                            orphans = swept.orphans,
                            "evidence files deleted"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the evidence sweep failed; it runs again later")
                    }
                }
            }
        })
    }
}

fn store_error(error: &object_store::Error) -> ServiceError {
    tracing::error!(%error, "evidence store");
    match error {
        object_store::Error::NotFound { .. } => ServiceError::new(
            ErrorKind::NotFound,
            "evidence.missing",
            "the file is no longer kept",
        ),
        _ => ServiceError::unavailable("the evidence store cannot be reached; try again"),
    }
}

/// A file as the API lists it.
pub fn message(attachment: &Attachment) -> pb::Attachment {
    pb::Attachment {
        attachment_id: attachment.attachment_id.to_string(),
        file_name: attachment.file_name.to_string(),
        media_type: attachment.media_type.mime().to_owned(),
        size_bytes: i64::try_from(attachment.size_bytes).unwrap_or(i64::MAX),
        by: attachment.by.to_string(),
        sha256: attachment.sha256.clone(),
    }
}

/// What the service that owns a kind of record answers. Who may attach, remove and read is
/// the owner's to decide (its decider and its policies).
#[tonic::async_trait]
pub trait EvidenceOwner: Send + Sync + 'static {
    /// Appends `EvidenceAttached` to the record; returns its new version.
    async fn attach(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        record_id: Uuid,
        attachment: Attachment,
    ) -> Result<i64, ServiceError>;

    /// Appends `EvidenceRemoved` to the record; returns its new version.
    async fn remove(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<i64, ServiceError>;

    /// The file, if the caller may read the whole record and the record has it; otherwise
    /// not found, whatever the reason.
    async fn readable(
        &self,
        context: &RequestContext,
        kind: &str,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<Attachment, ServiceError>;
}

/// The `waymark.evidence.v1.Evidence` service over an owner's records.
pub struct EvidenceService<O> {
    owner: O,
    files: Arc<EvidenceFiles>,
}

impl<O: EvidenceOwner> EvidenceService<O> {
    /// The gRPC server, taking messages as large as a file.
    pub fn server(
        owner: O,
        files: Arc<EvidenceFiles>,
    ) -> pb::evidence_server::EvidenceServer<Self> {
        let limit = files.settings.message_limit();
        pb::evidence_server::EvidenceServer::new(Self { owner, files })
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }
}

fn record(kind: &str, id: &str) -> Result<Uuid, ServiceError> {
    if kind.trim().is_empty() {
        return Err(ServiceError::invalid("record_kind", "is required"));
    }
    Uuid::parse_str(id.trim()).map_err(|_| ServiceError::invalid("record_id", "is not an id"))
}

#[tonic::async_trait]
impl<O: EvidenceOwner> pb::evidence_server::Evidence for EvidenceService<O> {
    async fn attach(
        &self,
        request: Request<pb::AttachRequest>,
    ) -> Result<Response<pb::AttachReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let record_id = record(&request.record_kind, &request.record_id)?;
        let command: CommandId = parse::id("command_id", &request.command_id)?;
        let checked = check(&request.content, self.files.settings.max_bytes).map_err(|error| {
            ServiceError::new(ErrorKind::InvalidArgument, error.code(), error.to_string())
        })?;
        // The same command keeps the same id, so a retry overwrites its own file.
        let id = AttachmentId::from_uuid(Uuid::new_v5(command.as_uuid(), b"attachment"));
        let trust = context.caller.trust;
        let attachment = Attachment {
            attachment_id: id,
            file_name: FileName::new(&request.file_name, checked.media_type),
            media_type: checked.media_type,
            size_bytes: checked.bytes.len() as u64,
            sha256: hex(&Sha256::digest(&checked.bytes)),
            by: StaffId::from_uuid(context.caller.actor.into_uuid()),
        };
        self.files.keep(trust, id, checked.bytes).await?;
        match self
            .owner
            .attach(
                &context,
                &request.command_id,
                &request.record_kind,
                record_id,
                attachment,
            )
            .await
        {
            Ok(version) => Ok(Response::new(pb::AttachReply {
                attachment_id: id.to_string(),
                version,
            })),
            Err(error) => {
                self.files.forget(trust, id).await;
                Err(error.into())
            }
        }
    }

    async fn remove(
        &self,
        request: Request<pb::RemoveRequest>,
    ) -> Result<Response<pb::RemoveReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let record_id = record(&request.record_kind, &request.record_id)?;
        let attachment_id = parse::id("attachment_id", &request.attachment_id)?;
        let version = self
            .owner
            .remove(
                &context,
                &request.command_id,
                &request.record_kind,
                record_id,
                attachment_id,
            )
            .await?;
        Ok(Response::new(pb::RemoveReply { version }))
    }

    async fn fetch(
        &self,
        request: Request<pb::FetchRequest>,
    ) -> Result<Response<pb::File>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let record_id = record(&request.record_kind, &request.record_id)?;
        let attachment_id = parse::id("attachment_id", &request.attachment_id)?;
        let attachment = self
            .owner
            .readable(&context, &request.record_kind, record_id, attachment_id)
            .await?;
        let content = self.files.read(context.caller.trust, attachment_id).await?;
        Ok(Response::new(pb::File {
            attachment: Some(message(&attachment)),
            content,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[derive(Deserialize)]
struct Attached {
    attachment: Attachment,
    /// A file on one part of the stream's record (an occurrence of a school's year) is
    /// listed under that part.
    #[serde(default)]
    occurrence: Option<Uuid>,
}

#[derive(Deserialize)]
struct Removed {
    attachment_id: AttachmentId,
}

/// Keeps `table` (the service's `evidence_files`) from an `EvidenceAttached` or
/// `EvidenceRemoved` event; other events change nothing. Called by the owner's projection in
/// its transaction, so a file is listed as soon as its record shows it. The sweep reads the
/// table; so does erasure, to find every file of a person.
pub async fn index(
    tx: &mut PgConnection,
    table: &str,
    event: &RecordedEvent,
) -> Result<(), HandlerError> {
    let unreadable = |error: serde_json::Error| {
        HandlerError::Permanent(format!("{} {}: {error}", event.event_type, event.event_id))
    };
    match event.event_type.as_str() {
        "EvidenceAttached" => {
            let Attached {
                attachment,
                occurrence,
            } = serde_json::from_str(event.payload.get()).map_err(unreadable)?;
            let (record_kind, record_id) = match occurrence {
                Some(occurrence) => ("occurrence", occurrence),
                None => (
                    event.stream_id.category(),
                    event
                        .stream_id
                        .as_str()
                        .split_once('-')
                        .and_then(|(_, id)| Uuid::parse_str(id).ok())
                        .ok_or_else(|| {
                            HandlerError::Permanent(format!(
                                "stream {} has no record id",
                                event.stream_id
                            ))
                        })?,
                ),
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} (attachment_id, trust_id, record_kind, record_id, uploaded_by, \
                 file_name, media_type, size_bytes, sha256, attached_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (attachment_id) DO NOTHING"
            )))
            .bind(attachment.attachment_id.into_uuid())
            .bind(event.trust_id.into_uuid())
            .bind(record_kind)
            .bind(record_id)
            .bind(attachment.by.into_uuid())
            .bind(attachment.file_name.as_str())
            .bind(attachment.media_type.mime())
            .bind(i64::try_from(attachment.size_bytes).unwrap_or(i64::MAX))
            .bind(&attachment.sha256)
            .bind(event.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        "EvidenceRemoved" => {
            let Removed { attachment_id } =
                serde_json::from_str(event.payload.get()).map_err(unreadable)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET removed_at = $2 WHERE attachment_id = $1 AND removed_at IS NULL"
            )))
            .bind(attachment_id.into_uuid())
            .bind(event.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The files on record `record_id` now, oldest first.
pub async fn on_record(
    pool: &PgPool,
    table: &str,
    trust: TrustId,
    record_id: Uuid,
) -> Result<Vec<Attachment>, ServiceError> {
    let rows: Vec<(Uuid, String, String, i64, String, Uuid)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT attachment_id, file_name, media_type, size_bytes, sha256, uploaded_by FROM {table} \
             WHERE trust_id = $1 AND record_id = $2 AND removed_at IS NULL \
             ORDER BY attached_at, attachment_id"
        )))
        .bind(trust.into_uuid())
        .bind(record_id)
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|(id, file_name, media_type, size, sha256, by)| {
            let media_type = MediaType::from_mime(&media_type)
                .ok_or_else(|| ServiceError::internal("a stored file has an unknown kind"))?;
            Ok(Attachment {
                attachment_id: AttachmentId::from_uuid(id),
                file_name: FileName::new(&file_name, media_type),
                media_type,
                size_bytes: u64::try_from(size).unwrap_or_default(),
                sha256,
                by: StaffId::from_uuid(by),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused_not_used() {
        let settings = |key: &str, value: &str| {
            EvidenceSettings::from_config(&Config::with(&[(key, value)]).unwrap())
        };
        assert!(settings("evidence.max_bytes", "20000000").is_ok());
        assert!(settings("evidence.max_bytes", "0").is_err());
        assert!(settings("evidence.removed_grace_s", "999999999999999").is_err());
        assert!(settings("evidence.sweep_interval_s", "0").is_err());
    }
}
