//! Every service answers health, readiness and metrics on its one port.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use waymark_domain::{CorrelationId, EventId, EventMetadata, StreamId};
use waymark_event_store::{EventStore, ExpectedVersion, NewEvent};
use waymark_testkit::services::{TestPlatform, new_caller};
use waymark_testkit::{NatsServer, eventually};

/// A plain HTTP/1.1 GET; returns the status line and the body.
async fn get(address: SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn every_service_reports_health_readiness_and_metrics() {
    let mut platform = TestPlatform::start(None).await;
    let grpc_services = [
        platform.serve(waymark_scheduling::run).await,
        platform.serve(waymark_review_dialogue::run).await,
        platform.serve(waymark_action_tracking::run).await,
        platform.serve(waymark_notifications::run).await,
    ];
    let gateway = platform.serve(waymark_gateway::run).await;
    for address in grpc_services {
        let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let health = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(health.status(), ServingStatus::Serving);
        // Reflection is off unless `grpc.reflection` is on (tests/it/grpc_tls.rs).
        let reflection = crate::grpc_tls::reflection_lists(
            &format!("http://{address}"),
            &waymark_runtime::config::GrpcConfig::default(),
        )
        .await;
        assert_eq!(
            reflection.map_err(|status| status.code()),
            Err(tonic::Code::Unimplemented)
        );
        assert!(get(address, "/healthz").await.0.contains("200"));
        assert!(get(address, "/readyz").await.0.contains("200"));
        // Made-up paths are counted, but under one label: they cannot grow the metrics.
        for n in 0..3 {
            get(address, &format!("/made-up-{n}")).await;
        }
        let (status, metrics) = get(address, "/metrics").await;
        assert!(status.contains("200"), "{status}");
        assert!(
            metrics.contains(r#"waymark_requests_total{route="/healthz"}"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"waymark_requests_total{route="unmatched"}"#),
            "{metrics}"
        );
        assert!(!metrics.contains("made-up"), "{metrics}");
    }
    assert!(get(gateway, "/healthz").await.0.contains("200"));
    assert!(get(gateway, "/readyz").await.0.contains("200"));
    platform.stop().await;
}

/// An event a reader cannot handle stops that reader, not the service: the service stays
/// ready, and `/readyz` and `/metrics` name the stuck projection and the stuck JetStream
/// consumer, where and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_projection_and_consumer_show_in_readiness_and_metrics() {
    let nats = NatsServer::start().await;
    let mut platform = TestPlatform::start(Some(nats.url())).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let caller = new_caller();
    let metadata = EventMetadata {
        actor: caller.actor,
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(uuid::Uuid::new_v4()),
        command_id: None,
    };
    // Events whose payload breaks their contract: one for action tracking's own projection,
    // one for its consumer of other services' agreements (over JetStream).
    for (category, event_type) in [("action", "ActionCreated"), ("review", "ActionsAgreed")] {
        let event = NewEvent {
            event_id: EventId::from_uuid(uuid::Uuid::new_v4()),
            event_type: event_type.to_owned(),
            schema_version: 1,
            payload: serde_json::json!({ "not": "what it should be" }),
        };
        platform
            .platform
            .store
            .append(
                caller.trust,
                &StreamId::new(category, uuid::Uuid::new_v4()),
                ExpectedVersion::NoStream,
                &metadata,
                &[event],
            )
            .await
            .unwrap();
    }
    eventually(
        std::time::Duration::from_secs(30),
        "both readers reported stuck",
        || async {
            let (_, body) = get(address, "/readyz").await;
            body.contains("action-tracking.actions.v1 at position")
                && body.contains("action-tracking.agreements")
        },
    )
    .await;
    let (status, body) = get(address, "/readyz").await;
    assert!(status.contains("200"), "still ready: {status}");
    assert!(body.starts_with("ready; stuck feeds:"), "{body}");
    assert!(
        body.contains("ActionsAgreed does not match its contract"),
        "{body}"
    );
    let (_, metrics) = get(address, "/metrics").await;
    for feed in ["action-tracking.actions.v1", "action-tracking.agreements"] {
        assert!(
            metrics.contains(&format!(r#"waymark_feed_stuck{{feed="{feed}"}} 1"#)),
            "{metrics}"
        );
    }
    platform.stop().await;
}
