//! The gateway's settings, section `[web]`:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `web.session_idle_minutes` | a session ends after this long unused | 30 |
//! | `web.session_absolute_hours` | and this long after sign-in, whatever | 12 |
//! | `web.max_sign_in_failures` | failed sign-ins for one e-mail address from one client in 15 minutes before that pair pauses (from other clients the address is only slowed) | 5 |
//! | `web.max_sign_in_failures_per_client` | failed sign-ins from one client, whatever the addresses, in 15 minutes before it pauses (raise it when a school's staff share one public address) | 30 |
//! | `web.client_address_header` | the header a trusted reverse proxy puts the client's address in (e.g. `x-real-ip`); empty: the connection's address | empty |
//!
//! The public address (for links, cookies and the Origin check) is `gateway.url`.

use serde::Deserialize;
use waymark_runtime::Config;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Web {
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub max_sign_in_failures: i32,
    pub max_sign_in_failures_per_client: i32,
    pub client_address_header: String,
}

impl Default for Web {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            max_sign_in_failures: 5,
            max_sign_in_failures_per_client: 30,
            client_address_header: String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub web: Web,
    /// `https://waymark.example.org`, no trailing slash.
    pub public_url: String,
}

impl Settings {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let web: Web = config.section("web")?;
        anyhow::ensure!(
            web.session_idle_minutes > 0 && web.session_absolute_hours > 0,
            "session lengths must be positive"
        );
        Ok(Self {
            web,
            public_url: config.gateway.url.trim_end_matches('/').to_owned(),
        })
    }

    /// The origin (scheme, host, port) browsers send in `Origin`.
    pub fn origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map_or(0, |i| i + 3);
        match self.public_url[after_scheme..].find('/') {
            Some(slash) => &self.public_url[..after_scheme + slash],
            None => &self.public_url,
        }
    }
}
