//! Server-side sessions and who is looking.
//!
//! The cookie (`Secure; HttpOnly; SameSite=Lax`) holds a random token; the database keeps
//! only its SHA-256. A session ends after `web.session_idle_minutes` unused, after
//! `web.session_absolute_hours` whatever, at sign-out, and — all of a person's sessions at
//! once — when their account is disabled. Every POST must come from our own origin and carry
//! the session's CSRF token.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use waymark_domain::directory::{DirectoryState, Grant, Role};
use waymark_domain::ids::ActorId;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_policy::{Policies, SchoolVerb, TrustVerb};
use waymark_runtime::auth::Caller;

use crate::error::PageError;
use crate::state::AppState;

pub const COOKIE: &str = "waymark_session";

/// A fresh random token and its hash.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Starts a session; returns the `Set-Cookie` value.
pub async fn start(
    state: &AppState,
    trust: TrustId,
    staff: StaffId,
) -> Result<HeaderValue, PageError> {
    let (token, token_hash) = new_token();
    let (csrf, _) = new_token();
    let now = state.platform.clock.now();
    sqlx::query!(
        "INSERT INTO gateway.sessions (token_hash, trust_id, staff_id, csrf, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)",
        token_hash,
        trust.into_uuid(),
        staff.into_uuid(),
        csrf,
        now
    )
    .execute(&state.platform.pool)
    .await?;
    let max_age = state.settings.web.session_absolute_hours * 3600;
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax"
    ))
    .map_err(|_| PageError::bad_request("bad session token"))
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("waymark_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
}

pub fn token_from(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

/// The value of the cookie `wanted` the browser sent.
pub fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
}

pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<(), PageError> {
    if let Some(token) = token_from(headers) {
        sqlx::query!(
            "DELETE FROM gateway.sessions WHERE token_hash = $1",
            hash(&token)
        )
        .execute(&state.platform.pool)
        .await?;
    }
    Ok(())
}

/// Ends every session of a person (their account was disabled).
pub async fn end_all(
    pool: &sqlx::PgPool,
    trust: TrustId,
    staff: StaffId,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM gateway.sessions WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        staff.into_uuid()
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// The signed-in person looking at a page.
#[derive(Clone)]
pub struct Viewer {
    pub trust: TrustId,
    pub staff: StaffId,
    pub name: String,
    pub csrf: String,
    pub directory: Arc<DirectoryState>,
    pub policies: Arc<Policies>,
}

impl Viewer {
    pub fn caller(&self) -> Caller {
        Caller {
            trust: self.trust,
            actor: ActorId::from_uuid(self.staff.into_uuid()),
        }
    }

    pub fn grants(&self) -> &[Grant] {
        self.directory
            .staff
            .get(&self.staff)
            .map_or(&[], |record| record.grants.as_slice())
    }

    fn has_trust_role(&self, check: impl Fn(Role) -> bool) -> bool {
        self.grants()
            .iter()
            .any(|g| g.school.is_none() && check(g.role))
    }

    pub fn is_trust_leader(&self) -> bool {
        self.has_trust_role(|role| role == Role::TrustLeader)
    }

    pub fn is_trust_admin(&self) -> bool {
        self.has_trust_role(|role| role == Role::TrustAdmin)
    }

    /// The schools this person may see: all of them with a trust role, else their own.
    pub fn schools(&self) -> Vec<SchoolId> {
        if self.has_trust_role(|_| true) {
            return self.directory.schools.keys().copied().collect();
        }
        let mut schools: Vec<SchoolId> = self.grants().iter().filter_map(|g| g.school).collect();
        schools.sort();
        schools.dedup();
        schools
    }

    pub fn sees_school(&self, school: SchoolId) -> bool {
        self.schools().contains(&school)
    }

    /// Leads in this school: sees its records, not only their own.
    pub fn leads(&self, school: SchoolId) -> bool {
        self.is_trust_leader()
            || self
                .grants()
                .iter()
                .any(|g| g.school == Some(school) && g.role.is_leader())
    }

    /// Administers this school (or, with `None`, the trust).
    pub fn administers(&self, school: Option<SchoolId>) -> bool {
        self.is_trust_admin()
            || school.is_some_and(|s| {
                self.grants()
                    .iter()
                    .any(|g| g.school == Some(s) && g.role.is_admin())
            })
    }

    pub fn administers_any(&self) -> bool {
        self.is_trust_admin() || self.grants().iter().any(|g| g.role.is_admin())
    }

    pub fn sees_school_id(&self, school: &str) -> bool {
        school.parse().is_ok_and(|school| self.sees_school(school))
    }

    /// Whether the policies let this person do `verb` to `school`: a page asks, to choose
    /// what to offer; the service that owns the data decides again.
    pub fn may_on_school(&self, verb: SchoolVerb, school: SchoolId) -> bool {
        self.policies
            .allows_on_school(&self.directory, self.staff, verb, school)
    }

    /// Whether the policies let this person do `verb` to the trust as a whole.
    pub fn may_on_trust(&self, verb: TrustVerb) -> bool {
        self.policies
            .allows_on_trust(&self.directory, self.staff, verb)
    }

    /// The schools this person may do `verb` to.
    pub fn schools_for(&self, verb: SchoolVerb) -> Vec<SchoolId> {
        self.schools()
            .into_iter()
            .filter(|s| self.may_on_school(verb, *s))
            .collect()
    }

    /// A page only for those who may do `verb` to the trust: to anyone else it is not there
    /// (404), like every page of what is not theirs.
    pub fn require_on_trust(&self, verb: TrustVerb) -> Result<(), PageError> {
        if self.may_on_trust(verb) {
            Ok(())
        } else {
            Err(PageError::not_found())
        }
    }

    /// The same for a page of one school.
    pub fn require_on_school(&self, verb: SchoolVerb, school: SchoolId) -> Result<(), PageError> {
        if self.may_on_school(verb, school) {
            Ok(())
        } else {
            Err(PageError::not_found())
        }
    }

    pub fn people_i_manage(&self) -> Vec<StaffId> {
        self.directory
            .staff
            .iter()
            .filter(|(_, record)| record.line_manager == Some(self.staff))
            .map(|(id, _)| *id)
            .collect()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let token = token_from(&parts.headers).ok_or(PageError::SignIn)?;
        let viewer = load(state, &token).await?.ok_or(PageError::SignIn)?;
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

async fn load(state: &AppState, token: &str) -> Result<Option<Viewer>, PageError> {
    let now = state.platform.clock.now();
    let row = sqlx::query!(
        "SELECT trust_id, staff_id, csrf, created_at, last_seen_at FROM gateway.sessions WHERE token_hash = $1",
        hash(token)
    )
    .fetch_optional(&state.platform.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if expired(state, now, row.created_at, row.last_seen_at) {
        sqlx::query!(
            "DELETE FROM gateway.sessions WHERE token_hash = $1",
            hash(token)
        )
        .execute(&state.platform.pool)
        .await?;
        return Ok(None);
    }
    let trust = TrustId::from_uuid(row.trust_id);
    let staff = StaffId::from_uuid(row.staff_id);
    let Some(viewer) = viewer_of(state, trust, staff, row.csrf).await? else {
        return Ok(None);
    };
    // Touch at most once a minute: the idle clock does not need finer.
    if now - row.last_seen_at > Duration::minutes(1) {
        sqlx::query!(
            "UPDATE gateway.sessions SET last_seen_at = $2 WHERE token_hash = $1",
            hash(token),
            now
        )
        .execute(&state.platform.pool)
        .await?;
    }
    Ok(Some(viewer))
}

/// The person as a viewer, unless their account is disabled or gone.
pub async fn viewer_of(
    state: &AppState,
    trust: TrustId,
    staff: StaffId,
    csrf: String,
) -> Result<Option<Viewer>, PageError> {
    let directory = crate::directory::load(&state.platform.pool, trust).await?;
    if directory
        .staff
        .get(&staff)
        .is_none_or(|record| record.disabled)
    {
        return Ok(None);
    }
    let name = crate::directory::name_of(&state.platform.pool, trust, staff).await?;
    Ok(Some(Viewer {
        trust,
        staff,
        name,
        csrf,
        directory: Arc::new(directory),
        policies: state.policies.clone(),
    }))
}

fn expired(
    state: &AppState,
    now: DateTime<Utc>,
    created: DateTime<Utc>,
    last_seen: DateTime<Utc>,
) -> bool {
    now - last_seen > Duration::minutes(state.settings.web.session_idle_minutes)
        || now - created > Duration::hours(state.settings.web.session_absolute_hours)
}

/// Guards every state change: a POST must come from our own origin and, except for signing
/// in, carry the session's CSRF token (form field `_csrf`, header `X-CSRF-Token`, or for
/// file uploads the `_csrf` query parameter).
pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let origin_ok = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|origin| origin == state.settings.origin());
    if !origin_ok {
        return (
            StatusCode::FORBIDDEN,
            "This request did not come from Waymark's own pages.",
        )
            .into_response();
    }
    let path = request.uri().path();
    if path == "/sign-in" || path.starts_with("/invitations/") || path.starts_with("/sso/") {
        return next.run(request).await;
    }
    let Some(token) = token_from(request.headers()) else {
        return PageError::SignIn.into_response();
    };
    let viewer = match load(&state, &token).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) => return PageError::SignIn.into_response(),
        Err(error) => return error.into_response(),
    };
    let from_header = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = request
        .uri()
        .query()
        .and_then(|query| form_value(query.as_bytes(), "_csrf"));
    let (mut parts, body) = request.into_parts();
    let is_upload = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_upload {
        // A file upload streams to its handler, which limits its size: its token comes in
        // the address or a header, never from a body read here.
        if from_header.or(from_query).as_deref() != Some(viewer.csrf.as_str()) {
            return (
                StatusCode::FORBIDDEN,
                "This form has expired. Go back, reload the page and try again.",
            )
                .into_response();
        }
        parts.extensions.insert(viewer);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bytes = match axum::body::to_bytes(body, 8 * 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "Too much at once").into_response(),
    };
    let from_form = if is_form {
        form_value(&bytes, "_csrf")
    } else {
        None
    };
    let presented = from_header.or(from_form).or(from_query);
    if presented.as_deref() != Some(viewer.csrf.as_str()) {
        return (
            StatusCode::FORBIDDEN,
            "This form has expired. Go back, reload the page and try again.",
        )
            .into_response();
    }
    // The handler's `Viewer` is this one: the session and directory are not loaded twice.
    parts.extensions.insert(viewer);
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded_pairs(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// Decodes `a=b&c=d` (with `+` and percent escapes).
pub fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (key, value)
        })
}

fn decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode() {
        let pairs: Vec<(String, String)> =
            form_urlencoded_pairs(b"a=1&_csrf=x%2By+z&empty=&b=%E2%9C%93").collect();
        assert_eq!(pairs[1], ("_csrf".to_owned(), "x+y z".to_owned()));
        assert_eq!(pairs[2], ("empty".to_owned(), String::new()));
        assert_eq!(pairs[3].1, "✓");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; waymark_session=tok; c=d"),
        );
        assert_eq!(token_from(&headers).as_deref(), Some("tok"));
    }
}
