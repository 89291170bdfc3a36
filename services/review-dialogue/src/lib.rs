//! The review-dialogue service: progress reviews held by the nearest line manager with the
//! teacher, progress (CAP) meetings after each assessment point, and monitoring visits — all
//! as dialogues, none graded.
//!
//! Commands arrive over gRPC (`waymark.review_dialogue.v1`), run through the pure deciders of
//! `waymark_domain::review_dialogue`, and append to the `review`, `meeting`, `visit` and
//! `catalogue` streams. A projection keeps the `review_dialogue` read models; queries read
//! those. Meetings and visits ask action tracking (gRPC) for the open actions they start from;
//! agreed actions and outcomes go to action tracking as events.

mod access;
mod access_log;
mod actions;
mod audits;
mod convert;
mod evidence;
mod grpc;
mod personal_data;
mod priorities;
mod projection;
mod runner;
mod search;

use std::sync::Arc;
use std::time::Duration;
use waymark_runtime::retention::{self, RetentionSettings};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use waymark_proto::personal_data::v1::personal_data_server::PersonalDataServer;
use waymark_proto::review_dialogue::v1::priorities_server::PrioritiesServer;
use waymark_proto::review_dialogue::v1::review_dialogue_server::ReviewDialogueServer;
use waymark_proto::review_dialogue::v1::self_evaluation_server::SelfEvaluationServer;
use waymark_runtime::Platform;
use waymark_runtime::evidence::{EvidenceFiles, EvidenceService};

pub const NAME: &str = "review-dialogue";

/// How long a command waits for its own projection before replying, so a client that reads
/// right after writing sees its write.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// The service's copy of the directory (line managers for reviews).
pub const DIRECTORY_TABLE: &str = "review_dialogue.directories";

/// Which file is on which record (`waymark_runtime::evidence`).
pub const EVIDENCE_TABLE: &str = "review_dialogue.evidence_files";

/// Where the service's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "review_dialogue._sqlx_migrations";

/// The service's migrations.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("review_dialogue");
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
        name: "review_dialogue.directory",
        table: DIRECTORY_TABLE,
    };

/// The projections `waymark projections rebuild` can build again from the store.
pub fn projections() -> Vec<Box<dyn waymark_bus::Rebuild>> {
    vec![Box::new(projection::Records), Box::new(DIRECTORY)]
}

/// Runs the service on `listener` until `shutdown`.
pub async fn run(
    platform: Arc<Platform>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    platform.ready_schema(migrator(), SCHEMA_HISTORY).await?;
    let actions = actions::Actions::new(platform.clone())?;
    let (records, projection) =
        platform.spawn_projection(Arc::new(projection::Records), shutdown.clone());
    let (_, directory) = platform.spawn_projection(Arc::new(DIRECTORY), shutdown.clone());
    let files = EvidenceFiles::open(&platform.config, NAME, EVIDENCE_TABLE)?;
    let sweeper = files.clone().spawn_sweeper(
        platform.pool.clone(),
        platform.clock.clone(),
        shutdown.clone(),
    );
    let policies = Arc::new(waymark_policy::Policies::load()?);
    let runner = runner::Runner {
        platform: platform.clone(),
        records,
        access: waymark_runtime::access::Access::new(
            platform.pool.clone(),
            DIRECTORY_TABLE,
            policies.clone(),
        ),
    };
    let keep = RetentionSettings::from_config(&platform.config).map_err(anyhow::Error::msg)?;
    let retention = retention::spawn(
        platform.pool.clone(),
        platform.clock.clone(),
        RETENTION_RUNS,
        retention_rules(&keep),
        keep.interval_s,
        shutdown.clone(),
    );
    let routes = tonic::service::Routes::new(ReviewDialogueServer::with_interceptor(
        grpc::ReviewDialogueService::new(runner.clone(), actions.clone(), policies.clone()),
        platform.authenticate(),
    ))
    .add_service(SelfEvaluationServer::with_interceptor(
        audits::SelfEvaluationService::new(runner.clone()),
        platform.authenticate(),
    ))
    .add_service(PersonalDataServer::with_interceptor(
        personal_data::Exports {
            data: waymark_runtime::personal_data::PersonalDataService {
                service: NAME,
                pool: platform.pool.clone(),
                access: runner.access.clone(),
                parts: personal_data::PARTS,
            },
            clock: platform.clock.clone(),
        },
        platform.authenticate(),
    ))
    .add_service(PrioritiesServer::with_interceptor(
        priorities::PrioritiesService::new(runner.clone(), actions, policies.clone()),
        platform.authenticate(),
    ))
    .add_service(InterceptedService::new(
        EvidenceService::server(
            evidence::Records {
                runner,
                policies: policies.clone(),
            },
            files,
        ),
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
    directory.await?;
    sweeper.await?;
    retention.await?;
    Ok(())
}

/// What the retention job reports into.
pub const RETENTION_RUNS: &str = "review_dialogue.retention_runs";

/// The access log, by `retention.access_log_days`.
pub fn retention_rules(keep: &RetentionSettings) -> Vec<retention::Rule> {
    vec![retention::Rule {
        name: "access_log",
        table: "review_dialogue.access_log",
        age: "at",
        only: "true",
        days: keep.access_log_days,
    }]
}
