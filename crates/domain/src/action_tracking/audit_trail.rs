//! What the audit trail's own checks find: recorded in the trust's `audit_trail` stream, so
//! that the people responsible hear of it (notifications tells the trust's administrators).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decider::DomainEvent;

/// The stream category: one stream per trust, `audit_trail-<trust id>`.
pub const CATEGORY: &str = "audit_trail";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AuditTrailEvent {
    /// A verification of the trust's chain found a problem (the first one).
    VerificationFailed {
        /// Which of the trust's chains: `actions`, or `records` (reviews, meetings, visits).
        #[serde(default = "actions")]
        chain: String,
        /// The link where it was found (0 for a bad anchor).
        seq: i64,
        event_id: Uuid,
        /// `altered`, `removed`, `reordered`, `unchained`, `rewritten`, `truncated`, `bad-anchor`.
        kind: String,
        detail: String,
        verified_at: DateTime<Utc>,
    },
}

fn actions() -> String {
    "actions".to_owned()
}

impl DomainEvent for AuditTrailEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::VerificationFailed { .. } => "AuditVerificationFailed",
        }
    }
}
