//! What every request handler shares.

use std::sync::Arc;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_bus::FeedHandle;
use waymark_domain::ids::CorrelationId;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::evidence::v1::evidence_client::EvidenceClient;
use waymark_proto::notifications::v1::notifications_client::NotificationsClient;
use waymark_proto::personal_data::v1::personal_data_client::PersonalDataClient;
use waymark_proto::review_dialogue::v1::priorities_client::PrioritiesClient;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_proto::review_dialogue::v1::self_evaluation_client::SelfEvaluationClient;
use waymark_proto::scheduling::v1::scheduling_client::SchedulingClient;
use waymark_runtime::Platform;
use waymark_runtime::auth::{CallAs, Caller};
use waymark_runtime::evidence::EvidenceSettings;

use crate::session::Viewer;
use crate::settings::Settings;

pub type Signed = InterceptedService<Channel, CallAs>;

#[derive(Clone)]
pub struct Channels {
    pub scheduling: Channel,
    pub review_dialogue: Channel,
    pub action_tracking: Channel,
    pub notifications: Channel,
    /// Files attached as evidence: their size limit, and the largest message that carries one.
    pub evidence: Arc<EvidenceSettings>,
}

impl Channels {
    pub fn new(platform: &Platform) -> anyhow::Result<Self> {
        let channel = |url: &str| -> anyhow::Result<Channel> {
            Ok(waymark_runtime::grpc::endpoint(url, &platform.config.grpc)?
                .timeout(Duration::from_secs(30))
                .connect_lazy())
        };
        let config = &platform.config;
        Ok(Self {
            scheduling: channel(&config.scheduling.url)?,
            review_dialogue: channel(&config.review_dialogue.url)?,
            action_tracking: channel(&config.action_tracking.url)?,
            notifications: channel(&config.notifications.url)?,
            evidence: Arc::new(EvidenceSettings::from_config(config)?),
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub platform: Arc<Platform>,
    pub settings: Arc<Settings>,
    pub channels: Channels,
    /// The directory projection, for read-your-writes after admin changes.
    pub directory: FeedHandle,
    /// Who may do what (`policy/`): the gateway owns the directory, so it asks these before
    /// every change to people and roles.
    pub policies: Arc<waymark_policy::Policies>,
}

/// gRPC clients signed as one caller: the person looking, or the gateway acting for a trust.
pub struct Clients {
    signer: CallAs,
    channels: Channels,
}

impl Clients {
    /// Clients signed as `caller`, one correlation id for everything they do.
    pub fn acting_as(platform: &Platform, channels: &Channels, caller: Caller) -> Self {
        let signer = platform
            .call_as(caller)
            .correlated(CorrelationId::from_uuid(Uuid::now_v7()));
        Self {
            signer,
            channels: channels.clone(),
        }
    }

    pub fn scheduling(&self) -> SchedulingClient<Signed> {
        SchedulingClient::new(InterceptedService::new(
            self.channels.scheduling.clone(),
            self.signer.clone(),
        ))
    }

    pub fn reviews(&self) -> ReviewDialogueClient<Signed> {
        ReviewDialogueClient::new(InterceptedService::new(
            self.channels.review_dialogue.clone(),
            self.signer.clone(),
        ))
    }

    pub fn priorities(&self) -> PrioritiesClient<Signed> {
        PrioritiesClient::new(InterceptedService::new(
            self.channels.review_dialogue.clone(),
            self.signer.clone(),
        ))
    }

    pub fn audits(&self) -> SelfEvaluationClient<Signed> {
        SelfEvaluationClient::new(InterceptedService::new(
            self.channels.review_dialogue.clone(),
            self.signer.clone(),
        ))
    }

    pub fn actions(&self) -> ActionTrackingClient<Signed> {
        ActionTrackingClient::new(InterceptedService::new(
            self.channels.action_tracking.clone(),
            self.signer.clone(),
        ))
    }

    /// The evidence API of the service that owns records of `kind`.
    pub fn evidence(&self, kind: crate::pages::FileKind) -> EvidenceClient<Signed> {
        let channel = match kind {
            crate::pages::FileKind::Review
            | crate::pages::FileKind::Visit
            | crate::pages::FileKind::Meeting
            | crate::pages::FileKind::Audit => &self.channels.review_dialogue,
            crate::pages::FileKind::Action => &self.channels.action_tracking,
            crate::pages::FileKind::Occurrence => &self.channels.scheduling,
        };
        let limit = self.channels.evidence.message_limit();
        EvidenceClient::new(InterceptedService::new(
            channel.clone(),
            self.signer.clone(),
        ))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
    }

    /// Each service's subject-access export, one client per service.
    pub fn personal_data(&self) -> Vec<PersonalDataClient<Signed>> {
        [
            &self.channels.review_dialogue,
            &self.channels.action_tracking,
            &self.channels.scheduling,
            &self.channels.notifications,
        ]
        .into_iter()
        .map(|channel| {
            PersonalDataClient::new(InterceptedService::new(
                channel.clone(),
                self.signer.clone(),
            ))
        })
        .collect()
    }

    pub fn notifications(&self) -> NotificationsClient<Signed> {
        NotificationsClient::new(InterceptedService::new(
            self.channels.notifications.clone(),
            self.signer.clone(),
        ))
    }
}

impl AppState {
    /// The trust's directory as it is now (after the viewer's own changes).
    pub async fn directory_of(
        &self,
        trust: waymark_domain::TrustId,
    ) -> Result<waymark_domain::directory::DirectoryState, sqlx::Error> {
        crate::directory::load(&self.platform.pool, trust).await
    }

    /// Clients acting as the viewer, one correlation id for everything this request does.
    pub fn clients(&self, viewer: &Viewer) -> Clients {
        self.clients_for(viewer.caller())
    }

    pub fn clients_for(&self, caller: Caller) -> Clients {
        Clients::acting_as(&self.platform, &self.channels, caller)
    }
}
