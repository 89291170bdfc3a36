use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

/// Where the bus's applied migrations are recorded.
pub const SCHEMA_HISTORY: &str = "bus._sqlx_migrations";

/// The `bus` schema's migrations (checkpoints, processed events, dead letters).
pub fn migrator() -> Migrator {
    let mut migrator: Migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("bus");
    migrator.dangerous_set_table_name(SCHEMA_HISTORY);
    migrator
}

/// Creates or upgrades the `bus` schema.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    migrator().run(pool).await
}
