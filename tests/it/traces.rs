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
use uuid::Uuid;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::priorities_client::PrioritiesClient;
use waymark_testkit::services::{TestPlatform, colleague, new_caller};

use crate::support::new_action;

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
    // Review dialogue asks action tracking whether the caller may read the action.
    priorities
        .link_record(rd::LinkRecordRequest {
            command_id: Uuid::new_v4().to_string(),
            priority_id: priority,
            kind: "action".into(),
            record_id: action,
            item: 0,
        })
        .await
        .unwrap();
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
