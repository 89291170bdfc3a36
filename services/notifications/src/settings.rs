//! Notifications' own settings, from the same configuration layers:
//!
//! | section / key | meaning | default |
//! |---|---|---|
//! | `smtp.mode` | `smtp` to send; `log` to only log messages (development, explicit only) | none: email deliveries park with "SMTP is not configured" |
//! | `smtp.host`, `smtp.port` | the relay | port 587 |
//! | `smtp.tls` | `starttls`, `tls` or `none` | `starttls` |
//! | `smtp.username`, `smtp.password` (secret) | credentials, if the relay wants them | none |
//! | `smtp.from` | the sender address | `Waymark <no-reply@localhost>` |
//! | `delivery.max_attempts` | failed sends before a delivery is parked for an admin | 6 |
//! | `delivery.retry_base_ms` | the first retry's delay; it doubles each time | 30000 |
//! | `delivery.send_timeout_ms` | longest one send may take before it counts as failed | 120000 |
//! | `delivery.lease_ms` | how long a worker holds a delivery it is about to send; more than `send_timeout_ms` | 300000 |
//! | `delivery.agenda_wait_ms` | how long a meeting's day-before reminder waits for review dialogue to list the previous meeting's actions before it goes without them | 120000 |
//! | `digest.hour` | local hour digests go out (weekly ones on Mondays) | 7 |
//! | `digest.poll_ms` | how often to look for digests that are due | 60000 |

use serde::Deserialize;
use waymark_runtime::{Config, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpMode {
    #[default]
    Off,
    Smtp,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Smtp {
    pub mode: SmtpMode,
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret<String>>,
    pub from: String,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            mode: SmtpMode::Off,
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "Waymark <no-reply@localhost>".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    pub max_attempts: i32,
    pub retry_base_ms: u64,
    pub send_timeout_ms: u64,
    pub lease_ms: u64,
    pub agenda_wait_ms: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            retry_base_ms: 30_000,
            send_timeout_ms: 120_000,
            lease_ms: 300_000,
            agenda_wait_ms: 120_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Digest {
    pub hour: u32,
    /// How often to look for digests that are due.
    pub poll_ms: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Self {
            hour: 7,
            poll_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub smtp: Smtp,
    pub delivery: Delivery,
    pub digest: Digest,
    /// Where links in messages point: the gateway's public address.
    pub public_url: String,
    /// Webhooks may be on this machine (`network.allow_loopback`).
    pub allow_loopback: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let settings = Self {
            smtp: config.section("smtp")?,
            delivery: config.section("delivery")?,
            digest: config.section("digest")?,
            allow_loopback: config.network.allow_loopback,
            public_url: config.gateway.url.trim_end_matches('/').to_owned(),
        };
        if settings.smtp.mode == SmtpMode::Smtp {
            anyhow::ensure!(
                !settings.smtp.host.is_empty(),
                "smtp.host is required when smtp.mode is smtp"
            );
        }
        anyhow::ensure!(settings.digest.hour < 24, "digest.hour must be 0 to 23");
        anyhow::ensure!(
            settings.delivery.max_attempts >= 1,
            "delivery.max_attempts must be at least 1"
        );
        // A lease that could run out mid-send would let a second worker send it too.
        anyhow::ensure!(
            settings.delivery.lease_ms > settings.delivery.send_timeout_ms,
            "delivery.lease_ms must be longer than delivery.send_timeout_ms"
        );
        // Past its day the reminder would be pointless.
        anyhow::ensure!(
            settings.delivery.agenda_wait_ms <= 6 * 3_600_000,
            "delivery.agenda_wait_ms must be at most six hours"
        );
        Ok(settings)
    }
}
