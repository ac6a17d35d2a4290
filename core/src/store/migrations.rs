//! The schema migrations shipped in `core/migrations/`, applied by the SDK itself.
//!
//! One set of portable SQL files serves SQLite and Postgres. Each is applied once, in order, in
//! a transaction that holds a lock, so several app instances starting together apply it once.

use crate::error::{Error, ErrorKind, Result};

/// A migration: its version and SQL.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sql: include_str!("../../migrations/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "jobs",
        sql: include_str!("../../migrations/0002_jobs.sql"),
    },
    Migration {
        version: 3,
        name: "job_events",
        sql: include_str!("../../migrations/0003_job_events.sql"),
    },
    Migration {
        version: 4,
        name: "job_config",
        sql: include_str!("../../migrations/0004_job_config.sql"),
    },
    Migration {
        version: 5,
        name: "job_costs",
        sql: include_str!("../../migrations/0005_job_costs.sql"),
    },
    Migration {
        version: 6,
        name: "dataset_digests",
        sql: include_str!("../../migrations/0006_dataset_digests.sql"),
    },
    Migration {
        version: 7,
        name: "accounts",
        sql: include_str!("../../migrations/0007_accounts.sql"),
    },
    Migration {
        version: 8,
        name: "webhooks",
        sql: include_str!("../../migrations/0008_webhooks.sql"),
    },
    Migration {
        version: 9,
        name: "clusters",
        sql: include_str!("../../migrations/0009_clusters.sql"),
    },
    Migration {
        version: 10,
        name: "eval_loss",
        sql: include_str!("../../migrations/0010_eval_loss.sql"),
    },
];

pub(crate) const CREATE_TABLE: &str = "create table if not exists trainpod_schema_migrations (
    version bigint primary key, name text not null, applied_at bigint not null)";

pub(crate) const SELECT_APPLIED: &str =
    "select coalesce(max(version), 0) from trainpod_schema_migrations";

pub(crate) const INSERT_APPLIED: &str =
    "insert into trainpod_schema_migrations (version, name, applied_at) values ($1, $2, $3)";

/// The migrations still to apply after `applied`, or an error when the database is newer.
pub(crate) fn pending(applied: i64) -> Result<&'static [Migration]> {
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    if applied > latest {
        return Err(Error::new(
            ErrorKind::StoreSchema,
            format!(
                "the database schema is at version {applied} but this trainpod knows only up to {latest}; \
                 upgrade trainpod in every app instance that shares this database"
            ),
        ));
    }
    Ok(&MIGRATIONS[MIGRATIONS
        .iter()
        .take_while(|m| m.version <= applied)
        .count()..])
}

pub(crate) fn migration_error(m: &Migration, err: sqlx::Error) -> Error {
    Error::new(
        ErrorKind::StoreSchema,
        format!(
            "migration {} ({}) failed; the database was left at the previous version",
            m.version, m.name
        ),
    )
    .with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_pending_is_a_suffix() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(pending(0).map(|p| p.len()).ok(), Some(MIGRATIONS.len()));
        let latest = MIGRATIONS.last().map_or(0, |m| m.version);
        assert_eq!(pending(latest).map(|p| p.len()).ok(), Some(0));
        assert_eq!(
            pending(999).err().map(|e| e.kind()),
            Some(ErrorKind::StoreSchema)
        );
    }
}
