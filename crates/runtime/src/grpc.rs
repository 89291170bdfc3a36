//! One port per service: gRPC (with health, and reflection when `grpc.reflection` is on),
//! `/healthz`, `/readyz` and `/metrics` over HTTP/1, all on one listener; over TLS when
//! `grpc.cert_file` is set ([`crate::tls`]). And the channels services call each other on.

use axum::extract::State;
use axum::routing::get;
use sqlx::PgPool;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Endpoint;

use crate::config::{ConfigError, GrpcConfig};
use crate::{Platform, telemetry, tls};

/// Serves `routes` (the service's gRPC services) until shutdown. `descriptors` is the encoded
/// file descriptor set of those services, for reflection.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    descriptors: &'static [u8],
    platform: &Platform,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let config = &platform.config.grpc;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let mut routes = routes.add_service(health_service);
    if config.reflection {
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(descriptors)
            .build_v1()
            .map_err(std::io::Error::other)?;
        routes = routes.add_service(reflection);
    }
    let router = routes
        .into_axum_router()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready).with_state(platform.pool.clone()))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn(observe));
    let stopped = shutdown.cancelled_owned();
    match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            let listener = tls::TlsListener::new(listener, tls::server_config(cert, key)?)?;
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
        }
        _ => {
            axum::serve(no_delay(listener), router)
                .with_graceful_shutdown(stopped)
                .await
        }
    }
}

/// How a service or the gateway reaches another service at `url`: over TLS, trusting
/// `grpc.ca_file`, when the URL is `https://`. Connects when first used, and again after
/// a failure; a connection attempt gives up after 5 seconds.
pub fn endpoint(url: &str, config: &GrpcConfig) -> Result<Endpoint, ConfigError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|error| ConfigError(format!("service url {url}: {error}")))?
        .connect_timeout(Duration::from_secs(5));
    match &config.ca_file {
        Some(ca_file) if url.starts_with("https://") => {
            let tls =
                tls::client_config(ca_file).map_err(|error| ConfigError(error.to_string()))?;
            endpoint
                .tls_config(tls)
                .map_err(|error| ConfigError(format!("service url {url}: {error}")))
        }
        _ => Ok(endpoint),
    }
}

/// `listener` with Nagle's algorithm switched off on every accepted connection. Without it a
/// small reply waits for the client's delayed acknowledgement: about 40 ms a call on Linux
/// (`services/review-dialogue/benches/unary.rs` measures one call). `axum::serve` leaves
/// the socket as accepted.
pub fn no_delay(listener: TcpListener) -> axum::serve::TapIo<TcpListener, fn(&mut TcpStream)> {
    use axum::serve::ListenerExt;
    listener.tap_io(set_no_delay)
}

fn set_no_delay(stream: &mut TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::warn!(%error, "could not set TCP_NODELAY on a connection");
    }
}

/// Every request gets a span (so handler logs carry its path) and counts in the metrics,
/// labelled by the route it matched (a gRPC service, `/healthz`…), never by the raw path, so
/// that made-up paths cannot grow the metrics without bound.
async fn observe(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path().to_owned();
    // What the caller's token must be addressed to (`auth::Authenticate`).
    request.extensions_mut().insert(crate::auth::Audience(
        path.trim_start_matches('/').to_owned(),
    ));
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let started = std::time::Instant::now();
    // The correlation id is recorded once the caller's token is read (`auth::Authenticate`).
    let span = tracing::info_span!(
        "request",
        %path,
        otel.kind = "server",
        correlation_id = tracing::field::Empty,
    );
    telemetry::continue_trace(&span, request.headers());
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    metrics::counter!("waymark_requests_total", "route" => route.clone()).increment(1);
    metrics::histogram!("waymark_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Ready while the database answers. A feed stuck on an event it cannot handle is named in
/// the answer (its reads are stale from that event on) but does not make the service
/// unready: commands and every other read still work, and taking every replica out of
/// service would not unstick it. The `waymark_feed_stuck` gauge is what alerts.
pub async fn readiness(pool: &PgPool) -> (http::StatusCode, String) {
    let stuck: Result<Vec<(String, Option<i64>, String)>, sqlx::Error> =
        sqlx::query_as("SELECT name, position, error FROM bus.stuck_feeds ORDER BY name")
            .fetch_all(pool)
            .await;
    match stuck {
        Ok(stuck) if stuck.is_empty() => (http::StatusCode::OK, "ready".to_owned()),
        Ok(stuck) => {
            let mut answer = "ready; stuck feeds:".to_owned();
            for (name, position, error) in stuck {
                let at = position
                    .map(|p| format!(" at position {p}"))
                    .unwrap_or_default();
                answer.push_str(&format!("\n{name}{at}: {error}"));
            }
            (http::StatusCode::OK, answer)
        }
        Err(_) => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable".to_owned(),
        ),
    }
}

async fn ready(State(pool): State<PgPool>) -> (http::StatusCode, String) {
    readiness(&pool).await
}

async fn metrics() -> (http::StatusCode, String) {
    match telemetry::metrics() {
        Some(handle) => (http::StatusCode::OK, handle.render()),
        None => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed".to_owned(),
        ),
    }
}
