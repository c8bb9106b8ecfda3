//! The one integration-test binary: each module is an area of the gateway.

/// Runs each named `async fn case(backend: Backend)` of the calling module
/// once on PostgreSQL and once on SQLite, as `postgres::case` and
/// `sqlite::case`. Defined before the modules so that all of them see it.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crate::support::Backend::Postgres).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crate::support::Backend::Sqlite).await;
                }
            )*
        }
    };
}

mod app;
mod audit;
mod cli;
mod delivery;
mod fixtures;
mod intake;
mod mvd;
mod mvd_drain;
mod operations;
mod outage;
mod personal_data;
mod record;
mod registry;
mod registry_bulk_load;
mod shep;
mod shep_async;
mod store_audit;
mod store_conformance;
mod store_mvd;
mod support;
mod tls;
