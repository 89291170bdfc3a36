//! Signing in with a local account, signing out, and accepting an invitation.
//!
//! Local accounts use argon2id, checked on the blocking pool, a few at a time. A failed
//! sign-in says the same thing whether or not the address exists, and takes as long (a
//! dummy hash is checked). Failures are counted three ways over 15 minutes:
//! - per e-mail address *and* client: after `web.max_sign_in_failures` that pair pauses;
//! - per client, whatever the addresses: after `web.max_sign_in_failures_per_client` the
//!   client pauses (spraying one password across many addresses);
//! - per e-mail address from anywhere: past `web.max_sign_in_failures`, each attempt for it
//!   is slowed by two seconds, never refused — so nobody can lock a known person out by
//!   failing on their address from elsewhere.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use serde::Deserialize;
use uuid::Uuid;
use waymark_domain::{StaffId, TrustId};

use crate::error::PageError;
use crate::session;
use crate::sso;
use crate::state::AppState;

/// At least this many characters; no other rules (length is what matters).
const MIN_PASSWORD: usize = 12;

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    error: Option<String>,
    email: String,
    providers: Vec<sso::ProviderButton>,
    /// Some trust signs in with a provider, but this page shows no buttons.
    sso_elsewhere: bool,
    /// The trust whose own page this is; empty on the public page.
    trust: String,
}

impl SignInPage {
    /// A trust's own page (`own`: its sign-on buttons, its id posted with the form), or the
    /// public one (the buttons of the only trust with single sign-on, or none and a hint).
    async fn new(state: &AppState, own: Option<TrustId>) -> Result<(Self, HeaderValue), PageError> {
        let (shown, any) = match own {
            Some(trust) => (Some(trust), false),
            None => sso::public_sign_on(state).await?,
        };
        let providers = sso::buttons(state, shown, "").await?;
        let policy = sso::sign_in_policy(state, shown).await?;
        Ok((
            Self {
                error: None,
                email: String::new(),
                sso_elsewhere: providers.is_empty() && any,
                providers,
                trust: own.map(|trust| trust.to_string()).unwrap_or_default(),
            },
            policy,
        ))
    }

    /// The page again, refusing: `message`, with what was typed.
    async fn refused(
        state: &AppState,
        form: &SignInForm,
        message: &str,
        status: StatusCode,
    ) -> Result<Response, PageError> {
        let own = Uuid::parse_str(&form.trust).ok().map(TrustId::from_uuid);
        let (mut page, policy) = Self::new(state, own).await?;
        page.error = Some(message.to_owned());
        page.email = form.email.clone();
        Ok((status, [(header::CONTENT_SECURITY_POLICY, policy)], page).into_response())
    }
}

/// The public sign-in page: passwords, and the sign-on buttons of the installation's trust
/// if only one has single sign-on. It names no trust.
pub async fn page(State(state): State<AppState>) -> Result<Response, PageError> {
    let (page, policy) = SignInPage::new(&state, None).await?;
    Ok(([(header::CONTENT_SECURITY_POLICY, policy)], page).into_response())
}

/// A trust's own sign-in page, with its sign-on buttons (Admin → Single sign-on gives its
/// address). An id that is no trust's shows the page without buttons, as if it had none.
pub async fn trust_page(
    State(state): State<AppState>,
    Path(trust): Path<String>,
) -> Result<Response, PageError> {
    let trust = Uuid::parse_str(&trust)
        .map(TrustId::from_uuid)
        .map_err(|_| PageError::not_found())?;
    let (page, policy) = SignInPage::new(&state, Some(trust)).await?;
    Ok(([(header::CONTENT_SECURITY_POLICY, policy)], page).into_response())
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    /// Set by a trust's own sign-in page: the account is that trust's.
    #[serde(default)]
    trust: String,
}

pub fn hash_password(password: &str) -> Result<String, PageError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| PageError::bad_request("that password cannot be used"))
}

fn verify(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Password checks running at once: each takes a core for tens of milliseconds, so a burst
/// of sign-ins queues here instead of starving every other request.
static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`verify`] on the blocking pool, behind [`CHECKS`].
async fn verify_off_thread(password: String, hash: String) -> bool {
    let Ok(_permit) = CHECKS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// Where the request comes from: the address a trusted proxy put in
/// `web.client_address_header`, or the connection's.
fn client_address(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    let header = &state.settings.web.client_address_header;
    if !header.is_empty()
        && let Some(value) = headers.get(header.as_str()).and_then(|v| v.to_str().ok())
        && let Some(first) = value
            .split(',')
            .next()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return first.to_owned();
    }
    peer.ip().to_string()
}

/// A hash of nothing in particular, checked when the address is unknown so that a wrong
/// address takes as long as a wrong password.
static DUMMY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not a real password at all").unwrap_or_default());

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let email = form.email.trim().to_lowercase();
    let client = client_address(&state, &headers, peer);
    let pair = format!("pair:{email}|{client}");
    let from_client = format!("client:{client}");
    let for_address = format!("email:{email}");
    let limits = &state.settings.web;
    // From a trust's own page the account is that trust's; from the public page, whichever of
    // the address's accounts the password opens.
    let own_trust = Uuid::parse_str(&form.trust).ok().map(TrustId::from_uuid);
    // The page is built again only to refuse.
    let refuse =
        |message: &'static str, status| SignInPage::refused(&state, &form, message, status);
    let keys = [pair.as_str(), from_client.as_str(), for_address.as_str()];
    let [by_pair, by_client, by_address] = failures(&state, keys).await?;
    if by_pair >= limits.max_sign_in_failures || by_client >= limits.max_sign_in_failures_per_client
    {
        return refuse(
            "Too many attempts. Wait 15 minutes and try again.",
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    if by_address >= limits.max_sign_in_failures {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    // An address has an account in each trust that uses it (a few at most).
    let accounts = sqlx::query!(
        "SELECT p.trust_id, p.staff_id, w.hash FROM gateway.people p \
         JOIN gateway.passwords w ON w.trust_id = p.trust_id AND w.staff_id = p.staff_id \
         WHERE lower(p.email) = $1 AND ($2::uuid IS NULL OR p.trust_id = $2) \
         ORDER BY p.trust_id LIMIT 5",
        email,
        own_trust.map(TrustId::into_uuid),
    )
    .fetch_all(&state.platform.pool)
    .await?;
    if accounts.is_empty() {
        verify_off_thread(form.password.clone(), DUMMY.clone()).await;
    }
    let mut opened = Vec::new();
    for account in accounts {
        if verify_off_thread(form.password.clone(), account.hash.clone()).await {
            opened.push(account);
        }
    }
    let account = match opened.len() {
        1 => opened.remove(0),
        0 => {
            record_failures(&state, keys).await?;
            return refuse(
                "Enter a correct e-mail address and password.",
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
        // Only someone who knows the password learns they have more than one account.
        _ => {
            return refuse(
                "You have an account with this address and password in more than one trust: \
                 sign in from your trust’s own sign-in page (your administrator has its address).",
                StatusCode::CONFLICT,
            )
            .await;
        }
    };
    let (trust, staff) = (
        TrustId::from_uuid(account.trust_id),
        StaffId::from_uuid(account.staff_id),
    );
    if !active(&state, trust, staff).await? {
        record_failures(&state, keys).await?;
        return refuse(
            "Enter a correct e-mail address and password.",
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    // Success clears this address's counts, not the client's.
    sqlx::query!(
        "DELETE FROM gateway.sign_in_failures WHERE key = $1 OR key = $2",
        pair,
        for_address
    )
    .execute(&state.platform.pool)
    .await?;
    signed_in_response(&state, trust, staff, "/").await
}

/// A member of staff whose account is not disabled.
pub async fn active(state: &AppState, trust: TrustId, staff: StaffId) -> Result<bool, PageError> {
    let directory = crate::directory::load(&state.platform.pool, trust).await?;
    Ok(directory
        .staff
        .get(&staff)
        .is_some_and(|record| !record.disabled))
}

pub async fn signed_in_response(
    state: &AppState,
    trust: TrustId,
    staff: StaffId,
    to: &str,
) -> Result<Response, PageError> {
    let cookie = session::start(state, trust, staff).await?;
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Failures counted under each of `keys` in the current 15-minute window, in one query.
async fn failures<const N: usize>(
    state: &AppState,
    keys: [&str; N],
) -> Result<[i32; N], PageError> {
    let since = state.platform.clock.now() - Duration::minutes(15);
    let rows = sqlx::query!(
        "SELECT key, failures FROM gateway.sign_in_failures WHERE key = ANY($1) AND window_start >= $2",
        &keys.map(str::to_owned)[..],
        since
    )
    .fetch_all(&state.platform.pool)
    .await?;
    Ok(keys.map(|key| {
        rows.iter()
            .find(|row| row.key == key)
            .map_or(0, |row| row.failures)
    }))
}

/// One more failure under each of `keys`, in one statement.
async fn record_failures<const N: usize>(
    state: &AppState,
    keys: [&str; N],
) -> Result<(), PageError> {
    metrics::counter!("waymark_sign_in_failures_total").increment(1);
    let now = state.platform.clock.now();
    sqlx::query!(
        "INSERT INTO gateway.sign_in_failures (key, window_start, failures) \
         SELECT key, $2, 1 FROM unnest($1::text[]) AS k(key) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN gateway.sign_in_failures.window_start < $2 - interval '15 minutes' THEN 1 \
                           ELSE gateway.sign_in_failures.failures + 1 END, \
           window_start = CASE WHEN gateway.sign_in_failures.window_start < $2 - interval '15 minutes' THEN $2 \
                               ELSE gateway.sign_in_failures.window_start END",
        &keys.map(str::to_owned)[..],
        now
    )
    .execute(&state.platform.pool)
    .await?;
    Ok(())
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    session::end(&state, &headers).await?;
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    Ok(response)
}

// --- Invitations ------------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "invitation.html")]
struct InvitationPage {
    token: String,
    name: String,
    error: Option<String>,
    providers: Vec<sso::ProviderButton>,
}

/// An unused, unexpired invitation: (trust, staff).
pub async fn invitation(state: &AppState, token: &str) -> Result<(TrustId, StaffId), PageError> {
    let now = state.platform.clock.now();
    let row = sqlx::query!(
        "SELECT trust_id, staff_id FROM gateway.invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        session::hash(token),
        now
    )
    .fetch_optional(&state.platform.pool)
    .await?
    .ok_or_else(|| PageError::Status(StatusCode::NOT_FOUND, "This invitation has been used or has expired. Ask for a new one.".into()))?;
    Ok((
        TrustId::from_uuid(row.trust_id),
        StaffId::from_uuid(row.staff_id),
    ))
}

pub async fn invitation_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (trust, staff) = invitation(&state, &token).await?;
    let name = crate::directory::name_of(&state.platform.pool, trust, staff).await?;
    let providers = sso::buttons(&state, Some(trust), &token).await?;
    let page = InvitationPage {
        token,
        name,
        error: None,
        providers,
    };
    Ok((
        [(
            header::CONTENT_SECURITY_POLICY,
            sso::sign_in_policy(&state, Some(trust)).await?,
        )],
        page,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
    confirm: String,
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let (trust, staff) = invitation(&state, &token).await?;
    let problem = if form.password.chars().count() < MIN_PASSWORD {
        Some(format!(
            "Your password must be at least {MIN_PASSWORD} characters."
        ))
    } else if form.password != form.confirm {
        Some("The two passwords are not the same.".to_owned())
    } else {
        None
    };
    if let Some(error) = problem {
        let name = crate::directory::name_of(&state.platform.pool, trust, staff).await?;
        let providers = sso::buttons(&state, Some(trust), &token).await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            InvitationPage {
                token,
                name,
                error: Some(error),
                providers,
            },
        )
            .into_response());
    }
    // Claimed first, and only once: of two simultaneous acceptances one wins.
    if !use_invitation(&state, &token).await? {
        return Err(PageError::not_found());
    }
    fresh_start(&state.platform.pool, trust, staff).await?;
    set_password(&state.platform.pool, trust, staff, &form.password).await?;
    signed_in_response(&state, trust, staff, "/").await
}

/// Sets (or replaces) a person's local password.
pub async fn set_password(
    pool: &sqlx::PgPool,
    trust: TrustId,
    staff: StaffId,
    password: &str,
) -> Result<(), PageError> {
    let hash = hash_password(password)?;
    sqlx::query!(
        "INSERT INTO gateway.passwords (trust_id, staff_id, hash) VALUES ($1, $2, $3) \
         ON CONFLICT (trust_id, staff_id) DO UPDATE SET hash = $3, updated_at = now()",
        trust.into_uuid(),
        staff.into_uuid(),
        hash
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the invitation used; `false` if it was used already.
pub async fn use_invitation(state: &AppState, token: &str) -> Result<bool, PageError> {
    let claimed = sqlx::query!(
        "UPDATE gateway.invitations SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
        session::hash(token),
        state.platform.clock.now()
    )
    .execute(&state.platform.pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Accepting an invitation starts the person's sign-in afresh: every other session ends and
/// any Microsoft or Google account linked before is unlinked, so whoever held an older way
/// in keeps none.
pub async fn fresh_start(
    pool: &sqlx::PgPool,
    trust: TrustId,
    staff: StaffId,
) -> Result<(), sqlx::Error> {
    session::end_all(pool, trust, staff).await?;
    sqlx::query!(
        "DELETE FROM gateway.identities WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        staff.into_uuid()
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error(
        "this account is already active: they sign in with their password or their school account"
    )]
    Active,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Whether the person can sign in already: a password set, or a Microsoft or Google
/// account linked.
pub async fn is_active(
    pool: &sqlx::PgPool,
    trust: TrustId,
    staff: StaffId,
) -> Result<bool, sqlx::Error> {
    let active = sqlx::query_scalar!(
        r#"SELECT (EXISTS (SELECT 1 FROM gateway.passwords WHERE trust_id = $1 AND staff_id = $2)
              OR EXISTS (SELECT 1 FROM gateway.identities WHERE trust_id = $1 AND staff_id = $2)) AS "active!""#,
        trust.into_uuid(),
        staff.into_uuid()
    )
    .fetch_one(pool)
    .await?;
    Ok(active)
}

/// A new one-time invitation, valid for 14 days, for someone who cannot sign in yet (an
/// active account is refused: an invitation would let whoever holds it take the account
/// over). Any older invitation of theirs stops working. Returns the invitation page's path.
pub async fn invite(
    platform: &waymark_runtime::Platform,
    trust: TrustId,
    staff: StaffId,
) -> Result<String, InviteError> {
    if is_active(&platform.pool, trust, staff).await? {
        return Err(InviteError::Active);
    }
    let (token, hash) = session::new_token();
    let expires = platform.clock.now() + Duration::days(14);
    let mut tx = platform.pool.begin().await?;
    sqlx::query!(
        "DELETE FROM gateway.invitations WHERE trust_id = $1 AND staff_id = $2 AND used_at IS NULL",
        trust.into_uuid(),
        staff.into_uuid()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO gateway.invitations (token_hash, trust_id, staff_id, expires_at) VALUES ($1, $2, $3, $4)",
        hash,
        trust.into_uuid(),
        staff.into_uuid(),
        expires
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(waymark_domain::pages::fill(
        waymark_domain::pages::INVITATION,
        &token,
    ))
}
