//! Every service answers health, readiness and metrics on its one port.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use waymark_testkit::services::TestPlatform;

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
