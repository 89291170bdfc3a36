//! The notifications service: reminders and everything else worth telling someone, by
//! e-mail, in the app's inbox and by a school's chat webhook. Each notice and delivery is
//! recorded exactly once; sending is at least once, never lost, with duplicates carrying the
//! same Message-ID (a crash between the mail server's acceptance and our record of it).
//!
//! - `events`: a consumer of other services' events (reminders, actions, reviews, visits,
//!   calendars) that records notices and queues deliveries in its transaction.
//! - `delivery`: the worker that sends queued deliveries, retries with backoff and parks
//!   what keeps failing.
//! - `digest`: weekly (and daily) digests.
//! - gRPC `waymark.notifications.v1`: inbox, preferences, contacts, webhooks, delivery log.

/// The service's copy of the directory (who may invite whom).
pub const DIRECTORY_TABLE: &str = "notifications.directories";

mod agenda;
mod delivery;
mod digest;
mod events;
mod grpc;
mod notices;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;
use waymark_proto::personal_data::v1::personal_data_server::PersonalDataServer;
use waymark_runtime::personal_data::{Part, PersonalDataService};
use waymark_runtime::retention::{self, RetentionSettings};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use waymark_proto::notifications::v1::notifications_server::NotificationsServer;
use waymark_runtime::Platform;

pub const NAME: &str = "notifications";

/// Where the service's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "notifications._sqlx_migrations";

/// The service's migrations.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("notifications");
    migrator.dangerous_set_table_name(SCHEMA_HISTORY);
    migrator
}

/// Creates or upgrades the service's schema.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    migrator().run(pool).await
}

fn channel(platform: &Platform, url: &str) -> anyhow::Result<Channel> {
    Ok(waymark_runtime::grpc::endpoint(url, &platform.config.grpc)?.connect_lazy())
}

/// The service's copy of the directory.
const DIRECTORY: waymark_runtime::directory::DirectoryCopy =
    waymark_runtime::directory::DirectoryCopy {
        name: "notifications.directory",
        table: DIRECTORY_TABLE,
    };

/// The projections `waymark projections rebuild` can build again from the store.
pub fn projections() -> Vec<Box<dyn waymark_bus::Rebuild>> {
    vec![Box::new(DIRECTORY)]
}

/// Runs the service on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    platform.ready_schema(migrator(), SCHEMA_HISTORY).await?;
    // Two TLS providers may be compiled in; TLS connections (SMTP, webhooks) use ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = settings::Settings::from_config(&platform.config)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let review_dialogue = channel(&platform, &platform.config.review_dialogue.url)?;
    let wake_agenda = Arc::new(tokio::sync::Notify::new());
    let events = events::Events {
        platform: platform.clone(),
        wake: wake.clone(),
        agenda: wake_agenda.clone(),
    };
    let consumer = platform.spawn_consumer(Arc::new(events), shutdown.clone());
    let agenda = agenda::spawn(
        platform.clone(),
        review_dialogue.clone(),
        Duration::from_millis(settings.delivery.agenda_wait_ms),
        wake_agenda,
        wake.clone(),
        shutdown.clone(),
    );
    let (_, directory) = platform.spawn_projection(Arc::new(DIRECTORY), shutdown.clone());
    let sender = Arc::new(delivery::Sender::new(&settings)?);
    let deliveries = delivery::spawn(platform.clone(), sender, wake.clone(), shutdown.clone());
    let digests = Arc::new(digest::Digests {
        platform: platform.clone(),
        hour: settings.digest.hour,
        action_tracking: channel(&platform, &platform.config.action_tracking.url)?,
        review_dialogue,
        wake: wake.clone(),
    });
    let digester = digest::spawn(
        digests,
        Duration::from_millis(settings.digest.poll_ms.max(100)),
        shutdown.clone(),
    );
    let keep = RetentionSettings::from_config(&platform.config).map_err(anyhow::Error::msg)?;
    let retention = retention::spawn(
        platform.pool.clone(),
        platform.clock.clone(),
        RETENTION_RUNS,
        retention_rules(&keep),
        keep.interval_s,
        shutdown.clone(),
    );
    let policies = Arc::new(waymark_policy::Policies::load()?);
    let routes = tonic::service::Routes::new(NotificationsServer::with_interceptor(
        grpc::NotificationsService::new(platform.clone(), wake, policies.clone()),
        platform.authenticate(),
    ))
    .add_service(PersonalDataServer::with_interceptor(
        PersonalDataService {
            service: NAME,
            pool: platform.pool.clone(),
            access: waymark_runtime::access::Access::new(
                platform.pool.clone(),
                DIRECTORY_TABLE,
                policies,
            ),
            parts: PERSONAL_DATA,
        },
        platform.authenticate(),
    ));
    tracing::info!(service = NAME, address = %listener.local_addr()?, "listening");
    waymark_runtime::grpc::serve(
        listener,
        routes,
        waymark_proto::FILE_DESCRIPTOR_SET,
        &platform,
        shutdown.clone(),
    )
    .await?;
    shutdown.cancel();
    consumer.await?;
    agenda.await?;
    directory.await?;
    deliveries.await?;
    digester.await?;
    retention.await?;
    Ok(())
}

/// What the retention job reports into.
pub const RETENTION_RUNS: &str = "notifications.retention_runs";

/// Notices (not those still waiting for a digest) and the delivery log (sent or parked
/// deliveries only), by `retention.*`.
pub fn retention_rules(keep: &RetentionSettings) -> Vec<retention::Rule> {
    vec![
        retention::Rule {
            name: "notices",
            table: "notifications.notices",
            age: "created_at",
            only: "digest <> 'pending'",
            days: keep.notices_days,
        },
        retention::Rule {
            name: "deliveries",
            table: "notifications.deliveries",
            age: "coalesce(sent_at, created_at)",
            only: "state IN ('sent', 'parked')",
            days: keep.deliveries_days,
        },
    ]
}

/// What notifications holds about a person, for a subject-access export (webhook secrets
/// are the school's, not the person's, and are left out).
pub const PERSONAL_DATA: &[Part] = &[
    Part {
        name: "contact",
        sql: "SELECT * FROM notifications.contacts WHERE trust_id = $1 AND staff_id = $2",
    },
    Part {
        name: "preferences",
        sql: "SELECT * FROM notifications.preferences WHERE trust_id = $1 AND staff_id = $2",
    },
    Part {
        name: "notices",
        sql: "SELECT * FROM notifications.notices WHERE trust_id = $1 AND recipient_id = $2 \
              ORDER BY created_at",
    },
    Part {
        name: "reminders waiting for a meeting's agenda",
        sql: "SELECT notice, wanted_at FROM notifications.agenda_wanted \
              WHERE trust_id = $1 AND recipient_id = $2 ORDER BY wanted_at",
    },
    Part {
        name: "deliveries",
        sql: "SELECT delivery_id, channel, state, attempts, last_error, created_at, sent_at, message \
              FROM notifications.deliveries WHERE trust_id = $1 AND recipient_id = $2 ORDER BY created_at",
    },
];
