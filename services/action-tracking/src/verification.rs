//! Verification on a schedule. Every `audit.verify_interval_s` (daily by default) each
//! trust's chain is verified — against its anchors when they are configured — and the result
//! kept (`action_tracking.audit_verifications`), as it is when someone asks (`VerifyAuditTrail`).
//! A failure is recorded as `AuditVerificationFailed` in the trust's `audit_trail` stream,
//! once per new problem (not again while the same problem stands), and notifications tells
//! the trust's administrators at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use waymark_domain::action_tracking::audit_trail::{AuditTrailEvent, CATEGORY};
use waymark_domain::{ActorId, CorrelationId, EventId, EventMetadata, StreamId, TrustId};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};
use waymark_runtime::Platform;

use crate::anchors::Anchors;
use crate::chain::{self, Chain, Report, VerifyError};

/// The audit trail's own checks, as the actor of what they record. No person has this id.
pub fn verifier_actor() -> ActorId {
    ActorId::from_uuid(Uuid::new_v5(&Uuid::nil(), b"waymark-audit-verifier"))
}

/// The last verification of a trust's chain, as kept.
#[derive(Debug, Clone)]
pub struct Verified {
    pub at: DateTime<Utc>,
    pub events_checked: i64,
    pub anchored_through: i64,
    pub anchored_at: Option<DateTime<Utc>>,
    pub problem: Option<chain::Problem>,
}

/// Verifies the trust's chain, keeps the result, and records a new problem in the trust's
/// `audit_trail` stream.
pub async fn verify_and_keep(
    platform: &Platform,
    anchors: Option<&Anchors>,
    chain: Chain,
    trust: TrustId,
) -> Result<Report, VerifyError> {
    let report =
        chain::verify_with_anchors(&platform.pool, &platform.store, anchors, chain, trust).await?;
    let at = platform.clock.now();
    let problem = report.problem.as_ref();
    let earlier = sqlx::query!(
        "SELECT problem_seq, problem_event, problem_kind FROM action_tracking.audit_verifications \
         WHERE trust_id = $1 AND chain = $2",
        trust.into_uuid(),
        chain.as_str(),
    )
    .fetch_optional(&platform.pool)
    .await?;
    sqlx::query!(
        "INSERT INTO action_tracking.audit_verifications (trust_id, verified_at, events_checked, anchored_through, \
           anchored_at, problem_seq, problem_event, problem_kind, problem_detail, chain) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (trust_id, chain) DO UPDATE SET verified_at = $2, events_checked = $3, anchored_through = $4, \
           anchored_at = $5, problem_seq = $6, problem_event = $7, problem_kind = $8, problem_detail = $9",
        trust.into_uuid(),
        at,
        report.events_checked,
        report.anchored_through,
        report.anchored_at,
        problem.map(|p| p.seq),
        problem.map(|p| p.event_id),
        problem.map(|p| p.kind.as_str()),
        problem.map(|p| p.detail.as_str()),
        chain.as_str(),
    )
    .execute(&platform.pool)
    .await?;
    let Some(problem) = problem else {
        return Ok(report);
    };
    let same = earlier.is_some_and(|e| {
        (e.problem_seq, e.problem_event, e.problem_kind.as_deref())
            == (
                Some(problem.seq),
                Some(problem.event_id),
                Some(problem.kind.as_str()),
            )
    });
    if !same {
        metrics::counter!("waymark_audit_verification_failed_total").increment(1);
        tracing::error!(%trust, chain = chain.as_str(), seq = problem.seq, kind = problem.kind.as_str(), detail = %problem.detail, "audit trail verification failed");
        let event = AuditTrailEvent::VerificationFailed {
            chain: chain.as_str().to_owned(),
            seq: problem.seq,
            event_id: problem.event_id,
            kind: problem.kind.as_str().to_owned(),
            detail: problem.detail.clone(),
            verified_at: at,
        };
        let new = NewEvent::from_domain(EventId::from_uuid(Uuid::now_v7()), &event)
            .map_err(|error| VerifyError::Record(error.to_string()))?;
        platform
            .store
            .append(
                trust,
                &StreamId::new(CATEGORY, trust.into_uuid()),
                ExpectedVersion::Any,
                &EventMetadata {
                    actor: verifier_actor(),
                    causation_id: None,
                    correlation_id: CorrelationId::from_uuid(Uuid::now_v7()),
                    command_id: None,
                },
                &[new],
            )
            .await
            .map_err(|error| VerifyError::Record(error.to_string()))?;
    }
    Ok(report)
}

/// The trust's last verification of `chain`, if any.
pub async fn last(
    pool: &sqlx::PgPool,
    chain: Chain,
    trust: TrustId,
) -> Result<Option<Verified>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT verified_at, events_checked, anchored_through, anchored_at, problem_seq, problem_event, \
           problem_kind, problem_detail FROM action_tracking.audit_verifications WHERE trust_id = $1 AND chain = $2",
        trust.into_uuid(),
        chain.as_str(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| Verified {
        at: row.verified_at,
        events_checked: row.events_checked,
        anchored_through: row.anchored_through,
        anchored_at: row.anchored_at,
        problem: match (row.problem_seq, row.problem_event, row.problem_kind) {
            (Some(seq), Some(event_id), Some(kind)) => Some(chain::Problem {
                seq,
                event_id,
                kind: chain::ProblemKind::parse(&kind).unwrap_or(chain::ProblemKind::Altered),
                detail: row.problem_detail.unwrap_or_default(),
            }),
            _ => None,
        },
    }))
}

/// Verifies every trust's chain on the interval until `shutdown`, the first time one
/// interval after start.
pub async fn run(
    platform: std::sync::Arc<Platform>,
    anchors: Option<Anchors>,
    interval: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        for chain in Chain::ALL {
            let trusts = match chain::trusts(&platform.pool, chain).await {
                Ok(trusts) => trusts,
                Err(error) => {
                    tracing::warn!(%error, "scheduled audit verification could not run");
                    continue;
                }
            };
            for trust in trusts {
                if let Err(error) = verify_and_keep(&platform, anchors.as_ref(), chain, trust).await
                {
                    tracing::warn!(%trust, chain = chain.as_str(), %error, "scheduled audit verification could not run");
                }
            }
        }
    }
}
