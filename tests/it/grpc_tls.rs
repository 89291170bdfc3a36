//! The services' ports over TLS (`grpc.cert_file`, `grpc.key_file`, `grpc.ca_file`): review
//! dialogue asks action tracking about an action over TLS; a client speaking plain text, or
//! one that does not trust the authority, gets no answer; probes answer over https.

use std::sync::Arc;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use uuid::Uuid;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::priorities_client::PrioritiesClient;
use waymark_runtime::config::GrpcConfig;
use waymark_testkit::services::{TestPlatform, colleague, new_caller};

use crate::support::{certificates, new_action};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_call_each_other_over_tls_and_refuse_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let (ca, cert, key) = (path(&ca), path(&cert), path(&key));
    // Action tracking's port is bound first: review dialogue calls it at its https URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let actions = listener.local_addr().unwrap();
    let actions_url = format!("https://{actions}");
    let mut platform = TestPlatform::start_configured(
        None,
        Arc::new(waymark_testkit::time::clock()),
        &[
            ("grpc.cert_file", &cert),
            ("grpc.key_file", &key),
            ("grpc.ca_file", &ca),
            ("grpc.reflection", "true"),
            ("action_tracking.url", &actions_url),
            // Not called here; https all the same, as the configuration requires.
            ("scheduling.url", "https://127.0.0.1:9"),
            ("review_dialogue.url", "https://127.0.0.1:9"),
            ("notifications.url", "https://127.0.0.1:9"),
        ],
    )
    .await;
    platform.serve_on(listener, waymark_action_tracking::run);
    let reviews = platform.serve(waymark_review_dialogue::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    waymark_testkit::directory::school(
        &platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        leader,
        school,
        &[teacher],
    )
    .await;
    waymark_testkit::directory::caught_up(
        &platform,
        waymark_review_dialogue::DIRECTORY_TABLE,
        leader,
    )
    .await;

    // The test's own calls go over TLS too (`TestPlatform::client`).
    let action = ActionTrackingClient::new(platform.client(actions, leader))
        .create_action(new_action(school, teacher, "Share the marking policy"))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let mut priorities = PrioritiesClient::new(platform.client(reviews, leader));
    let priority = priorities
        .add_priority(rd::AddPriorityRequest {
            command_id: Uuid::new_v4().to_string(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            details: Some(rd::PriorityDetails {
                title: "Reading for pleasure".into(),
                intended_impact: "More pupils choose to read".into(),
                lead_id: leader.actor.to_string(),
                quality_indicators: vec![],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    // Tying an action to a priority asks action tracking whether the caller may read it.
    priorities
        .link_record(rd::LinkRecordRequest {
            command_id: Uuid::new_v4().to_string(),
            priority_id: priority.clone(),
            kind: "action".into(),
            record_id: action.clone(),
            item: 0,
        })
        .await
        .expect("review dialogue reaches action tracking over TLS");
    let linked = priorities
        .get_priority(rd::GetRecordRequest { id: priority })
        .await
        .unwrap()
        .into_inner()
        .linked;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].record_id, action);

    // Trusting the authority: health answers (what a probe or Prometheus reaches), while
    // another client sits in its handshake saying nothing.
    let _stalled = tokio::net::TcpStream::connect(actions).await.unwrap();
    let trusted = GrpcConfig {
        ca_file: Some(ca.into()),
        ..GrpcConfig::default()
    };
    assert_eq!(
        health(&actions_url, &trusted).await.unwrap(),
        ServingStatus::Serving
    );
    // Plain text to the TLS port: nothing.
    let plain = health(&format!("http://{actions}"), &GrpcConfig::default()).await;
    assert!(plain.is_err(), "a plain-text call was answered: {plain:?}");
    // TLS trusting another authority: the server's certificate is refused.
    let elsewhere = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = certificates(elsewhere.path());
    let untrusting = GrpcConfig {
        ca_file: Some(other_ca),
        ..GrpcConfig::default()
    };
    let refused = health(&actions_url, &untrusting).await;
    assert!(refused.is_err(), "answered a client of another authority");

    // Reflection, switched on here, answers (off by default: tests/it/health.rs).
    assert!(
        reflection_lists(&actions_url, &trusted)
            .await
            .expect("reflection is on")
            .iter()
            .any(|service| service.ends_with("ActionTracking"))
    );
    platform.stop().await;
}

async fn health(url: &str, config: &GrpcConfig) -> Result<ServingStatus, tonic::Status> {
    let channel = waymark_runtime::grpc::endpoint(url, config)
        .unwrap()
        .connect_lazy();
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(reply.into_inner().status())
}

/// The services reflection lists at `url`.
pub async fn reflection_lists(
    url: &str,
    config: &GrpcConfig,
) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let channel = waymark_runtime::grpc::endpoint(url, config)
        .unwrap()
        .connect_lazy();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(futures::stream::iter([request]))
        .await?
        .into_inner();
    let mut names = Vec::new();
    while let Some(reply) = replies.message().await? {
        if let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response {
            names.extend(list.service.into_iter().map(|s| s.name));
        }
    }
    Ok(names)
}
