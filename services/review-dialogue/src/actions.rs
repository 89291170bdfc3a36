//! Asking action tracking, over gRPC and as the caller, for the open actions a record agreed.

use std::sync::Arc;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_domain::Text;
use waymark_domain::review_dialogue::meeting::PreviousAction;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{Platform, ServiceError};

#[derive(Clone)]
pub struct Actions {
    platform: Arc<Platform>,
    channel: Channel,
}

impl Actions {
    pub fn new(platform: Arc<Platform>) -> Result<Self, ServiceError> {
        let config = &platform.config;
        let channel = waymark_runtime::grpc::endpoint(&config.action_tracking.url, &config.grpc)
            .map_err(|error| ServiceError::internal(error.to_string()))?
            .connect_lazy();
        Ok(Self { platform, channel })
    }

    /// The school of action `id` if the caller may read it (action tracking decides);
    /// `None` if they may not, or there is no such action.
    pub async fn readable_school(
        &self,
        context: &RequestContext,
        id: Uuid,
    ) -> Result<Option<Uuid>, ServiceError> {
        let interceptor = self
            .platform
            .call_as(context.caller)
            .correlated(context.correlation_id);
        let mut client =
            ActionTrackingClient::new(InterceptedService::new(self.channel.clone(), interceptor));
        match client
            .get_action(at::GetActionRequest {
                action_id: id.to_string(),
            })
            .await
        {
            Ok(reply) => Ok(reply
                .into_inner()
                .action
                .and_then(|action| Uuid::parse_str(&action.school_id).ok())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => {
                tracing::warn!(%status, "action tracking could not read an action");
                Err(ServiceError::unavailable(
                    "action tracking is unavailable; try again",
                ))
            }
        }
    }

    /// The actions agreed by `origin` that are still open or in progress.
    pub async fn open_actions_of(
        &self,
        context: &RequestContext,
        origin: Uuid,
    ) -> Result<Vec<PreviousAction>, ServiceError> {
        let interceptor = self
            .platform
            .call_as(context.caller)
            .correlated(context.correlation_id);
        let mut client =
            ActionTrackingClient::new(InterceptedService::new(self.channel.clone(), interceptor));
        let reply = client
            .list_actions(at::ListActionsRequest {
                origin_id: origin.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| {
                tracing::warn!(%status, "action tracking could not list actions");
                ServiceError::unavailable("action tracking is unavailable; try again")
            })?;
        reply
            .into_inner()
            .actions
            .into_iter()
            .map(|action| {
                Ok(PreviousAction {
                    action_id: Uuid::parse_str(&action.action_id)
                        .map_err(|_| ServiceError::internal("action tracking returned a bad id"))?,
                    description: Text::parse(&action.description).map_err(|_| {
                        ServiceError::internal("action tracking returned an empty action")
                    })?,
                })
            })
            .collect()
    }
}
