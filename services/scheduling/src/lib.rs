//! The scheduling service: school calendars, monitoring plans, the year's dated
//! occurrences, visit fairness, and the timers that send reminders.
//!
//! - gRPC (`waymark.scheduling.v1`) for calendars, plans, occurrences, visits and timers.
//! - The `records` projection keeps the read models; a calendar change moves pending timers.
//! - The `planner` consumer reads action tracking's and review dialogue's events and plans
//!   reminder timers; the `worker` fires them (any number of replicas, never twice).

mod checklists;
mod evidence;
mod grpc;
mod holding;
mod minutes;
pub mod planner;
mod projection;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;
use waymark_proto::personal_data::v1::personal_data_server::PersonalDataServer;
use waymark_runtime::personal_data::{Part, PersonalDataService};

use serde::Deserialize;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use waymark_domain::scheduling::reminders::ReminderSettings;
use waymark_domain::scheduling::schedule::VisitCaps;
use waymark_proto::scheduling::v1::scheduling_server::SchedulingServer;
use waymark_runtime::Platform;
use waymark_runtime::evidence::{EvidenceFiles, EvidenceService};

pub const NAME: &str = "scheduling";

/// The service's copy of the directory.
pub const DIRECTORY_TABLE: &str = "scheduling.directories";

/// Which file is on which occurrence (`waymark_runtime::evidence`).
pub const EVIDENCE_TABLE: &str = "scheduling.evidence_files";

const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// Scheduling's own settings: sections `[reminders]` (`days_before`, `hour`,
/// `escalate_after_working_days`, `nudge_after_working_days`) and `[visits]` (`per_day`,
/// `per_week`: the caps on visits for trusts that have not set their own), or
/// `WAYMARK_REMINDERS__HOUR` and so on.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub reminders: ReminderSettings,
    pub visits: VisitCaps,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RemindersSection {
    days_before: Option<Vec<u32>>,
    hour: Option<u32>,
    escalate_after_working_days: Option<u32>,
    nudge_after_working_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct VisitsSection {
    per_day: Option<u32>,
    per_week: Option<u32>,
}

impl Settings {
    pub fn from_config(config: &waymark_runtime::Config) -> anyhow::Result<Self> {
        let reminders: RemindersSection = config.section("reminders")?;
        let visits: VisitsSection = config.section("visits")?;
        let defaults = ReminderSettings::default();
        let caps = VisitCaps::default();
        let settings = Self {
            reminders: ReminderSettings {
                days_before: reminders.days_before.unwrap_or(defaults.days_before),
                hour: reminders.hour.unwrap_or(defaults.hour),
                escalate_after_working_days: reminders
                    .escalate_after_working_days
                    .unwrap_or(defaults.escalate_after_working_days),
                nudge_after_working_days: reminders
                    .nudge_after_working_days
                    .unwrap_or(defaults.nudge_after_working_days),
            },
            visits: VisitCaps {
                per_day: visits.per_day.unwrap_or(caps.per_day),
                per_week: visits.per_week.unwrap_or(caps.per_week),
            },
        };
        anyhow::ensure!(
            settings.reminders.hour < 24,
            "reminders.hour must be 0 to 23"
        );
        Ok(settings)
    }
}

/// Where the service's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "scheduling._sqlx_migrations";

/// The service's migrations.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("scheduling");
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
        name: "scheduling.directory",
        table: DIRECTORY_TABLE,
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
    let settings = Settings::from_config(&platform.config)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let planner = planner::Planner {
        settings: settings.reminders.clone(),
        clock: platform.clock.clone(),
        wake: wake.clone(),
    };
    let (records, projection) = platform.spawn_projection(
        Arc::new(projection::Records {
            planner: planner.clone(),
        }),
        shutdown.clone(),
    );
    let (_, directory) = platform.spawn_projection(Arc::new(DIRECTORY), shutdown.clone());
    let access = waymark_runtime::access::Access::new(
        platform.pool.clone(),
        DIRECTORY_TABLE,
        Arc::new(waymark_policy::Policies::load()?),
    );
    let files = EvidenceFiles::open(&platform.config, NAME, EVIDENCE_TABLE)?;
    let sweeper = files.clone().spawn_sweeper(
        platform.pool.clone(),
        platform.clock.clone(),
        shutdown.clone(),
    );
    let consumer = platform.spawn_consumer(Arc::new(planner), shutdown.clone());
    let holding = platform.spawn_consumer(
        Arc::new(holding::Holding {
            platform: platform.clone(),
        }),
        shutdown.clone(),
    );
    let timers = worker::spawn(
        platform.clone(),
        worker::WorkerOptions::default(),
        wake,
        shutdown.clone(),
    );
    let service = grpc::SchedulingService::new(platform.clone(), records, access, settings.visits);
    let routes = tonic::service::Routes::new(SchedulingServer::with_interceptor(
        service.clone(),
        platform.authenticate(),
    ))
    .add_service(PersonalDataServer::with_interceptor(
        PersonalDataService {
            service: NAME,
            pool: platform.pool.clone(),
            access: service.access.clone(),
            parts: PERSONAL_DATA,
        },
        platform.authenticate(),
    ))
    .add_service(InterceptedService::new(
        EvidenceService::server(evidence::Occurrences { service }, files),
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
    consumer.await?;
    holding.await?;
    timers.await?;
    sweeper.await?;
    Ok(())
}

/// What scheduling holds about a person, for a subject-access export.
pub const PERSONAL_DATA: &[Part] = &[
    Part {
        name: "occurrences",
        sql: "SELECT occurrence_id, school_id, kind, title, date, due, owner_id, participant_ids, status \
              FROM scheduling.occurrences WHERE trust_id = $1 AND (owner_id = $2 OR $2 = ANY(participant_ids)) \
              ORDER BY date",
    },
    Part {
        name: "visit_requests",
        sql: "SELECT * FROM scheduling.visit_requests WHERE trust_id = $1 AND teacher_id = $2",
    },
    Part {
        name: "checklist_lines_ticked",
        sql: "SELECT occurrence_id, checklist, line, ticked_at FROM scheduling.checklist_ticks \
              WHERE trust_id = $1 AND ticked_by = $2 ORDER BY ticked_at",
    },
    Part {
        // An occurrence's notes and attendance, where the person wrote them or attended.
        name: "notes_and_attendance",
        sql: "SELECT s.school_id, m.key AS occurrence_id, m.value AS minutes \
              FROM scheduling.schedules s, jsonb_each(s.doc -> 'minutes') m \
              WHERE s.trust_id = $1 AND jsonb_typeof(s.doc -> 'minutes') = 'object' \
                AND (m.value ->> 'by' = $2::text OR m.value -> 'attendees' ? $2::text) \
              ORDER BY m.key",
    },
    Part {
        name: "files_uploaded",
        sql: "SELECT attachment_id, record_kind, record_id, file_name, media_type, size_bytes, attached_at, removed_at \
              FROM scheduling.evidence_files WHERE trust_id = $1 AND uploaded_by = $2 ORDER BY attached_at",
    },
];
