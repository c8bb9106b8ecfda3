//! The one integration-test binary: each module is an area of the gateway.

mod app;
mod fixtures;
mod intake;
mod mvd;
mod store_conformance;
mod store_mvd;
mod support;
