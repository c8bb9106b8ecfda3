//! The schema migrations of each backend, embedded in the binary so a gateway
//! never runs against a schema older than its code.
//!
//! Pending migrations are applied once, in one transaction with the rows that
//! record them in `schema_migrations`; versions only ever grow. A database that
//! already holds a version this binary does not know was migrated by a newer
//! gateway, and opening it is refused rather than guessed at.

pub(super) struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub(super) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/postgres/0001_intake.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/postgres/0002_mvd.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/postgres/0003_registry.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/postgres/0004_delivery.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/postgres/0005_queue_order.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/postgres/0006_audit.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("migrations/postgres/0008_audit_chain.sql"),
    },
];

pub(super) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/sqlite/0001_intake.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/sqlite/0002_mvd.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/sqlite/0003_registry.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/sqlite/0004_delivery.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/sqlite/0005_queue_order.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/sqlite/0006_audit.sql"),
    },
];

/// The schema version a database has once every migration in `all` is applied.
pub(super) fn newest(all: &[Migration]) -> i64 {
    all.iter().map(|m| m.version).max().unwrap_or(0)
}

/// `Ok` when the applied version is exactly the newest this binary knows.
pub(super) fn check_current(all: &[Migration], applied: i64) -> Result<(), super::StoreError> {
    let newest = newest(all);
    if applied == newest {
        Ok(())
    } else {
        Err(super::StoreError::Migration(format!(
            "the database has schema version {applied}, this gateway expects {newest}"
        )))
    }
}

/// Chooses the migrations still to apply, given the versions already applied.
pub(super) fn pending<'a>(
    all: &'a [Migration],
    applied: &[i64],
) -> Result<Vec<&'a Migration>, super::StoreError> {
    let newest_known = newest(all);
    if let Some(unknown) = applied.iter().find(|v| **v > newest_known) {
        return Err(super::StoreError::Migration(format!(
            "the database has schema version {unknown}, newer than this gateway knows ({newest_known})"
        )));
    }
    Ok(all
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_in_versions_is_filled_later_and_the_newest_is_what_counts() {
        let all = [
            Migration {
                version: 1,
                sql: "",
            },
            Migration {
                version: 2,
                sql: "",
            },
            Migration {
                version: 4,
                sql: "",
            },
        ];
        let versions = |m: Vec<&Migration>| m.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(pending(&all, &[]).unwrap()), [1, 2, 4]);
        // A database migrated before version 3 existed gets it when it comes.
        let later = [
            Migration {
                version: 1,
                sql: "",
            },
            Migration {
                version: 2,
                sql: "",
            },
            Migration {
                version: 3,
                sql: "",
            },
            Migration {
                version: 4,
                sql: "",
            },
        ];
        assert_eq!(versions(pending(&later, &[1, 2, 4]).unwrap()), [3]);
        assert!(check_current(&all, 4).is_ok());
        assert!(check_current(&all, 2).is_err());
        assert!(pending(&all, &[5]).is_err());
    }
}
