//! Fresh storage for every phase: a PostgreSQL database created for it and
//! dropped afterwards, or a temporary directory for a SQLite file.
//!
//! `serve` cannot be told a schema (`StoreOptions.schema` is only set by
//! tests), so each PostgreSQL phase gets its own database instead.

use std::path::PathBuf;

use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

/// Refuses a PostgreSQL URL that points anywhere but this machine.
pub fn check_loopback(url: &str) -> Result<(), String> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("bad --database URL: {e}"))?;
    for host in config.get_hosts() {
        match host {
            Host::Tcp(name) if matches!(name.as_str(), "127.0.0.1" | "localhost" | "::1") => {}
            Host::Unix(_) => {}
            Host::Tcp(name) => {
                return Err(format!(
                    "--database must point to this machine (127.0.0.1), not {name}"
                ));
            }
        }
    }
    Ok(())
}

/// The URL with its database name replaced.
pub fn with_database(url: &str, name: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "postgres" | "postgresql"))
        .ok_or("--database must be a postgres:// URL")?;
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// A database made for one phase; [`ScratchDb::drop_now`] removes it.
pub struct ScratchDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchDb {
    /// Creates database `name` through the server `admin_url` points to.
    pub async fn create(admin_url: &str, name: &str) -> Result<ScratchDb, String> {
        let url = with_database(admin_url, name)?;
        let admin = admin(admin_url).await?;
        // Two statements: CREATE DATABASE cannot run inside a transaction
        // block, which a multi-statement query is.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&sql)
                .await
                .map_err(|e| format!("cannot create database {name}: {}", pg_text(&e)))?;
        }
        Ok(ScratchDb {
            admin_url: admin_url.to_owned(),
            name: name.to_owned(),
            url,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn drop_now(self) -> Result<(), String> {
        let admin = admin(&self.admin_url).await?;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .map_err(|e| format!("cannot drop database {}: {}", self.name, pg_text(&e)))
    }
}

async fn admin(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// A driver error with the server's message, which `Display` leaves out.
pub fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// A temporary directory removed by [`ScratchDir::remove`] (or on drop).
pub struct ScratchDir {
    pub path: PathBuf,
}

impl ScratchDir {
    pub fn create(name: &str) -> Result<ScratchDir, String> {
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u@localhost?sslmode=disable", "x").unwrap(),
            "postgresql://u@localhost/x?sslmode=disable"
        );
        assert!(with_database("sqlite:x.db", "x").is_err());
    }

    #[test]
    fn only_loopback_servers() {
        assert!(check_loopback("postgres://postgres@127.0.0.1:5432/test").is_ok());
        assert!(check_loopback("postgres://postgres@db.example:5432/test").is_err());
    }
}
