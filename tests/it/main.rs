//! The one integration-test binary: each module is an area of the gateway.

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
mod shep;
mod shep_async;
mod store_audit;
mod store_conformance;
mod store_mvd;
mod support;
mod tls;
