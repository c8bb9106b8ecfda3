//! The HTTP front door: a thin layer that reads requests, calls the service
//! and writes its answers. No business rule lives here.

mod body;
mod response;
mod routes;
mod server;

pub use server::{Server, serve};
