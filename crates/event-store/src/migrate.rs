use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use sqlx::migrate::MigrateError;

/// Where the event store's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "event_store._sqlx_migrations";

/// The event store's migrations. Each component keeps its migrations in its own schema with
/// its own history table, so services migrate independently.
pub fn migrator() -> Migrator {
    let mut migrator: Migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("event_store");
    migrator.dangerous_set_table_name(SCHEMA_HISTORY);
    migrator
}

/// Creates or upgrades the event store's schema.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    migrator().run(pool).await
}
