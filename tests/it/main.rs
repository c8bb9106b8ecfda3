//! The one integration-test binary: each module is an area of the gateway.

mod store_conformance;
mod support;
