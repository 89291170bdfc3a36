//! Sends queued deliveries. A round claims due deliveries with `FOR UPDATE SKIP LOCKED`,
//! leases them (`sending`, under a claim token of its own) and commits — no transaction stays
//! open while a mail server or webhook answers. Then, one at a time, it renews a delivery's
//! lease (only if the claim is still its own), sends it within `send_timeout_ms` (shorter
//! than the lease, so no other worker can take it over mid-send) and records the outcome,
//! again only under its own claim: a worker that lost a delivery to another never records
//! over it, and a `sent` delivery never goes back to `queued`. A failure is retried with a
//! doubling delay and, after `max_attempts`, parked for an admin (who can retry it).
//!
//! At least once: a worker that dies after the mail server accepted a message but before it
//! recorded that leaves the lease to expire, and another sends it again — with the same
//! Message-ID, so the mail system (and the reader) can tell it is a repeat.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_domain::pages;
use waymark_runtime::{Platform, net};

use crate::settings::{Settings, SmtpMode, SmtpTls};

const BATCH: i64 = 20;

pub struct Sender {
    mode: SmtpMode,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    http: reqwest::Client,
    settings: Settings,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Retry(String),
}

impl Sender {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let smtp = match settings.smtp.mode {
            SmtpMode::Smtp => {
                let config = &settings.smtp;
                let mut builder = match config.tls {
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
                    }
                }
                .port(config.port)
                .timeout(Some(Duration::from_secs(15)));
                if let (Some(user), Some(password)) = (&config.username, &config.password) {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().clone()));
                }
                Some(builder.build())
            }
            SmtpMode::Log | SmtpMode::Off => None,
        };
        let from = settings.smtp.from.parse::<Mailbox>().ok();
        anyhow::ensure!(
            settings.smtp.mode != SmtpMode::Smtp || from.is_some(),
            "smtp.from is not an e-mail address"
        );
        // Webhooks go only to public addresses (`waymark_runtime::net`), with no redirects.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(net::PublicOnly {
                allow_loopback: settings.allow_loopback,
            }))
            .build()?;
        Ok(Self {
            mode: settings.smtp.mode,
            smtp,
            from,
            http,
            settings: settings.clone(),
        })
    }

    async fn send(
        &self,
        delivery: &Claimed,
        to: Option<(String, String)>,
        now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        match delivery.channel.as_str() {
            "email" => self.email(&delivery.key, &delivery.message, to).await,
            _ => self.webhook(delivery, now).await,
        }
    }

    async fn email(
        &self,
        key: &str,
        message: &serde_json::Value,
        to: Option<(String, String)>,
    ) -> Result<(), SendError> {
        let (name, address) =
            to.ok_or_else(|| SendError::Retry("the recipient has no e-mail address".into()))?;
        let field = |name: &str| {
            message
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let public = &self.settings.public_url;
        let (subject, text) = (field("subject"), field("text"));
        let link = pages::absolute(public, &field("link"));
        let preferences = pages::absolute(public, pages::PREFERENCES);
        match self.mode {
            SmtpMode::Off => {
                return Err(SendError::Retry(
                    "SMTP is not configured (smtp.mode)".into(),
                ));
            }
            SmtpMode::Log => {
                tracing::info!(%key, %subject, "e-mail not sent: smtp.mode is log");
                return Ok(());
            }
            SmtpMode::Smtp => {}
        }
        let recipient = format!("{name} <{address}>")
            .parse::<Mailbox>()
            .or_else(|_| address.parse::<Mailbox>())
            .map_err(|_| SendError::Retry(format!("`{address}` is not an e-mail address")))?;
        // An account message (an invitation) goes to someone who cannot sign in yet: it has
        // no preferences to point at and cannot be unsubscribed from.
        let account = message.get("account").and_then(serde_json::Value::as_bool) == Some(true);
        let (plain_footer, html_footer) = if account {
            (String::new(), String::new())
        } else {
            (
                format!("\nTo change which messages you get, and how: {preferences}\n"),
                format!(
                    "<p style=\"color:#505a5f\">To change which messages you get, and how, \
                     <a href=\"{}\">see your notification preferences</a>.</p>",
                    escape(&preferences)
                ),
            )
        };
        let plain = format!("{text}\n\nOpen it in Waymark: {link}\n{plain_footer}");
        let html = format!(
            "<p>{}</p><p><a href=\"{}\">Open it in Waymark</a></p>{html_footer}",
            escape(&text).replace('\n', "<br>"),
            escape(&link),
        );
        let mut email = Message::builder()
            .from(
                self.from
                    .clone()
                    .ok_or_else(|| SendError::Retry("smtp.from is not set".into()))?,
            )
            .to(recipient)
            .subject(subject)
            // The same delivery always carries the same id: a resend after a crash is
            // recognisable as a duplicate.
            .message_id(Some(format!(
                "<{}@waymark>",
                Uuid::new_v5(&Uuid::nil(), key.as_bytes())
            )));
        if !account {
            email = email.header(ListUnsubscribe(format!("<{preferences}>")));
        }
        let email = email
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(plain),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|error| SendError::Retry(format!("message cannot be built: {error}")))?;
        let transport = self
            .smtp
            .as_ref()
            .ok_or_else(|| SendError::Retry("SMTP is not configured".into()))?;
        transport
            .send(email)
            .await
            .map_err(|error| SendError::Retry(format!("SMTP: {error}")))?;
        Ok(())
    }

    /// Posts `{"text": …}`, which Slack and Teams incoming webhooks both accept, to the
    /// school's webhook as it is now, signed as Standard Webhooks describe: `webhook-id` (the
    /// delivery's id, the same on every retry, so a receiver can drop repeats),
    /// `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` + base64 of
    /// HMAC-SHA256 over `id.timestamp.body` with the school's secret).
    async fn webhook(&self, delivery: &Claimed, now: DateTime<Utc>) -> Result<(), SendError> {
        let message = &delivery.message;
        let (Some(url), Some(secret)) = (&delivery.webhook_url, &delivery.webhook_secret) else {
            return Err(SendError::Retry("the school has no webhook now".into()));
        };
        let url = net::check_url(url, self.settings.allow_loopback)
            .map_err(|reason| SendError::Retry(format!("the webhook address {reason}")))?;
        let field = |name: &str| message.get(name).and_then(|v| v.as_str());
        let text = match field("link") {
            Some(link) => format!(
                "{}\n{}",
                field("text").unwrap_or_default(),
                pages::absolute(&self.settings.public_url, link)
            ),
            None => field("text").unwrap_or_default().to_owned(),
        };
        let body = serde_json::json!({ "text": text }).to_string();
        let id = delivery.delivery_id.to_string();
        let timestamp = now.timestamp();
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                webhook_signature(secret, &id, timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .map_err(|error| SendError::Retry(format!("webhook: {}", error.without_url())))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SendError::Retry(format!(
                "webhook answered {}",
                response.status()
            )))
        }
    }
}

/// A school's webhook secret as it is shown once: `whsec_` + base64.
pub fn show_secret(secret: &[u8]) -> String {
    format!("whsec_{}", BASE64.encode(secret))
}

/// `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body` (Standard Webhooks).
pub fn webhook_signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `List-Unsubscribe`: where to stop or change messages. It points at the preferences page,
/// where a change needs a click (mail scanners open links; nothing changes on GET).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

pub fn spawn(
    platform: Arc<Platform>,
    sender: Arc<Sender>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            match round(&platform, &sender).await {
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "delivery round failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    })
}

struct Claimed {
    delivery_id: Uuid,
    key: String,
    channel: String,
    attempts: i32,
    message: serde_json::Value,
    email: Option<String>,
    name: Option<String>,
    /// The school's webhook now, for a webhook delivery.
    webhook_url: Option<String>,
    webhook_secret: Option<Vec<u8>>,
    /// Why a reminder's subject is closed (done, agreed, cancelled…), if it is.
    closed: Option<String>,
    /// When a reminder stops making sense (its day is over).
    stale_at: Option<DateTime<Utc>>,
}

/// One round: claim, send, record. Returns how many were claimed.
pub async fn round(platform: &Platform, sender: &Sender) -> Result<usize, sqlx::Error> {
    let now = platform.clock.now();
    let lease = chrono::Duration::milliseconds(
        i64::try_from(sender.settings.delivery.lease_ms).unwrap_or(i64::MAX),
    );
    let send_timeout = Duration::from_millis(sender.settings.delivery.send_timeout_ms);
    let claim = Uuid::new_v4();
    let mut tx = platform.pool.begin().await?;
    let claimed = sqlx::query!(
        "SELECT d.delivery_id, d.key, d.channel, d.attempts, d.message, c.email, c.display_name AS \"name?\", \
           s.webhook_url AS \"webhook_url?\", s.webhook_secret AS \"webhook_secret?\", \
           cs.reason AS \"closed?\", (d.message->>'stale_at')::timestamptz AS \"stale_at?\" \
         FROM notifications.deliveries d \
         LEFT JOIN notifications.contacts c ON c.trust_id = d.trust_id AND c.staff_id = d.recipient_id \
         LEFT JOIN notifications.schools s ON d.channel = 'webhook' AND s.trust_id = d.trust_id \
           AND s.school_id = (CASE WHEN d.channel = 'webhook' THEN (d.message->>'school')::uuid END) \
         LEFT JOIN notifications.closed_subjects cs ON cs.trust_id = d.trust_id \
           AND cs.subject_id = (d.message->>'about')::uuid \
         WHERE (d.state = 'queued' AND d.next_attempt_at <= $1) OR (d.state = 'sending' AND d.lease_until < $1) \
         ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
        now,
        BATCH
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| Claimed {
        delivery_id: row.delivery_id,
        key: row.key,
        channel: row.channel,
        attempts: row.attempts,
        message: row.message,
        email: row.email,
        name: row.name,
        webhook_url: row.webhook_url,
        webhook_secret: row.webhook_secret,
        closed: row.closed,
        stale_at: row.stale_at,
    })
    .collect::<Vec<_>>();
    if claimed.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = claimed.iter().map(|c| c.delivery_id).collect();
    sqlx::query!(
        "UPDATE notifications.deliveries SET state = 'sending', lease_until = $2, claim = $3 WHERE delivery_id = ANY($1)",
        &ids,
        now + lease,
        claim
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    for delivery in &claimed {
        // The lease runs from now: the sends before this one took time. A delivery whose
        // lease ran out meanwhile may have been taken by another worker; it is theirs.
        let renewed = sqlx::query!(
            "UPDATE notifications.deliveries SET lease_until = $3 \
             WHERE delivery_id = $1 AND claim = $2 AND state = 'sending'",
            delivery.delivery_id,
            claim,
            platform.clock.now() + lease
        )
        .execute(&platform.pool)
        .await?
        .rows_affected()
            == 1;
        if !renewed {
            tracing::info!(key = %delivery.key, "delivery taken over by another worker");
            continue;
        }
        // A reminder that could not go before its subject was closed, or before its day was
        // over, is not sent late.
        let now = platform.clock.now();
        let stale = delivery
            .closed
            .as_ref()
            .map(|why| format!("dropped: {why} before it could be sent"))
            .or_else(|| {
                delivery
                    .stale_at
                    .filter(|at| *at <= now)
                    .map(|_| "dropped: its day was over before it could be sent".to_owned())
            });
        if let Some(reason) = stale {
            tracing::info!(key = %delivery.key, %reason, "stale delivery dropped");
            metrics::counter!("waymark_deliveries_dropped_total", "channel" => delivery.channel.clone()).increment(1);
            sqlx::query!(
                "UPDATE notifications.deliveries SET state = 'dropped', last_error = $3, lease_until = NULL \
                 WHERE delivery_id = $1 AND claim = $2 AND state = 'sending'",
                delivery.delivery_id,
                claim,
                reason,
            )
            .execute(&platform.pool)
            .await?;
            continue;
        }
        // A message addressed when it was queued (an invitation, to someone who is not a
        // contact yet) goes there; anything else to the recipient's contact.
        let addressed = delivery.message.get("to").and_then(|to| {
            let field = |name: &str| to.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            Some((field("name").unwrap_or_default(), field("email")?))
        });
        let to = addressed.or_else(|| {
            delivery
                .email
                .clone()
                .map(|email| (delivery.name.clone().unwrap_or_default(), email))
        });
        let outcome = tokio::time::timeout(
            send_timeout,
            sender.send(delivery, to, platform.clock.now()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(SendError::Retry(format!(
                "no answer within {} ms",
                send_timeout.as_millis()
            )))
        });
        let now = platform.clock.now();
        let recorded = match outcome {
            Ok(()) => {
                metrics::counter!("waymark_deliveries_sent_total", "channel" => delivery.channel.clone()).increment(1);
                sqlx::query!(
                    "UPDATE notifications.deliveries SET state = 'sent', sent_at = $2, attempts = attempts + 1, \
                     last_error = NULL, lease_until = NULL WHERE delivery_id = $1 AND claim = $3 AND state = 'sending'",
                    delivery.delivery_id,
                    now,
                    claim
                )
                .execute(&platform.pool)
                .await?
            }
            Err(SendError::Retry(error)) => {
                let attempts = delivery.attempts + 1;
                let parked = attempts >= sender.settings.delivery.max_attempts;
                let next = retry_at(now, sender.settings.delivery.retry_base_ms, attempts);
                tracing::warn!(key = %delivery.key, attempts, parked, %error, "delivery failed");
                if parked {
                    metrics::counter!("waymark_deliveries_parked_total", "channel" => delivery.channel.clone()).increment(1);
                }
                metrics::counter!("waymark_deliveries_failed_total", "channel" => delivery.channel.clone()).increment(1);
                sqlx::query!(
                    "UPDATE notifications.deliveries SET state = $2, attempts = $3, last_error = $4, next_attempt_at = $5, \
                     lease_until = NULL WHERE delivery_id = $1 AND claim = $6 AND state = 'sending'",
                    delivery.delivery_id,
                    if parked { "parked" } else { "queued" },
                    attempts,
                    error,
                    next,
                    claim
                )
                .execute(&platform.pool)
                .await?
            }
        };
        if recorded.rows_affected() == 0 {
            // Cannot happen while sends stay shorter than the lease; said loudly if it does.
            tracing::error!(key = %delivery.key, "a delivery's lease was lost before its outcome was recorded");
        }
    }
    Ok(claimed.len())
}

/// Doubling delays from `base_ms`, capped at six hours.
fn retry_at(now: DateTime<Utc>, base_ms: u64, attempts: i32) -> DateTime<Utc> {
    let factor = 1u64 << attempts.clamp(1, 16).saturating_sub(1);
    let delay = base_ms.saturating_mul(factor).min(6 * 3600 * 1000);
    now + chrono::Duration::milliseconds(i64::try_from(delay).unwrap_or(i64::MAX))
}
