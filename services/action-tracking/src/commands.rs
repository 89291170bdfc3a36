//! Running action commands, for the gRPC API and for agreements arriving as events alike.

use std::sync::Arc;

use uuid::Uuid;
use waymark_bus::FeedHandle;
use waymark_domain::action_tracking::action::{Action, ActionCommand, ActionRejection, NewAction};
use waymark_domain::agreed::{ActionId, Origin, OriginKind, carried_forward_id};
use waymark_domain::{CommandId, Decider, SchoolId, StaffId, StreamId, Text, TrustId};
use waymark_event_store::{CommandContext, ExecuteError, Executed, execute};
use waymark_runtime::{Platform, ServiceError};

use crate::READ_YOUR_WRITES;

#[derive(Clone)]
pub struct Commands {
    pub platform: Arc<Platform>,
    actions: FeedHandle,
    read_your_writes: bool,
}

impl Commands {
    pub fn new(platform: Arc<Platform>, actions: FeedHandle) -> Self {
        Self {
            platform,
            actions,
            read_your_writes: true,
        }
    }

    /// For event handlers: they run inside a transaction, and the projection cannot pass
    /// events younger than an open transaction, so waiting for it there would only stall.
    pub fn without_waiting(&self) -> Self {
        Self {
            read_your_writes: false,
            ..self.clone()
        }
    }

    /// Runs `command` on the action and waits until the read models show it.
    pub async fn run(
        &self,
        context: &CommandContext,
        action_id: ActionId,
        command: &ActionCommand,
    ) -> Result<Executed<Action>, ExecuteError<ActionRejection>> {
        let stream = StreamId::new(Action::CATEGORY, action_id);
        let executed =
            execute::<Action, _>(&self.platform.store, context, &stream, command).await?;
        if let Some(checkpoint) = executed.checkpoint
            && self.read_your_writes
        {
            self.actions.wait_for(checkpoint, READ_YOUR_WRITES).await;
        }
        Ok(executed)
    }

    /// Closes the action as carried forward and opens its successor: same work, same people,
    /// a new due date, linked both ways. The successor belongs to `origin` (the meeting that
    /// carried it forward, so the next meeting reviews it). Both steps have ids derived from
    /// the command's, so a retry finishes whatever the first attempt left undone.
    pub async fn carry_forward(
        &self,
        context: &CommandContext,
        action_id: ActionId,
        due: chrono::NaiveDate,
        note: Option<Text>,
        origin: Option<Origin>,
    ) -> Result<(Executed<Action>, ActionId), ServiceError> {
        let current = self
            .load(context.trust, action_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(&ActionRejection::NotFound))?;
        let next_action_id = carried_forward_id(action_id);
        let command = ActionCommand::CarryForward {
            next_action_id,
            due,
            note,
        };
        let executed = self.run(context, action_id, &command).await?;
        let create = CommandContext {
            command_id: CommandId::from_uuid(Uuid::new_v5(
                context.command_id.as_uuid(),
                b"successor",
            )),
            ..context.clone()
        };
        let successor = NewAction {
            action_id: next_action_id,
            origin: origin.unwrap_or(current.origin),
            due,
            carried_forward_from: Some(action_id),
            ..current
        };
        match self
            .run(&create, next_action_id, &ActionCommand::Create(successor))
            .await
        {
            Ok(_) | Err(ExecuteError::Rejected(ActionRejection::AlreadyExists)) => {}
            Err(error) => return Err(error.into()),
        }
        Ok((executed, next_action_id))
    }

    /// An action as the read model has it, in the shape of the command that created it.
    async fn load(
        &self,
        trust: TrustId,
        action_id: ActionId,
    ) -> Result<Option<NewAction>, ServiceError> {
        let row = sqlx::query!(
            "SELECT school_id, origin_kind, origin_id, description, owner_id, supporter_ids, due_date, \
             success_criteria FROM action_tracking.actions WHERE trust_id = $1 AND action_id = $2",
            trust.into_uuid(),
            action_id
        )
        .fetch_optional(&self.platform.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt =
            |what: &str| ServiceError::internal(format!("stored action has a bad {what}"));
        Ok(Some(NewAction {
            action_id,
            school_id: SchoolId::from_uuid(row.school_id),
            origin: Origin {
                kind: OriginKind::parse(&row.origin_kind).ok_or_else(|| corrupt("origin"))?,
                id: row.origin_id,
            },
            description: Text::parse(&row.description).map_err(|_| corrupt("description"))?,
            owner: StaffId::from_uuid(row.owner_id),
            supporters: row
                .supporter_ids
                .into_iter()
                .map(StaffId::from_uuid)
                .collect(),
            due: row.due_date,
            success_criteria: row
                .success_criteria
                .as_deref()
                .map(Text::parse)
                .transpose()
                .map_err(|_| corrupt("success criteria"))?,
            carried_forward_from: None,
        }))
    }
}
