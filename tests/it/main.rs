//! The one integration-test binary: each module is an area of the gateway.

mod app;
mod fixtures;
mod intake;
mod mvd;
mod mvd_drain;
mod store_conformance;
mod store_mvd;
mod support;
