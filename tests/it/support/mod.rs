//! What integration tests share: a fresh, empty store per test on either
//! backend, and a look at its tables behind the trait's back.

pub mod personal_data;
pub mod pg_cluster;
pub mod pki;

use std::sync::Arc;

use iin_gateway::storage::{self, Store, StoreOptions};
use tempfile::TempDir;

/// The PostgreSQL server tests run against.
pub fn pg_url() -> String {
    std::env::var("IIN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database of its own for one test: a new schema on PostgreSQL (dropped
/// when the test ends), a new file in a temporary directory on SQLite.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub backend: Backend,
    url: String,
    options: StoreOptions,
    schema: Option<String>,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// Opens a fresh store. A PostgreSQL server that cannot be reached fails
    /// the test: a skipped backend would look like a passing one.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Postgres => {
                let url = pg_url();
                let schema = format!("t_{:016x}", getrandom::u64().expect("random schema name"));
                pg_execute(&url, &format!("CREATE SCHEMA {schema}")).await;
                let options = StoreOptions {
                    schema: Some(schema.clone()),
                    ..StoreOptions::default()
                };
                let store = storage::open(&url, &options)
                    .await
                    .expect("open the PostgreSQL store");
                TestDb {
                    store,
                    backend,
                    url,
                    options,
                    schema: Some(schema),
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                // A directory that does not exist yet: opening creates it.
                let path = dir.path().join("data").join("gateway.db");
                let url = format!("sqlite:{}", path.display());
                let options = StoreOptions::default();
                let store = storage::open(&url, &options)
                    .await
                    .expect("open the SQLite store");
                TestDb {
                    store,
                    backend,
                    url,
                    options,
                    schema: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// Opens the same database again, as a restarted gateway would.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        storage::open(&self.url, &self.options)
            .await
            .expect("reopen the store")
    }

    /// Number of rows in a table, read directly from the database.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match self.backend {
            Backend::Postgres => self
                .pg_session()
                .await
                .query_one(&sql, &[])
                .await
                .expect("count rows")
                .get(0),
            Backend::Sqlite => {
                let path = self
                    .url
                    .strip_prefix("sqlite:")
                    .expect("sqlite URL")
                    .to_owned();
                tokio::task::spawn_blocking(move || {
                    rusqlite::Connection::open(path)
                        .and_then(|conn| conn.query_row(&sql, [], |row| row.get(0)))
                        .expect("count rows")
                })
                .await
                .expect("count task")
            }
        }
    }

    /// A PostgreSQL session of its own on the test's schema, for statements
    /// the store does not make (an open transaction, say).
    pub async fn pg_session(&self) -> tokio_postgres::Client {
        assert_eq!(self.backend, Backend::Postgres, "a PostgreSQL test");
        let client = pg_client(&self.url).await;
        let schema = self
            .schema
            .as_deref()
            .expect("a PostgreSQL test has a schema");
        client
            .batch_execute(&format!("SET search_path = {schema}"))
            .await
            .expect("set search_path");
        client
    }

    /// Runs SQL directly against the test's database, behind the store's back
    /// (to simulate an operator's or an attacker's edit).
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Postgres => self
                .pg_session()
                .await
                .batch_execute(sql)
                .await
                .expect("execute"),
            Backend::Sqlite => {
                let path = self
                    .url
                    .strip_prefix("sqlite:")
                    .expect("sqlite URL")
                    .to_owned();
                let sql = sql.to_owned();
                tokio::task::spawn_blocking(move || {
                    rusqlite::Connection::open(path)
                        .and_then(|conn| conn.execute_batch(&sql))
                        .expect("execute")
                })
                .await
                .expect("execute task")
            }
        }
    }

    /// The database URL, as `--database` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema of a PostgreSQL test.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

impl Drop for TestDb {
    /// Drops the test's schema, best effort. It runs on a thread of its own
    /// with its own runtime because `drop` cannot await, and it runs when a
    /// test panics too.
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        let url = self.url.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A plain connection to the test server, outside any store.
pub async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {url} is unreachable ({e}); start it or set IIN_TEST_PG_URL")
        });
    tokio::spawn(connection);
    client
}

async fn pg_execute(url: &str, sql: &str) {
    pg_client(url)
        .await
        .batch_execute(sql)
        .await
        .expect("run SQL on the test server");
}

/// Waits until some session waits for a lock held by PostgreSQL backend
/// `holder`, failing if `task` ends first (`what` says what should have
/// waited).
pub async fn wait_until_blocked_by<T>(holder: i32, task: &tokio::task::JoinHandle<T>, what: &str) {
    let watcher = pg_client(&pg_url()).await;
    loop {
        assert!(!task.is_finished(), "{what}");
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                &[&holder],
            )
            .await
            .expect("read pg_stat_activity")
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
}
