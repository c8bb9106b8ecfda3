//! The one integration-test binary: each module is an area of the gateway.

mod app;
mod cli;
mod fixtures;
mod intake;
mod operations;
mod outage;
mod registry;
mod store_conformance;
mod support;
