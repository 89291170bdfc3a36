//! Files attached to reviews, visits, meetings and self-evaluation audits
//! (`waymark_runtime::evidence`): each record's decider says who may attach and remove; the
//! record policies say who reads them, with the rest of the record (never someone who may
//! only see its status); an audit's files are read by whoever may read the audit.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use uuid::Uuid;
use waymark_domain::evidence::{Attachment, Attachments};
use waymark_domain::review_dialogue::audit::{Audit, AuditCommand, AuditState};
use waymark_domain::review_dialogue::meeting::{Meeting, MeetingCommand, MeetingState};
use waymark_domain::review_dialogue::review::{Review, ReviewCommand, ReviewState};
use waymark_domain::review_dialogue::visit::{Visit, VisitCommand, VisitState};
use waymark_domain::{AttachmentId, Decider, Rejection, StaffId};
use waymark_policy::Policies;
use waymark_runtime::ServiceError;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::evidence::EvidenceOwner;

use crate::access::{self, Record};
use crate::runner::Runner;

/// A kind of record that takes files: its commands, and where its read model keeps it.
pub trait WithFiles: Decider<State: Record + DeserializeOwned> {
    /// Its read model's table and key column.
    const TABLE: &'static str;
    const KEY: &'static str;
    fn attach(actor: StaffId, attachment: Attachment) -> Self::Command;
    fn remove(actor: StaffId, attachment_id: AttachmentId) -> Self::Command;
    fn files(state: &Self::State) -> &Attachments;
}

impl WithFiles for Review {
    const TABLE: &'static str = "reviews";
    const KEY: &'static str = "review_id";
    fn attach(actor: StaffId, attachment: Attachment) -> ReviewCommand {
        ReviewCommand::Attach { actor, attachment }
    }
    fn remove(actor: StaffId, attachment_id: AttachmentId) -> ReviewCommand {
        ReviewCommand::RemoveAttachment {
            actor,
            attachment_id,
        }
    }
    fn files(state: &ReviewState) -> &Attachments {
        &state.attachments
    }
}

impl WithFiles for Visit {
    const TABLE: &'static str = "visits";
    const KEY: &'static str = "visit_id";
    fn attach(actor: StaffId, attachment: Attachment) -> VisitCommand {
        VisitCommand::Attach { actor, attachment }
    }
    fn remove(actor: StaffId, attachment_id: AttachmentId) -> VisitCommand {
        VisitCommand::RemoveAttachment {
            actor,
            attachment_id,
        }
    }
    fn files(state: &VisitState) -> &Attachments {
        &state.attachments
    }
}

impl WithFiles for Meeting {
    const TABLE: &'static str = "meetings";
    const KEY: &'static str = "meeting_id";
    fn attach(actor: StaffId, attachment: Attachment) -> MeetingCommand {
        MeetingCommand::Attach { actor, attachment }
    }
    fn remove(actor: StaffId, attachment_id: AttachmentId) -> MeetingCommand {
        MeetingCommand::RemoveAttachment {
            actor,
            attachment_id,
        }
    }
    fn files(state: &MeetingState) -> &Attachments {
        &state.attachments
    }
}

pub struct Records {
    pub runner: Runner,
    pub policies: Arc<Policies>,
}

fn actor(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

fn unknown_kind() -> ServiceError {
    ServiceError::invalid(
        "record_kind",
        "this service keeps files for reviews, visits, meetings and audits",
    )
}

impl Records {
    async fn run<D: WithFiles>(
        &self,
        context: &RequestContext,
        command_id: &str,
        record_id: Uuid,
        command: D::Command,
    ) -> Result<i64, ServiceError>
    where
        D::Rejection: Rejection,
    {
        let executed = self
            .runner
            .execute::<D>(context, command_id, record_id, command)
            .await?;
        Ok(executed.version)
    }

    /// Attaches or removes a file of an audit the caller may read (else not found); its
    /// decider admits only its lead and participants.
    async fn run_audit(
        &self,
        context: &RequestContext,
        command_id: &str,
        audit_id: Uuid,
        command: AuditCommand,
    ) -> Result<i64, ServiceError> {
        self.audit(context, audit_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("audit"))?;
        let executed = self
            .runner
            .execute::<Audit>(context, command_id, audit_id, command)
            .await?;
        Ok(executed.version)
    }

    /// A file of an audit the caller may read.
    async fn audit_file(
        &self,
        context: &RequestContext,
        audit_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        self.audit(context, audit_id)
            .await?
            .and_then(|audit| audit.attachments.get(attachment_id).cloned())
            .ok_or_else(|| ServiceError::not_found("file"))
    }

    /// The audit, if the caller may read it.
    async fn audit(
        &self,
        context: &RequestContext,
        audit_id: Uuid,
    ) -> Result<Option<AuditState>, ServiceError> {
        let trust = context.caller.trust;
        let directory = self.runner.access.directory(trust).await?;
        let found = crate::audits::readable(
            &self.runner.platform.pool,
            &self.policies,
            &directory,
            actor(context),
            trust,
            audit_id,
        )
        .await?;
        Ok(found.map(|(audit, _, _)| audit))
    }

    async fn readable<D: WithFiles>(
        &self,
        context: &RequestContext,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        let trust = context.caller.trust;
        let directory = self.runner.access.directory(trust).await?;
        let record: Option<D::State> = access::readable(
            &self.runner.platform.pool,
            &self.policies,
            &directory,
            actor(context),
            (D::TABLE, D::KEY),
            trust,
            record_id,
        )
        .await?;
        record
            .and_then(|record| D::files(&record).get(attachment_id).cloned())
            .ok_or_else(|| ServiceError::not_found("file"))
    }
}

#[tonic::async_trait]
impl EvidenceOwner for Records {
    async fn attach(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        id: Uuid,
        attachment: Attachment,
    ) -> Result<i64, ServiceError> {
        let who = actor(context);
        match kind {
            Review::CATEGORY => {
                self.run::<Review>(context, command_id, id, Review::attach(who, attachment))
                    .await
            }
            Visit::CATEGORY => {
                self.run::<Visit>(context, command_id, id, Visit::attach(who, attachment))
                    .await
            }
            Meeting::CATEGORY => {
                self.run::<Meeting>(context, command_id, id, Meeting::attach(who, attachment))
                    .await
            }
            Audit::CATEGORY => {
                let command = AuditCommand::Attach {
                    actor: who,
                    attachment,
                };
                self.run_audit(context, command_id, id, command).await
            }
            _ => Err(unknown_kind()),
        }
    }

    async fn remove(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        id: Uuid,
        file: AttachmentId,
    ) -> Result<i64, ServiceError> {
        let who = actor(context);
        match kind {
            Review::CATEGORY => {
                self.run::<Review>(context, command_id, id, Review::remove(who, file))
                    .await
            }
            Visit::CATEGORY => {
                self.run::<Visit>(context, command_id, id, Visit::remove(who, file))
                    .await
            }
            Meeting::CATEGORY => {
                self.run::<Meeting>(context, command_id, id, Meeting::remove(who, file))
                    .await
            }
            Audit::CATEGORY => {
                let command = AuditCommand::RemoveAttachment {
                    actor: who,
                    attachment_id: file,
                };
                self.run_audit(context, command_id, id, command).await
            }
            _ => Err(unknown_kind()),
        }
    }

    async fn readable(
        &self,
        context: &RequestContext,
        kind: &str,
        id: Uuid,
        file: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        match kind {
            Review::CATEGORY => self.readable::<Review>(context, id, file).await,
            Visit::CATEGORY => self.readable::<Visit>(context, id, file).await,
            Meeting::CATEGORY => self.readable::<Meeting>(context, id, file).await,
            Audit::CATEGORY => self.audit_file(context, id, file).await,
            _ => Err(unknown_kind()),
        }
    }
}
