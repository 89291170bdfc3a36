//! Files attached to actions as evidence of impact (`waymark_runtime::evidence`): whoever may
//! record evidence on the action attaches (the policies); whoever attached a file removes it
//! (the decider); whoever may read the action reads its files.

use std::sync::Arc;

use uuid::Uuid;
use waymark_domain::action_tracking::action::{Action, ActionCommand};
use waymark_domain::evidence::Attachment;
use waymark_domain::{AttachmentId, CommandId, Decider, StaffId};
use waymark_policy::{ActionVerb, Policies};
use waymark_runtime::access::{Access, permit};
use waymark_runtime::auth::RequestContext;
use waymark_runtime::evidence::{EvidenceOwner, on_record};
use waymark_runtime::{ServiceError, parse};

use crate::commands::Commands;
use crate::{EVIDENCE_TABLE, access};

pub struct Actions {
    pub commands: Commands,
    pub policies: Arc<Policies>,
    pub access: Access,
}

impl Actions {
    /// Refuses unless the caller may `verb` the action; an action the caller may not read,
    /// or that the trust does not have, is not found.
    async fn allowed(
        &self,
        context: &RequestContext,
        record_kind: &str,
        action_id: Uuid,
        verb: ActionVerb,
    ) -> Result<(), ServiceError> {
        if record_kind != Action::CATEGORY {
            return Err(ServiceError::invalid(
                "record_kind",
                "this service keeps files for actions",
            ));
        }
        let trust = context.caller.trust;
        let not_found = || ServiceError::not_found("action");
        let facts = access::facts(&self.commands.platform.pool, trust, action_id)
            .await?
            .ok_or_else(not_found)?;
        let directory = self.access.directory(trust).await?;
        let who = StaffId::from_uuid(context.caller.actor.into_uuid());
        let may = |verb| {
            self.policies
                .allows_on_action(&directory, who, verb, &facts)
        };
        if !may(ActionVerb::Read) {
            return Err(not_found());
        }
        permit(may(verb), "action.not_permitted", access::refusal(verb))
    }

    async fn run(
        &self,
        context: &RequestContext,
        command_id: &str,
        action_id: Uuid,
        command: ActionCommand,
    ) -> Result<i64, ServiceError> {
        let command_id: CommandId = parse::id("command_id", command_id)?;
        let executed = self
            .commands
            .run(&context.command(command_id), action_id, &command)
            .await?;
        Ok(executed.version)
    }
}

#[tonic::async_trait]
impl EvidenceOwner for Actions {
    async fn attach(
        &self,
        context: &RequestContext,
        command_id: &str,
        record_kind: &str,
        record_id: Uuid,
        attachment: Attachment,
    ) -> Result<i64, ServiceError> {
        self.allowed(context, record_kind, record_id, ActionVerb::RecordEvidence)
            .await?;
        self.run(
            context,
            command_id,
            record_id,
            ActionCommand::Attach { attachment },
        )
        .await
    }

    async fn remove(
        &self,
        context: &RequestContext,
        command_id: &str,
        record_kind: &str,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<i64, ServiceError> {
        self.allowed(context, record_kind, record_id, ActionVerb::RecordEvidence)
            .await?;
        let command = ActionCommand::RemoveAttachment {
            actor: StaffId::from_uuid(context.caller.actor.into_uuid()),
            attachment_id,
        };
        self.run(context, command_id, record_id, command).await
    }

    async fn readable(
        &self,
        context: &RequestContext,
        record_kind: &str,
        record_id: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        let not_found = || ServiceError::not_found("file");
        self.allowed(context, record_kind, record_id, ActionVerb::Read)
            .await
            .map_err(|_| not_found())?;
        on_record(
            &self.commands.platform.pool,
            EVIDENCE_TABLE,
            context.caller.trust,
            record_id,
        )
        .await?
        .into_iter()
        .find(|file| file.attachment_id == attachment_id)
        .ok_or_else(not_found)
    }
}
