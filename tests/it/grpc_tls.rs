//! The services' ports over TLS (`grpc.cert_file`, `grpc.key_file`, `grpc.ca_file`): review
//! dialogue asks action tracking about an action over TLS; a client speaking plain text, or
//! one that does not trust the authority, gets no answer; probes answer over https.

use std::sync::Arc;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_runtime::config::GrpcConfig;
use waymark_testkit::services::TestPlatform;

use crate::support::{an_action_tied_to_a_priority, certificates};

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
    // The test's own calls go over TLS too (`TestPlatform::client`); tying the action to a
    // priority has review dialogue ask action tracking about it, over TLS.
    let (priority, action, mut priorities) =
        an_action_tied_to_a_priority(&mut platform, listener).await;
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
