//! Caller tokens: how a service knows, for every request, which trust it is for and who is
//! acting. The gateway (or a service acting on its own) signs a short-lived token with the
//! shared internal key; every gRPC service verifies it before anything else runs. The trust
//! therefore never comes from a request body, so a caller cannot ask about another trust.
//!
//! Format: `v1.<base64url(json {trust, actor, exp})>.<base64url(HMAC-SHA256)>`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use waymark_domain::TrustId;
use waymark_domain::ids::{ActorId, CorrelationId};

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::secret::Secret;

/// Metadata key of the correlation id that ties one user action across services.
pub const CORRELATION_HEADER: &str = "x-waymark-correlation";

/// Who is calling, for which trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub trust: TrustId,
    pub actor: ActorId,
}

/// What a verified request carries into a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    pub caller: Caller,
    pub correlation_id: CorrelationId,
}

impl RequestContext {
    /// The context a command runs in: this caller, this correlation, the client's command id.
    pub fn command(
        &self,
        command_id: waymark_domain::CommandId,
    ) -> waymark_event_store::CommandContext {
        waymark_event_store::CommandContext {
            trust: self.caller.trust,
            actor: self.caller.actor,
            command_id,
            correlation_id: self.correlation_id,
            causation_id: None,
        }
    }

    /// The verified context of a request; the interceptor guarantees it is there.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Self, ServiceError> {
        request
            .extensions()
            .get::<RequestContext>()
            .copied()
            .ok_or_else(|| ServiceError::unauthenticated("no caller token"))
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    trust: TrustId,
    actor: ActorId,
    /// The one gRPC method the token is for (`package.Service/Method`): a token seen on its
    /// way to one method cannot be used for another, or at another service.
    aud: String,
    exp: i64,
}

/// The gRPC method a request is for, `package.Service/Method`: what its caller token must be
/// addressed to. `grpc::serve` puts it on each incoming request, from the request's path.
#[derive(Debug, Clone)]
pub struct Audience(pub String);

/// The shared signing key.
#[derive(Clone)]
pub struct Keys {
    key: Arc<Secret<Vec<u8>>>,
    ttl_seconds: i64,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the caller token is malformed")]
    Malformed,
    #[error("the caller token's signature is wrong")]
    BadSignature,
    #[error("the caller token has expired")]
    Expired,
    #[error("the caller token is for another method")]
    WrongAudience,
}

impl Keys {
    pub fn new(key: &Secret<String>, ttl_seconds: u64) -> Self {
        Self {
            key: Arc::new(Secret::new(key.expose().as_bytes().to_vec())),
            ttl_seconds: i64::try_from(ttl_seconds).unwrap_or(60),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        Hmac::<Sha256>::new_from_slice(self.key.expose()).unwrap_or_else(|_| unreachable!())
    }

    /// A token for `caller` to call the method `audience`, valid from `now` for the
    /// configured time.
    pub fn sign(
        &self,
        caller: Caller,
        audience: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let claims = Claims {
            trust: caller.trust,
            actor: caller.actor,
            aud: audience.to_owned(),
            exp: now.timestamp() + self.ttl_seconds,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("v1.{payload}.{signature}")
    }

    /// The caller of a token signed with our key, for the method `audience`, not expired.
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Caller, TokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp < now.timestamp() {
            return Err(TokenError::Expired);
        }
        if claims.aud != audience {
            return Err(TokenError::WrongAudience);
        }
        Ok(Caller {
            trust: claims.trust,
            actor: claims.actor,
        })
    }
}

/// Server side: refuses requests without a valid token and hands the verified context on.
#[derive(Clone)]
pub struct Authenticate {
    keys: Keys,
    clock: Arc<dyn Clock>,
}

impl Authenticate {
    pub fn new(keys: Keys, clock: Arc<dyn Clock>) -> Self {
        Self { keys, clock }
    }
}

impl Interceptor for Authenticate {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                tonic::Status::from(ServiceError::unauthenticated("a caller token is required"))
            })?;
        let audience = request
            .extensions()
            .get::<Audience>()
            .map(|audience| audience.0.clone())
            .ok_or_else(|| {
                tonic::Status::from(ServiceError::unauthenticated(
                    "the request names no method to check its token against",
                ))
            })?;
        let caller = self
            .keys
            .verify(token, &audience, self.clock.now())
            .map_err(|error| {
                tonic::Status::from(ServiceError::unauthenticated(error.to_string()))
            })?;
        let correlation_id = request
            .metadata()
            .get(CORRELATION_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| CorrelationId::parse(value).ok())
            .unwrap_or_else(|| CorrelationId::from_uuid(uuid::Uuid::now_v7()));
        tracing::Span::current().record("correlation_id", tracing::field::display(correlation_id));
        request.extensions_mut().insert(RequestContext {
            caller,
            correlation_id,
        });
        Ok(request)
    }
}

/// Client side: signs a fresh token for `caller` on every request.
#[derive(Clone)]
pub struct CallAs {
    keys: Keys,
    clock: Arc<dyn Clock>,
    caller: Caller,
    correlation_id: Option<CorrelationId>,
}

impl CallAs {
    pub fn new(keys: Keys, clock: Arc<dyn Clock>, caller: Caller) -> Self {
        Self {
            keys,
            clock,
            caller,
            correlation_id: None,
        }
    }

    #[must_use]
    pub fn correlated(mut self, correlation_id: CorrelationId) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }
}

impl Interceptor for CallAs {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        // Generated clients name the method they call.
        let method = request
            .extensions()
            .get::<tonic::GrpcMethod<'static>>()
            .map(|method| format!("{}/{}", method.service(), method.method()))
            .ok_or_else(|| tonic::Status::internal("a caller token needs the method it is for"))?;
        let token = self.keys.sign(self.caller, &method, self.clock.now());
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| tonic::Status::internal("token is not a valid header"))?;
        request.metadata_mut().insert("authorization", value);
        if let Some(correlation) = self.correlation_id
            && let Ok(value) = MetadataValue::try_from(correlation.to_string())
        {
            request.metadata_mut().insert(CORRELATION_HEADER, value);
        }
        crate::telemetry::inject_trace(request.metadata_mut());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};
    use uuid::Uuid;

    fn keys(secret: &str) -> Keys {
        Keys::new(&Secret::new(secret.repeat(8)), 60)
    }

    fn caller() -> Caller {
        Caller {
            trust: TrustId::from_uuid(Uuid::new_v4()),
            actor: ActorId::from_uuid(Uuid::new_v4()),
        }
    }

    #[test]
    fn a_signed_token_verifies_to_its_caller() {
        let (keys, caller, now) = (keys("abcd"), caller(), Utc::now());
        assert_eq!(
            keys.verify(&keys.sign(caller, METHOD, now), METHOD, now),
            Ok(caller)
        );
    }

    const METHOD: &str = "waymark.action_tracking.v1.ActionTracking/CompleteAction";

    #[test]
    fn a_token_for_one_method_is_refused_by_another() {
        let (keys, caller, now) = (keys("abcd"), caller(), Utc::now());
        let token = keys.sign(caller, METHOD, now);
        for other in [
            "waymark.action_tracking.v1.ActionTracking/ReopenAction",
            "waymark.review_dialogue.v1.ReviewDialogue/CompleteAction",
            "",
        ] {
            assert_eq!(
                keys.verify(&token, other, now),
                Err(TokenError::WrongAudience)
            );
        }
    }

    #[test]
    fn tampered_foreign_and_expired_tokens_are_refused() {
        let (ours, caller, now) = (keys("abcd"), caller(), Utc::now());
        let token = ours.sign(caller, METHOD, now);
        assert_eq!(
            keys("wxyz").verify(&token, METHOD, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            ours.verify(&token, METHOD, now + Duration::seconds(61)),
            Err(TokenError::Expired)
        );
        // Swap in another trust's claims under the same signature.
        let other = ours.sign(
            Caller {
                trust: TrustId::from_uuid(Uuid::new_v4()),
                ..caller
            },
            METHOD,
            now,
        );
        let forged = format!(
            "v1.{}.{}",
            other.split('.').nth(1).unwrap(),
            token.split('.').nth(2).unwrap()
        );
        assert_eq!(
            ours.verify(&forged, METHOD, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            ours.verify("garbage", METHOD, now),
            Err(TokenError::Malformed)
        );
    }
}
