use std::net::SocketAddr;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_proto::action_tracking::v1 as pb;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_runtime::auth::{CallAs, Caller};
use waymark_testkit::services::TestPlatform;

pub type Client = ActionTrackingClient<InterceptedService<Channel, CallAs>>;

pub fn client(platform: &TestPlatform, address: SocketAddr, caller: Caller) -> Client {
    ActionTrackingClient::new(platform.client(address, caller))
}

pub fn command() -> String {
    Uuid::new_v4().to_string()
}

pub fn create(school: Uuid, owner: &str, due: &str, description: &str) -> pb::CreateActionRequest {
    pb::CreateActionRequest {
        command_id: command(),
        school_id: school.to_string(),
        description: description.into(),
        owner_id: owner.into(),
        supporter_ids: vec![],
        due_date: due.into(),
        success_criteria: "Pupils start tasks without waiting".into(),
        occurrence_id: String::new(),
    }
}

pub fn text(action_id: &str, text: &str) -> pb::TextRequest {
    pb::TextRequest {
        command_id: command(),
        action_id: action_id.into(),
        text: text.into(),
    }
}

pub async fn get(client: &mut Client, action_id: &str) -> pb::Action {
    client
        .get_action(pb::GetActionRequest {
            action_id: action_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .action
        .unwrap()
}

pub fn code(status: &tonic::Status) -> &str {
    status
        .metadata()
        .get("x-waymark-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// `head` leads `school` and line manages each of `teachers`, who teach there; the
/// service's directory copy knows them before this returns.
pub async fn school(
    platform: &TestPlatform,
    head: waymark_runtime::auth::Caller,
    school: Uuid,
    teachers: &[waymark_domain::StaffId],
) {
    waymark_testkit::directory::school(
        platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        head,
        school,
        teachers,
    )
    .await;
}
