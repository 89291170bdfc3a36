//! Running a command through a decider and the event store, then waiting until the read
//! models show it (read your writes). Shared by the gRPC services.

use std::sync::Arc;

use uuid::Uuid;
use waymark_bus::FeedHandle;
use waymark_domain::{CommandId, Decider, Rejection, StreamId};
use waymark_event_store::{ExecuteError, Executed, execute};
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{Platform, ServiceError, parse};

use crate::READ_YOUR_WRITES;

#[derive(Clone)]
pub struct Runner {
    pub platform: Arc<Platform>,
    pub records: FeedHandle,
    /// Who may do what: the policies and this service's copy of the directory.
    pub access: waymark_runtime::access::Access,
}

impl Runner {
    pub async fn execute<D: Decider>(
        &self,
        context: &RequestContext,
        command_id: &str,
        id: Uuid,
        command: D::Command,
    ) -> Result<Executed<D>, ServiceError>
    where
        D::Rejection: Rejection,
    {
        let command_id: CommandId = parse::id("command_id", command_id)?;
        let stream = StreamId::new(D::CATEGORY, id);
        let executed = execute::<D, _>(
            &self.platform.store,
            &context.command(command_id),
            &stream,
            &command,
        )
        .await
        .map_err(|error: ExecuteError<D::Rejection>| ServiceError::from(error))?;
        if let Some(checkpoint) = executed.checkpoint {
            self.records.wait_for(checkpoint, READ_YOUR_WRITES).await;
        }
        Ok(executed)
    }
}
