//! The action-tracking service: every agreed action followed to done, with a tamper-evident
//! audit trail.
//!
//! - Commands (gRPC `waymark.action_tracking.v1`, and agreements arriving as events) run the
//!   pure `Action` decider and append to the `action` streams.
//! - The `actions` projection keeps the read models and each trust's hash chain; the
//!   `records` projection chains review dialogue's review, meeting and visit events into
//!   each trust's second chain.
//! - The `agreements` consumer reads review dialogue's events: where actions come from, the
//!   actions agreed, and outcomes agreed for earlier actions. The `occurrences` consumer
//!   reads scheduling's: the planned occurrences an action can be agreed at.
//! - Every command is first put to the authorization policies (`access`), with the action
//!   as projected and the service's own copy of the directory.
//! - Files attached as evidence of impact are kept in the object store (`evidence`).
//! - When `audit.signing_key` is set, each trust's chain is signed and anchored outside the
//!   database on an interval (`anchors`); every chain is verified on another (`verification`).

pub mod access;
mod agreements;
pub mod anchors;
pub mod chain;
mod commands;
mod evidence;
mod flow;
mod grpc;
mod occurrences;
mod projection;
mod records;
mod trail;
pub mod verification;

use std::sync::Arc;
use std::time::Duration;
use waymark_proto::personal_data::v1::personal_data_server::PersonalDataServer;
use waymark_runtime::personal_data::{Part, PersonalDataService};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use waymark_proto::action_tracking::v1::action_tracking_server::ActionTrackingServer;
use waymark_runtime::Platform;
use waymark_runtime::evidence::{EvidenceFiles, EvidenceService};

pub const NAME: &str = "action-tracking";

/// How long a command waits for the read models to show it before replying.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// Which file is on which action (`waymark_runtime::evidence`).
pub const EVIDENCE_TABLE: &str = "action_tracking.evidence_files";

/// Where the service's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "action_tracking._sqlx_migrations";

/// The service's migrations.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("action_tracking");
    migrator.dangerous_set_table_name(SCHEMA_HISTORY);
    migrator
}

/// Creates or upgrades the service's schema.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    migrator().run(pool).await
}

/// The service's copy of the directory.
const DIRECTORY: waymark_runtime::directory::DirectoryCopy =
    waymark_runtime::directory::DirectoryCopy {
        name: "action_tracking.directory",
        table: access::DIRECTORY_TABLE,
    };

/// The projections `waymark projections rebuild` can build again from the store.
pub fn projections() -> Vec<Box<dyn waymark_bus::Rebuild>> {
    vec![Box::new(projection::ReadModel), Box::new(DIRECTORY)]
}

/// Runs the service on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    platform.ready_schema(migrator(), SCHEMA_HISTORY).await?;
    let (actions, projection) =
        platform.spawn_projection(Arc::new(projection::Actions), shutdown.clone());
    let (_, record_chain) =
        platform.spawn_projection(Arc::new(records::RecordChain), shutdown.clone());
    let (_, directory) = platform.spawn_projection(Arc::new(DIRECTORY), shutdown.clone());
    let anchors = anchors::Anchors::from_config(&platform.config, platform.clock.clone())?;
    let anchoring = match &anchors {
        Some(anchors) => tokio::spawn(anchors.clone().run(
            platform.pool.clone(),
            platform.store.clone(),
            shutdown.clone(),
        )),
        None => {
            tracing::warn!("audit anchors are off: audit.signing_key is not set");
            tokio::spawn(async {})
        }
    };
    let verifying = tokio::spawn(verification::run(
        platform.clone(),
        anchors.clone(),
        std::time::Duration::from_secs(
            anchors::AuditSettings::from_config(&platform.config)?.verify_interval_s,
        ),
        shutdown.clone(),
    ));
    let commands = commands::Commands::new(platform.clone(), actions);
    let agreements = platform.spawn_consumer(
        Arc::new(agreements::Agreements {
            commands: commands.without_waiting(),
        }),
        shutdown.clone(),
    );
    let occurrences = platform.spawn_consumer(Arc::new(occurrences::Occurrences), shutdown.clone());
    let files = EvidenceFiles::open(&platform.config, NAME, EVIDENCE_TABLE)?;
    let sweeper = files.clone().spawn_sweeper(
        platform.pool.clone(),
        platform.clock.clone(),
        shutdown.clone(),
    );
    let policies = Arc::new(waymark_policy::Policies::load()?);
    let service_access = waymark_runtime::access::Access::new(
        platform.pool.clone(),
        access::DIRECTORY_TABLE,
        policies.clone(),
    );
    let evidence = evidence::Actions {
        commands: commands.clone(),
        policies: policies.clone(),
        access: service_access.clone(),
    };
    let routes = tonic::service::Routes::new(ActionTrackingServer::with_interceptor(
        grpc::ActionTrackingService::new(commands, policies, anchors),
        platform.authenticate(),
    ))
    .add_service(InterceptedService::new(
        EvidenceService::server(evidence, files),
        platform.authenticate(),
    ))
    .add_service(PersonalDataServer::with_interceptor(
        PersonalDataService {
            service: NAME,
            pool: platform.pool.clone(),
            access: service_access,
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
    projection.await?;
    record_chain.await?;
    directory.await?;
    agreements.await?;
    occurrences.await?;
    anchoring.await?;
    verifying.await?;
    sweeper.await?;
    Ok(())
}

/// What action tracking holds about a person, for a subject-access export.
pub const PERSONAL_DATA: &[Part] = &[
    Part {
        name: "actions",
        sql: "SELECT * FROM action_tracking.actions \
              WHERE trust_id = $1 AND (owner_id = $2 OR $2 = ANY(supporter_ids) OR agreed_by = $2) \
              ORDER BY due_date, action_id",
    },
    Part {
        name: "notes_written",
        sql: "SELECT * FROM action_tracking.action_notes WHERE trust_id = $1 AND author_id = $2 \
              ORDER BY recorded_at",
    },
    Part {
        name: "files_uploaded",
        sql: "SELECT attachment_id, record_kind, record_id, file_name, media_type, size_bytes, attached_at, removed_at \
              FROM action_tracking.evidence_files WHERE trust_id = $1 AND uploaded_by = $2 ORDER BY attached_at",
    },
];
