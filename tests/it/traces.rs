//! Traces (`traces.otlp_endpoint`) reach an OpenTelemetry collector over OTLP/gRPC: a call
//! from review dialogue to action tracking is one trace across both services, both spans
//! carry the command's correlation id, and so does the span in which action tracking's read
//! model applies the event the command recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use waymark_testkit::services::TestPlatform;

use crate::support::an_action_tied_to_a_priority;

/// What the collector was sent: each span with the `service.name` it came under.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, Span)>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| text(attribute.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .filter_map(|attribute| {
            let value = text(attribute.value.as_ref()?.value.as_ref()?)?;
            Some((attribute.key.clone(), value))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_across_services_is_one_trace_with_its_correlation_id() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    // Action tracking's port is bound first: review dialogue calls it at its URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let actions = listener.local_addr().unwrap();
    let actions_url = format!("http://{actions}");
    let mut platform = TestPlatform::start_configured(
        None,
        Arc::new(waymark_testkit::time::clock()),
        &[
            ("traces.otlp_endpoint", &endpoint),
            ("traces.service_name", "waymark-test"),
            ("action_tracking.url", &actions_url),
        ],
    )
    .await;
    // Tying an action to a priority has review dialogue ask action tracking about it.
    an_action_tied_to_a_priority(&mut platform, listener).await;
    waymark_testkit::eventually(
        std::time::Duration::from_secs(20),
        "the read model to apply the new action",
        || async {
            tokio::task::spawn_blocking(waymark_runtime::telemetry::flush_traces)
                .await
                .unwrap();
            collector
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|(_, span)| span.name == "apply")
        },
    )
    .await;

    let spans = collector.0.lock().unwrap().clone();
    assert!(
        spans.iter().all(|(service, _)| service == "waymark-test"),
        "exported under another service name"
    );
    let request = |method: &str| {
        spans
            .iter()
            .map(|(_, span)| span)
            .find(|span| {
                span.name == "request"
                    && attributes(span)
                        .get("path")
                        .is_some_and(|path| path.ends_with(method))
            })
            .unwrap_or_else(|| panic!("no span for {method}"))
    };
    let link = request("Priorities/LinkRecord");
    let read = request("ActionTracking/GetAction");
    assert_eq!(
        read.trace_id, link.trace_id,
        "the callee joins the caller's trace"
    );
    assert!(!read.parent_span_id.is_empty());
    let correlation = attributes(link)["correlation_id"].clone();
    assert_eq!(attributes(read)["correlation_id"], correlation);

    let created = attributes(request("ActionTracking/CreateAction"))["correlation_id"].clone();
    assert!(
        spans.iter().any(|(_, span)| span.name == "apply"
            && attributes(span).get("correlation_id") == Some(&created)
            && attributes(span)["event_type"].contains("Created")),
        "no span of the read model applying the new action under its correlation id"
    );
    platform.stop().await;
}
