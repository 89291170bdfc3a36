//! A meeting's day-before reminder ends with the previous meeting's actions, which review
//! dialogue holds. The events consumer never asks for them itself: a call to another service
//! inside its transaction would hold that transaction open for as long as the call takes. It
//! leaves the notice in `notifications.agenda_wanted` instead ([`wait_for`]), and this worker
//! asks review dialogue outside any transaction, then records the notice with the list (and
//! queues its deliveries) in a short transaction of its own.
//!
//! Review dialogue answering that it has no list for this reader (not found, not allowed)
//! sends the reminder without one. Review dialogue not answering is tried again every
//! second or so, for up to `delivery.agenda_wait_ms` after the reminder came; then the
//! reminder goes without the list rather than not at all. Replicas may ask at once; the row
//! is taken in the recording transaction, so only one records the notice (and recording is
//! idempotent by the notice's id anyway).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_domain::ids::ActorId;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_runtime::Platform;
use waymark_runtime::auth::Caller;

use crate::notices::{Notice, record};

/// How long one request to review dialogue may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// How often notices still waiting are looked at, when nothing wakes the worker sooner.
const POLL: Duration = Duration::from_secs(1);

/// Leaves `notice` (which names its meeting in `agenda`) to be recorded once its list is
/// known; in the consumer's transaction.
pub async fn wait_for(
    tx: &mut PgConnection,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO notifications.agenda_wanted (notice_key, trust_id, recipient_id, notice, wanted_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        notice.id().to_string(),
        notice.trust.into_uuid(),
        notice.recipient.into_uuid(),
        Json(notice) as _,
        now,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Starts the worker; it ends at shutdown.
pub fn spawn(
    platform: Arc<Platform>,
    review_dialogue: Channel,
    wait: Duration,
    wake: Arc<Notify>,
    deliveries: Arc<Notify>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let worker = Worker {
            platform,
            review_dialogue,
            wait: chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
            deliveries,
        };
        loop {
            if let Err(error) = worker.round().await {
                tracing::warn!(%error, "agenda round failed; trying again");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

struct Worker {
    platform: Arc<Platform>,
    review_dialogue: Channel,
    wait: chrono::Duration,
    deliveries: Arc<Notify>,
}

impl Worker {
    async fn round(&self) -> Result<(), sqlx::Error> {
        let waiting = sqlx::query!(
            r#"SELECT notice_key, notice AS "notice: Json<Notice>", wanted_at
               FROM notifications.agenda_wanted ORDER BY wanted_at LIMIT 100"#
        )
        .fetch_all(&self.platform.pool)
        .await?;
        for row in waiting {
            let Json(mut notice) = row.notice;
            let asked = match notice.agenda {
                Some(meeting) => self.ask(&notice, meeting).await,
                None => Ok(Vec::new()),
            };
            match asked {
                Ok(actions) if !actions.is_empty() => {
                    notice.body = format!(
                        "{} It starts with the previous meeting's actions:\n{}",
                        notice.body,
                        actions
                            .iter()
                            .map(|action| format!("- {action}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                }
                Ok(_) => {}
                Err(status) => {
                    if self.platform.clock.now() - row.wanted_at < self.wait {
                        tracing::debug!(%status, "meeting agenda not available yet");
                        continue;
                    }
                    tracing::warn!(%status, "meeting agenda unavailable: the reminder goes without it");
                }
            }
            let mut tx = self.platform.pool.begin().await?;
            let taken = sqlx::query_scalar!(
                "DELETE FROM notifications.agenda_wanted WHERE notice_key = $1 RETURNING 1",
                row.notice_key
            )
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_none() {
                continue;
            }
            record(&mut tx, &notice, self.platform.clock.now()).await?;
            tx.commit().await?;
            self.deliveries.notify_one();
        }
        Ok(())
    }

    /// The descriptions of the previous meeting's actions, as review dialogue shows the
    /// meeting to the person reminded (who is in it). Empty when review dialogue says there is
    /// nothing it will show them; an error when it could not answer now.
    async fn ask(&self, notice: &Notice, meeting: Uuid) -> Result<Vec<String>, tonic::Status> {
        let caller = Caller {
            trust: notice.trust,
            actor: ActorId::from_uuid(notice.recipient.into_uuid()),
        };
        let mut client = ReviewDialogueClient::new(InterceptedService::new(
            self.review_dialogue.clone(),
            self.platform.call_as(caller),
        ));
        let request = rd::GetRecordRequest {
            id: meeting.to_string(),
        };
        let reply = tokio::time::timeout(ASK_TIMEOUT, client.get_meeting(request))
            .await
            .map_err(|_| tonic::Status::deadline_exceeded("review dialogue did not answer"))?;
        match reply {
            Ok(reply) => Ok(reply
                .into_inner()
                .previous_actions
                .into_iter()
                .map(|action| action.description)
                .collect()),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::NotFound
                        | tonic::Code::PermissionDenied
                        | tonic::Code::InvalidArgument
                        | tonic::Code::FailedPrecondition
                ) =>
            {
                tracing::warn!(%status, "review dialogue has no agenda to show for this reminder");
                Ok(Vec::new())
            }
            Err(status) => Err(status),
        }
    }
}
