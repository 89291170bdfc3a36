//! Files attached to reviews (`waymark_runtime::evidence`): the review's decider says who may
//! attach and remove; the record policies say who reads them, with the rest of the record.

use std::sync::Arc;

use sqlx::types::Json;
use uuid::Uuid;
use waymark_domain::evidence::Attachment;
use waymark_domain::review_dialogue::review::{Review, ReviewCommand, ReviewState};
use waymark_domain::{AttachmentId, Decider, StaffId};
use waymark_policy::{Policies, RecordAccess};
use waymark_runtime::ServiceError;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::evidence::EvidenceOwner;

use crate::access::Record;
use crate::runner::Runner;

pub struct Reviews {
    pub runner: Runner,
    pub policies: Arc<Policies>,
}

fn kind(kind: &str) -> Result<(), ServiceError> {
    if kind == Review::CATEGORY {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "record_kind",
            "this service keeps files for reviews",
        ))
    }
}

fn actor(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

#[tonic::async_trait]
impl EvidenceOwner for Reviews {
    async fn attach(
        &self,
        context: &RequestContext,
        command_id: &str,
        record_kind: &str,
        record_id: Uuid,
        attachment: Attachment,
    ) -> Result<i64, ServiceError> {
        kind(record_kind)?;
        let command = ReviewCommand::Attach {
            actor: actor(context),
            attachment,
        };
        let executed = self
            .runner
            .execute::<Review>(context, command_id, record_id, command)
            .await?;
        Ok(executed.version)
    }

    async fn remove(
        &self,
        context: &RequestContext,
        command_id: &str,
        record_kind: &str,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<i64, ServiceError> {
        kind(record_kind)?;
        let command = ReviewCommand::RemoveAttachment {
            actor: actor(context),
            attachment_id,
        };
        let executed = self
            .runner
            .execute::<Review>(context, command_id, record_id, command)
            .await?;
        Ok(executed.version)
    }

    async fn readable(
        &self,
        context: &RequestContext,
        record_kind: &str,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        kind(record_kind)?;
        let trust = context.caller.trust;
        let not_found = || ServiceError::not_found("file");
        let row = sqlx::query!(
            r#"SELECT doc AS "doc: Json<ReviewState>" FROM review_dialogue.reviews
               WHERE trust_id = $1 AND review_id = $2"#,
            trust.into_uuid(),
            record_id
        )
        .fetch_optional(&self.runner.platform.pool)
        .await?
        .ok_or_else(not_found)?;
        let review = row.doc.0;
        let directory = self.runner.access.directory(trust).await?;
        let access =
            self.policies
                .record_access(&directory, actor(context), &review.facts(&directory));
        if access != RecordAccess::Full {
            return Err(not_found());
        }
        review
            .attachments
            .get(attachment_id)
            .cloned()
            .ok_or_else(not_found)
    }
}
