use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use sqlx::migrate::MigrateError;

/// Creates or upgrades the event store's schema. Each component keeps its migrations in its
/// own schema with its own history table, so services migrate independently.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    let mut migrator: Migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("event_store");
    migrator.dangerous_set_table_name("event_store._sqlx_migrations");
    migrator.run(pool).await
}
