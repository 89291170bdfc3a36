//! Typed, layered configuration: built-in defaults, then a TOML file, then environment
//! variables `WAYMARK_<SECTION>__<KEY>` (double underscore between levels), e.g.
//! `WAYMARK_DATABASE__URL`, `WAYMARK_NATS__URL`, `WAYMARK_AUTH__INTERNAL_KEY`.
//!
//! | section | keys | default |
//! |---|---|---|
//! | `database` | `url` (secret), `max_connections` | `postgres://postgres@127.0.0.1:5432/waymark`, 10 |
//! | `nats` | `url` (none = run without NATS, in-process feed), `stream`, `subject_prefix`; `user` and `password` (secret) or `nkey_seed` (secret) to sign in; `ca_file` (PEM) to require TLS and trust those authorities | none, `WAYMARK_EVENTS`, `waymark.events`; no sign-in, no TLS |
//! | `auth` | `internal_key` (secret, ≥ 32 characters, required), `token_ttl_seconds` (how long a caller token is good for: one request, allowing for clocks that differ) | none, 60 |
//! | `log` | `filter` (tracing directives), `format` (`text` or `json`) | `info`, `text` |
//! | `traces` | `otlp_endpoint` (an OTLP/gRPC collector, e.g. `http://collector:4317`; none: no traces), `service_name` | none, `waymark` |
//! | `grpc` | `cert_file` and `key_file` (PEM): the services serve only over TLS; `ca_file` (PEM): the authorities trusted when calling an `https://` service URL; `reflection`: offer gRPC reflection | plain text; off |
//! | `clock` | `start` (RFC 3339): the process's clock starts at that moment and runs at the real pace from there, for demonstrations and tests of separate processes; none: the system clock | none |
//! | `network` | `allow_loopback`: configured addresses (webhooks, identity providers) may be on this machine (tests, local trials; see [`crate::net`]) | false |
//! | `scheduling`, `review_dialogue`, `action_tracking`, `notifications`, `gateway` | `listen` (socket address), `url` (how others reach it) | 127.0.0.1:7101…7104, 8080 |
//!
//! Services read their own extra sections (SMTP, sign-in) from the same layers through
//! [`Config::section`].

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub traces: TracesConfig,
    pub network: NetworkConfig,
    pub grpc: GrpcConfig,
    pub clock: ClockConfig,
    pub scheduling: ServiceAddress,
    pub review_dialogue: ServiceAddress,
    pub action_tracking: ServiceAddress,
    pub notifications: ServiceAddress,
    pub gateway: ServiceAddress,
    #[serde(skip)]
    layers: Layers,
}

/// The layers the configuration came from, kept for services' own sections. Not printed:
/// they hold the secrets too.
#[derive(Clone, Default)]
struct Layers(Option<Figment>);

impl std::fmt::Debug for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Secret<String>,
    pub max_connections: u32,
    /// PostgreSQL's `statement_timeout` for the service's sessions; 0: none.
    pub statement_timeout_ms: u64,
    /// PostgreSQL's `idle_in_transaction_session_timeout` for the service's sessions; 0:
    /// none. A transaction that appended events and was left open holds every reader of the
    /// event store back, so an idle one is ended rather than waited for.
    pub idle_in_transaction_timeout_ms: u64,
    /// How long a request, feed or consumer waits for a connection of the pool (while the
    /// database is down, say) before it fails: a command then answers UNAVAILABLE.
    pub acquire_timeout_ms: u64,
    /// Whether a service migrates its schema when it starts; false where its role may not
    /// (it then checks the owner has). See [`crate::schema`].
    pub migrate: bool,
    /// The role the services run as, which `waymark migrate` (run as the owner) grants what
    /// they need; none: nothing is granted.
    pub service_role: Option<String>,
}

/// The services' own port ([`crate::grpc`]).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// This service's certificate chain and its private key (PEM). With them, the port
    /// (gRPC, health, metrics) speaks only TLS.
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
    /// The certificate authorities (PEM) a service's certificate must chain to when it is
    /// called at an `https://` URL.
    pub ca_file: Option<std::path::PathBuf>,
    /// Offer gRPC reflection (the services' and messages' descriptions) on the port.
    pub reflection: bool,
}

/// Where Waymark may call addresses someone configured ([`crate::net`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub allow_loopback: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Absent: every consumer reads the event store directly (one machine, no NATS).
    pub url: Option<String>,
    pub stream: Option<String>,
    pub subject_prefix: Option<String>,
    /// Copies JetStream keeps of each event (`num_replicas`); 1 when absent.
    pub replicas: Option<usize>,
    /// Days JetStream keeps events (PostgreSQL keeps them for good); 90 when absent.
    pub max_age_days: Option<u64>,
    /// Signing in with a user and password (`deploy/nats/auth.conf`).
    pub user: Option<String>,
    pub password: Option<Secret<String>>,
    /// Signing in with an nkey instead: the user's seed (`SU…`).
    pub nkey_seed: Option<Secret<String>>,
    /// The certificate authorities (a PEM file) to trust; when set, NATS is reached only
    /// over TLS.
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Signs the caller tokens services accept from each other. Shared by all services.
    pub internal_key: Option<Secret<String>>,
    pub token_ttl_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub filter: String,
    pub format: LogFormat,
}

/// Where the process's time comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// The moment the clock starts at, running at the real pace from there; none: the
    /// system clock.
    pub start: Option<chrono::DateTime<chrono::Utc>>,
}

/// Exporting traces ([`crate::telemetry`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracesConfig {
    /// An OpenTelemetry collector's OTLP/gRPC address; none: spans are not exported.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` the spans are exported under.
    pub service_name: String,
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "waymark".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAddress {
    /// Where the service listens.
    pub listen: SocketAddr,
    /// How other services and the gateway reach it.
    pub url: String,
}

impl ServiceAddress {
    fn local(port: u16) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("postgres://postgres@127.0.0.1:5432/waymark".to_owned()),
            max_connections: 10,
            statement_timeout_ms: 60_000,
            idle_in_transaction_timeout_ms: 15_000,
            acquire_timeout_ms: 10_000,
            migrate: true,
            service_role: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            internal_key: None,
            token_ttl_seconds: 60,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            auth: AuthConfig::default(),
            log: LogConfig::default(),
            traces: TracesConfig::default(),
            network: NetworkConfig::default(),
            grpc: GrpcConfig::default(),
            clock: ClockConfig::default(),
            scheduling: ServiceAddress::local(7101),
            review_dialogue: ServiceAddress::local(7102),
            action_tracking: ServiceAddress::local(7103),
            notifications: ServiceAddress::local(7104),
            gateway: ServiceAddress::local(8080),
            layers: Layers::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub(crate) String);

impl Config {
    /// Loads defaults, then `file` (if given), then `WAYMARK_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(file) = file
            && !file.exists()
        {
            return Err(ConfigError(format!(
                "no configuration file at {}",
                file.display()
            )));
        }
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("WAYMARK_").split("__"));
        Self::from_figment(figment)
    }

    /// Builds from layers already assembled (tests start from defaults and set values).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut config: Config = figment
            .extract()
            .map_err(|error| ConfigError(error.to_string()))?;
        config.layers = Layers(Some(figment));
        config.validate()?;
        Ok(config)
    }

    /// Defaults overridden by `(key, value)` pairs, e.g. `("database.url", "postgres://…")`.
    pub fn with(values: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        for (key, value) in values {
            // Parsed like environment variables: "3" is a number, "true" a boolean.
            let value: figment::value::Value = value.parse().unwrap_or_else(|never| match never {});
            figment = figment.merge(Serialized::default(key, value));
        }
        Self::from_figment(figment)
    }

    /// The four services' addresses, by their section names (the gateway's is its web
    /// address, not a gRPC port).
    pub fn services(&self) -> [(&'static str, &ServiceAddress); 4] {
        [
            ("scheduling", &self.scheduling),
            ("review_dialogue", &self.review_dialogue),
            ("action_tracking", &self.action_tracking),
            ("notifications", &self.notifications),
        ]
    }

    /// A service's own section, from the same layers.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        match &self.layers.0 {
            Some(figment) if figment.find_value(name).is_ok() => figment
                .extract_inner(name)
                .map_err(|error| ConfigError(error.to_string())),
            _ => Ok(T::default()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.auth.internal_key
            && key.expose().len() < 32
        {
            return Err(ConfigError(
                "auth.internal_key must be at least 32 characters".to_owned(),
            ));
        }
        if let Some(role) = &self.database.service_role
            && !crate::schema::is_role_name(role)
        {
            return Err(ConfigError(format!(
                "database.service_role `{role}` must be a plain lower-case role name"
            )));
        }
        let nats = &self.nats;
        if nats.user.is_some() != nats.password.is_some() {
            return Err(ConfigError(
                "nats.user and nats.password go together".to_owned(),
            ));
        }
        if nats.user.is_some() && nats.nkey_seed.is_some() {
            return Err(ConfigError(
                "sign in to NATS with nats.user and nats.password or with nats.nkey_seed, not both"
                    .to_owned(),
            ));
        }
        let grpc = &self.grpc;
        if grpc.cert_file.is_some() != grpc.key_file.is_some() {
            return Err(ConfigError(
                "grpc.cert_file and grpc.key_file go together".to_owned(),
            ));
        }
        // Every service's port speaks TLS or none does: they share one configuration.
        let scheme = if grpc.cert_file.is_some() {
            "https://"
        } else {
            "http://"
        };
        for (name, address) in self.services() {
            if !address.url.starts_with(scheme) {
                return Err(ConfigError(format!(
                    "{name}.url must start with {scheme} {}",
                    if grpc.cert_file.is_some() {
                        "when grpc.cert_file is set"
                    } else {
                        "unless grpc.cert_file and grpc.key_file are set"
                    }
                )));
            }
        }
        if grpc.cert_file.is_some() && grpc.ca_file.is_none() {
            return Err(ConfigError(
                "grpc.ca_file is needed to call the services over TLS".to_owned(),
            ));
        }
        // The event store's listener keeps one connection; every reader and call takes one
        // more at a time (tests/it/slice.rs runs every reader on two).
        if self.database.max_connections < 2 {
            return Err(ConfigError(
                "database.max_connections must be at least 2: the event listener keeps one"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_override_earlier_ones() {
        let config = Config::with(&[
            ("database.max_connections", "3"),
            ("nats.url", "nats://x:4222"),
        ])
        .unwrap();
        assert_eq!(config.database.max_connections, 3);
        assert_eq!(config.nats.url.as_deref(), Some("nats://x:4222"));
        assert_eq!(config.gateway.listen.port(), 8080);
    }

    #[test]
    fn a_short_key_is_refused_and_secrets_do_not_print() {
        assert!(Config::with(&[("auth.internal_key", "short")]).is_err());
        let key = "k".repeat(40);
        let config = Config::with(&[("auth.internal_key", &key)]).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains(&key));
        assert!(
            !printed.contains("postgres://postgres@"),
            "database url is a secret"
        );
    }

    #[test]
    fn nats_sign_in_is_a_user_with_a_password_or_an_nkey() {
        let seed = "SUANQDPB2RUOE4ETUA26CNX7FUKE5ZZKFCQIIW63OX225F2CO7UEXTM7ZY";
        assert!(Config::with(&[("nats.user", "waymark")]).is_err());
        assert!(Config::with(&[("nats.password", "p")]).is_err());
        assert!(
            Config::with(&[
                ("nats.user", "waymark"),
                ("nats.password", "p"),
                ("nats.nkey_seed", seed)
            ])
            .is_err()
        );
        let config = Config::with(&[("nats.user", "waymark"), ("nats.password", "p4ss")]).unwrap();
        assert!(
            !format!("{config:?}").contains("p4ss"),
            "the password is a secret"
        );
        let config = Config::with(&[("nats.nkey_seed", seed)]).unwrap();
        assert!(
            !format!("{config:?}").contains(seed),
            "the seed is a secret"
        );
    }

    #[test]
    fn grpc_tls_is_a_certificate_with_its_key_https_urls_and_an_authority() {
        let https = [
            ("scheduling.url", "https://scheduling:7101"),
            ("review_dialogue.url", "https://review-dialogue:7102"),
            ("action_tracking.url", "https://action-tracking:7103"),
            ("notifications.url", "https://notifications:7104"),
        ];
        let tls = [
            ("grpc.cert_file", "/tls/tls.crt"),
            ("grpc.key_file", "/tls/tls.key"),
            ("grpc.ca_file", "/tls/ca.crt"),
        ];
        let all = |drop: &str| -> Vec<(&str, &str)> {
            https
                .iter()
                .chain(&tls)
                .copied()
                .filter(|(key, _)| *key != drop)
                .collect()
        };
        assert!(Config::with(&all("")).is_ok());
        assert!(Config::with(&all("grpc.key_file")).is_err());
        assert!(Config::with(&all("grpc.ca_file")).is_err());
        let plain = Config::with(&all("notifications.url")).unwrap_err();
        assert!(plain.to_string().contains("notifications.url"), "{plain}");
        // https URLs without a certificate to serve them.
        assert!(Config::with(&https).is_err());
        assert!(Config::with(&[]).is_ok());
    }

    #[test]
    fn the_example_configuration_loads() {
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/waymark.example.toml");
        // The NATS password comes from the environment, as the file says.
        let config = Config::from_figment(
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::file(&example))
                .merge(Serialized::default("nats.password", "from-the-environment")),
        )
        .unwrap();
        assert_eq!(config.action_tracking.url, "http://action-tracking:7103");
        assert!(!config.grpc.reflection);
    }

    #[test]
    fn unknown_keys_in_a_section_are_errors() {
        assert!(Config::with(&[("database.ulr", "x")]).is_err());
    }
}
