use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

/// Creates or upgrades the `bus` schema (checkpoints, processed events, dead letters).
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    let mut migrator: Migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("bus");
    migrator.dangerous_set_table_name("bus._sqlx_migrations");
    migrator.run(pool).await
}
