//! Who may change the database's shape. Migrations run as the role that owns the schemas;
//! in production the services run as another role (`database.service_role`) that reads and
//! writes rows but owns nothing, so it cannot alter the event store, switch off its
//! append-only trigger, truncate it, or rewrite the audit chain:
//!
//! - `database.migrate` (default true): a service brings its schema up to date when it
//!   starts. Set it false where the service's role may not: the service then only checks
//!   that the owner has migrated (`waymark migrate`), and refuses to start otherwise.
//! - `waymark migrate`, run as the owner with `database.service_role` set, grants that role
//!   exactly what the services need ([`grant`]).

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

/// Every schema Waymark keeps, in the order they are migrated.
pub const SCHEMAS: [&str; 7] = [
    "event_store",
    "bus",
    "scheduling",
    "notifications",
    "review_dialogue",
    "action_tracking",
    "gateway",
];

/// Tables that are only ever appended to: the service role may read and add rows, never
/// change or remove one.
pub const APPEND_ONLY: [&str; 3] = [
    "event_store.events",
    "action_tracking.audit_chain",
    "action_tracking.record_chain",
];

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(
        "the {history} history is at migration {found}, this build needs {needed}: run `waymark migrate` as the schemas' owner (database.migrate is false)"
    )]
    Behind {
        history: String,
        found: i64,
        needed: i64,
    },
    #[error(
        "cannot read the {history} history ({source}): run `waymark migrate` as the schemas' owner (database.migrate is false)"
    )]
    Unreadable {
        history: String,
        source: sqlx::Error,
    },
}

/// Migrates (`migrate`) or checks that `migrator`'s migrations are all applied, as recorded
/// in `history` (the component's `…._sqlx_migrations` table).
pub async fn ready(
    pool: &PgPool,
    migrate: bool,
    migrator: Migrator,
    history: &str,
) -> Result<(), SchemaError> {
    if migrate {
        return Ok(migrator.run(pool).await?);
    }
    let needed = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT max(version) FROM {history} WHERE success"
    )))
    .fetch_one(pool)
    .await
    .map_err(|source| SchemaError::Unreadable {
        history: history.to_owned(),
        source,
    })?;
    let found = found.unwrap_or(0);
    if found < needed {
        return Err(SchemaError::Behind {
            history: history.to_owned(),
            found,
            needed,
        });
    }
    Ok(())
}

/// Whether `role` is a plain PostgreSQL identifier (what `database.service_role` may be).
pub fn is_role_name(role: &str) -> bool {
    let mut chars = role.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && role.len() <= 63
}

/// Grants `role` what the services need on every schema — rows to read and write, sequences
/// to use — except changing or removing rows of the append-only tables. Nothing else: the
/// role owns no table, so it cannot alter, drop or truncate one, nor switch off a trigger.
pub async fn grant(pool: &PgPool, role: &str) -> Result<(), sqlx::Error> {
    if !is_role_name(role) {
        return Err(sqlx::Error::Protocol(format!(
            "database.service_role `{role}` is not a plain role name"
        )));
    }
    let mut tx = pool.begin().await?;
    let mut statements = Vec::new();
    for schema in SCHEMAS {
        statements.push(format!("GRANT USAGE ON SCHEMA {schema} TO {role}"));
        statements.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
        ));
        statements.push(format!(
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"
        ));
    }
    for table in APPEND_ONLY {
        statements.push(format!(
            "REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}"
        ));
    }
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_role_names_are_granted_to() {
        assert!(is_role_name("waymark_app"));
        assert!(!is_role_name("waymark; DROP TABLE x"));
        assert!(!is_role_name("Waymark"));
        assert!(!is_role_name(""));
    }
}
