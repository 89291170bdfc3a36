//! Logging, traces and metrics, set up once per process.
//!
//! Traces: with `traces.otlp_endpoint` set, every span (a gRPC request, an event a reader
//! applies) is exported over OTLP/gRPC, batched, from a thread of its own. A call from one
//! service to another carries its span's W3C `traceparent`, so the callee's spans join the
//! caller's trace; spans of both, and of the readers that apply the events a command
//! recorded, carry its `correlation_id`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat, TracesConfig};

static TRACES: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the tracing subscriber: logs, and traces when `traces.otlp_endpoint` is set.
/// `RUST_LOG`, when set, wins over the configured filter. A second call (tests starting
/// several services) is a no-op. Call it inside the Tokio runtime (the exporter's client
/// needs one).
pub fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_target(false);
    let logs = match config.log.format {
        LogFormat::Json => logs.json().boxed(),
        LogFormat::Text => logs.boxed(),
    };
    let (traces, refused) = match exporter(&config.traces) {
        Ok(provider) => (provider, None),
        Err(error) => (None, Some(error)),
    };
    let layer = traces
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("waymark")));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(layer)
        .try_init()
        .is_ok();
    if installed && let Some(provider) = traces {
        let _ = TRACES.set(provider);
    }
    if let Some(error) = refused {
        tracing::error!(%error, "traces are not exported");
    }
}

fn exporter(config: &TracesConfig) -> Result<Option<SdkTracerProvider>, String> {
    let Some(endpoint) = &config.otlp_endpoint else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|error| format!("traces.otlp_endpoint {endpoint}: {error}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// Sends the spans not yet exported and stops exporting. Blocks (run it off the runtime's
/// workers); a no-op without traces.
pub fn shutdown_traces() {
    if let Some(provider) = TRACES.get()
        && let Err(error) = provider.shutdown()
    {
        tracing::warn!(%error, "traces not all exported");
    }
}

/// Sends the spans not yet exported. Blocks, as [`shutdown_traces`].
pub fn flush_traces() {
    if let Some(provider) = TRACES.get()
        && let Err(error) = provider.force_flush()
    {
        tracing::warn!(%error, "traces not all exported");
    }
}

/// Puts the current span's trace context on an outgoing call's metadata.
pub fn inject_trace(metadata: &mut tonic::metadata::MetadataMap) {
    struct Metadata<'a>(&'a mut tonic::metadata::MetadataMap);
    impl Injector for Metadata<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                tonic::metadata::MetadataValue::try_from(value),
            ) {
                self.0.insert(key, value);
            }
        }
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut Metadata(metadata));
}

/// Makes `span` a child of the trace an incoming request's headers name, if any.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    struct Headers<'a>(&'a http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    if opentelemetry::trace::TraceContextExt::has_active_span(&context) {
        let _ = span.set_parent(context);
    }
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use ([`crate::Platform::connect`]
/// makes that first). `None` if another recorder was installed first (then `/metrics` says
/// so).
pub fn metrics() -> Option<PrometheusHandle> {
    METRICS
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}
