//! Single sign-on with OpenID Connect: "Sign in with Microsoft" (the trust's tenant-specific
//! issuer) and "Sign in with Google" (with the Workspace domain checked in the `hd` claim),
//! configured per trust. Authorization code flow with PKCE, state and nonce.
//!
//! People are matched by issuer and subject, never by e-mail address: the first sign-in links
//! an identity to a member of staff only through an invitation.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use uuid::Uuid;
use waymark_domain::{StaffId, TrustId};

use crate::error::PageError;
use crate::session;
use crate::sign_in;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct ProviderButton {
    pub action: String,
    pub label: String,
    pub invitation: String,
}

/// What the public sign-in page shows of single sign-on, from one query: the trust whose
/// buttons it shows (the installation's only trust with single sign-on, if just one has it),
/// and whether some trust has it at all. With several, the public page shows no buttons —
/// it names no trust — and each trust's own page (`/sign-in/<trust>`) shows its own.
pub async fn public_sign_on(state: &AppState) -> Result<(Option<TrustId>, bool), PageError> {
    let trusts = sqlx::query_scalar!("SELECT DISTINCT trust_id FROM gateway.sso_providers LIMIT 2")
        .fetch_all(&state.platform.pool)
        .await?;
    Ok(match trusts.as_slice() {
        [only] => (Some(TrustId::from_uuid(*only)), true),
        several => (None, !several.is_empty()),
    })
}

/// The sign-on buttons of one trust (none for no trust), carrying an invitation's token when
/// they link an account.
pub async fn buttons(
    state: &AppState,
    trust: Option<TrustId>,
    invitation: &str,
) -> Result<Vec<ProviderButton>, PageError> {
    let Some(trust) = trust else {
        return Ok(Vec::new());
    };
    let providers = sqlx::query_scalar!(
        "SELECT provider FROM gateway.sso_providers WHERE trust_id = $1 ORDER BY provider",
        trust.into_uuid()
    )
    .fetch_all(&state.platform.pool)
    .await?;
    Ok(providers
        .into_iter()
        .map(|provider| ProviderButton {
            label: format!(
                "Sign in with {}",
                if provider == "google" {
                    "Google"
                } else {
                    "Microsoft"
                }
            ),
            action: format!("/sso/{trust}/{provider}/start"),
            invitation: invitation.to_owned(),
        })
        .collect())
}

pub async fn sign_in_policy(
    state: &AppState,
    trust: Option<TrustId>,
) -> Result<axum::http::HeaderValue, PageError> {
    // The trust's own providers only; a page for no trust sends forms nowhere else.
    let Some(trust) = trust else {
        return Ok(HeaderValue::from_static(crate::CONTENT_SECURITY_POLICY));
    };
    let issuers = sqlx::query_scalar!(
        "SELECT DISTINCT issuer FROM gateway.sso_providers WHERE trust_id = $1",
        trust.into_uuid()
    )
    .fetch_all(&state.platform.pool)
    .await?;
    let mut origins: Vec<String> = issuers
        .iter()
        .filter_map(|issuer| origin_of(issuer))
        .collect();
    origins.sort();
    origins.dedup();
    let policy = crate::CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", origins.join(" ")),
    );
    axum::http::HeaderValue::from_str(policy.trim())
        .map_err(|_| PageError::bad_request("an identity provider's address is not usable"))
}

/// `https://login.example.com` from `https://login.example.com/tenant/v2.0`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split('/').next()?;
    // Only characters a host and port can have: nothing that could break out of the policy.
    host.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        .then(|| format!("{scheme}://{host}"))
}

/// The issuer a trust may set for `provider`: Microsoft's sign-in address for the trust's
/// tenant (`https://login.microsoftonline.com/<tenant>/v2.0`) or Google's
/// (`https://accounts.google.com`) — nothing else, so the sign-in pages never fetch from an
/// address a setting chose (server-side request forgery). With `network.allow_loopback`, an
/// identity provider on this machine too (tests, local trials).
pub fn check_issuer(
    provider: &str,
    issuer: &str,
    allow_loopback: bool,
) -> Result<(), &'static str> {
    let url = waymark_runtime::net::check_url(issuer, allow_loopback)
        .map_err(|_| "The issuer must be the identity provider's https:// address.")?;
    let local = allow_loopback
        && url
            .host()
            .is_some_and(|host| host.to_string() == "localhost" || host.to_string() == "127.0.0.1");
    if local {
        return Ok(());
    }
    let tenant = issuer
        .strip_prefix("https://login.microsoftonline.com/")
        .and_then(|rest| rest.strip_suffix("/v2.0"))
        .filter(|tenant| {
            !tenant.is_empty()
                && tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        });
    match provider {
        "microsoft" if tenant.is_some() => Ok(()),
        "microsoft" => {
            Err("The issuer must be https://login.microsoftonline.com/<your tenant id>/v2.0.")
        }
        "google" if issuer == "https://accounts.google.com" => Ok(()),
        "google" => Err("The issuer must be https://accounts.google.com."),
        _ => Err("Choose Microsoft or Google."),
    }
}

struct Provider {
    name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    hosted_domain: Option<String>,
}

async fn provider(state: &AppState, trust: Uuid, name: &str) -> Result<Provider, PageError> {
    let row = sqlx::query!(
        "SELECT issuer, client_id, client_secret, hosted_domain FROM gateway.sso_providers WHERE trust_id = $1 AND provider = $2",
        trust,
        name
    )
    .fetch_optional(&state.platform.pool)
    .await?
    .ok_or_else(PageError::not_found)?;
    Ok(Provider {
        name: name.to_owned(),
        issuer: row.issuer,
        client_id: row.client_id,
        client_secret: row.client_secret,
        hosted_domain: row.hosted_domain,
    })
}

fn http(state: &AppState) -> Result<openidconnect::reqwest::Client, PageError> {
    // No redirects, and public addresses only: the identity provider's answers are taken as
    // they are (SSRF safety).
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(waymark_runtime::net::PublicOnly {
            allow_loopback: state.platform.config.network.allow_loopback,
        }))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|_| unavailable())
}

fn unavailable() -> PageError {
    PageError::Status(
        StatusCode::BAD_GATEWAY,
        "The sign-in service did not answer. Try again, or use your password.".into(),
    )
}

/// What discovery gives: authorization and token endpoints known, the rest maybe.
type DiscoveredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn client(
    state: &AppState,
    provider: &Provider,
    http: &openidconnect::reqwest::Client,
) -> Result<DiscoveredClient, PageError> {
    // Checked again at use: a setting stored before the rule, or edited in the database.
    check_issuer(
        &provider.name,
        &provider.issuer,
        state.platform.config.network.allow_loopback,
    )
    .map_err(|problem| {
        tracing::warn!(issuer = %provider.issuer, problem, "identity provider refused");
        unavailable()
    })?;
    let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|_| unavailable())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "identity provider discovery failed");
            unavailable()
        })?;
    let redirect = RedirectUrl::new(format!("{}/sso/callback", state.settings.public_url))
        .map_err(|_| unavailable())?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(provider.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_come_from_issuers_and_nothing_else_gets_in() {
        assert_eq!(
            super::origin_of("https://login.example.com/tenant/v2.0").as_deref(),
            Some("https://login.example.com")
        );
        assert_eq!(
            super::origin_of("http://127.0.0.1:9400").as_deref(),
            Some("http://127.0.0.1:9400")
        );
        assert_eq!(super::origin_of("https://a.example; script-src *"), None);
        assert_eq!(super::origin_of("javascript:alert(1)"), None);
    }
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    invitation: String,
}

/// Starts a sign-in with the trust's provider (a POST: it records the flow's state).
pub async fn start(
    State(state): State<AppState>,
    Path((trust, name)): Path<(Uuid, String)>,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let provider = provider(&state, trust, &name).await?;
    let http = http(&state)?;
    let client = client(&state, &provider, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if let Some(domain) = &provider.hosted_domain {
        request = request.add_extra_param("hd", domain.clone());
    }
    let (url, csrf, nonce) = request.url();
    let invitation = if form.invitation.is_empty() {
        None
    } else {
        sign_in::invitation(&state, &form.invitation).await?;
        Some(session::hash(&form.invitation))
    };
    sqlx::query!(
        "INSERT INTO gateway.sso_flows (state, trust_id, provider, pkce_verifier, nonce, invitation) VALUES ($1, $2, $3, $4, $5, $6)",
        csrf.secret(),
        trust,
        name,
        verifier.secret(),
        nonce.secret(),
        invitation
    )
    .execute(&state.platform.pool)
    .await?;
    // The flow belongs to this browser: the callback is accepted only with this cookie, so
    // nobody can send someone else's browser back with *their* sign-in (login CSRF).
    let mut response = Redirect::to(url.as_str()).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{FLOW_COOKIE}={}; Path=/sso/callback; Max-Age=600; Secure; HttpOnly; SameSite=Lax",
        flow_binding(csrf.secret())
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The cookie that ties a sign-in flow to the browser that started it.
const FLOW_COOKIE: &str = "waymark_sso";

/// What the cookie holds for a flow's `state`: its hash, so the cookie alone is no use.
fn flow_binding(state: &str) -> String {
    URL_SAFE_NO_PAD.encode(session::hash(state))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct Refused {
    title: String,
    message: String,
}

fn refused(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Refused {
            title: "You cannot sign in".into(),
            message: message.into(),
        },
    )
        .into_response()
}

/// The provider sends the browser back here with a code.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, PageError> {
    let mut response = finish(&state, &headers, callback).await?;
    // The flow's cookie has done its work, whatever the outcome.
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "waymark_sso=; Path=/sso/callback; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
        ),
    );
    Ok(response)
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    callback: Callback,
) -> Result<Response, PageError> {
    if callback.error.is_some() {
        return Ok(refused("Signing in was cancelled or refused."));
    }
    let (Some(code), Some(flow_state)) = (callback.code, callback.state) else {
        return Err(PageError::bad_request("This sign-in link is incomplete."));
    };
    if session::cookie(headers, FLOW_COOKIE).as_deref() != Some(flow_binding(&flow_state).as_str())
    {
        return Ok(refused(
            "This sign-in was started in another browser, or long ago. Start again from the sign-in page.",
        ));
    }
    let now = state.platform.clock.now();
    let flow = sqlx::query!(
        "DELETE FROM gateway.sso_flows WHERE state = $1 RETURNING trust_id, provider, pkce_verifier, nonce, invitation, created_at",
        flow_state
    )
    .fetch_optional(&state.platform.pool)
    .await?;
    let Some(flow) = flow.filter(|flow| now - flow.created_at < chrono::Duration::minutes(10))
    else {
        return Ok(refused("This sign-in has expired. Start again."));
    };
    let provider = provider(state, flow.trust_id, &flow.provider).await?;
    let http = http(state)?;
    let client = client(state, &provider, &http).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| unavailable())?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
        .request_async(&http)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "code exchange failed");
            unavailable()
        })?;
    let id_token = tokens.id_token().ok_or_else(unavailable)?;
    let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(flow.nonce)) {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(%error, "identity token refused");
            return Ok(refused(
                "The sign-in service's answer could not be verified.",
            ));
        }
    };
    if let Some(domain) = &provider.hosted_domain {
        // The token is verified; read `hd` from its payload.
        let hd = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|payload| {
                payload
                    .get("hd")
                    .and_then(|hd| hd.as_str())
                    .map(str::to_owned)
            });
        if hd.as_deref() != Some(domain.as_str()) {
            return Ok(refused("Use your school’s Google account to sign in."));
        }
    }
    let (issuer, subject) = (claims.issuer().to_string(), claims.subject().to_string());
    let trust = TrustId::from_uuid(flow.trust_id);
    let known = sqlx::query!(
        "SELECT trust_id, staff_id FROM gateway.identities WHERE issuer = $1 AND subject = $2",
        issuer,
        subject
    )
    .fetch_optional(&state.platform.pool)
    .await?;
    let staff = match (known, flow.invitation) {
        (Some(identity), _) if identity.trust_id == flow.trust_id => {
            StaffId::from_uuid(identity.staff_id)
        }
        (Some(_), _) => return Ok(refused("This account belongs to another trust.")),
        (None, Some(invitation)) => {
            let row = sqlx::query!(
                "UPDATE gateway.invitations SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 AND trust_id = $3 RETURNING staff_id",
                invitation,
                now,
                flow.trust_id
            )
            .fetch_optional(&state.platform.pool)
            .await?;
            let Some(row) = row else {
                return Ok(refused("This invitation has been used or has expired."));
            };
            sign_in::fresh_start(
                &state.platform.pool,
                trust,
                StaffId::from_uuid(row.staff_id),
            )
            .await?;
            sqlx::query!(
                "INSERT INTO gateway.identities (issuer, subject, trust_id, staff_id) VALUES ($1, $2, $3, $4)",
                issuer,
                subject,
                flow.trust_id,
                row.staff_id
            )
            .execute(&state.platform.pool)
            .await?;
            StaffId::from_uuid(row.staff_id)
        }
        (None, None) => {
            return Ok(refused(
                "Your account is not linked to Waymark yet. Ask your school's administrator for an invitation.",
            ));
        }
    };
    if !sign_in::active(state, trust, staff).await? {
        return Ok(refused("Your account is disabled."));
    }
    sign_in::signed_in_response(state, trust, staff, "/").await
}
