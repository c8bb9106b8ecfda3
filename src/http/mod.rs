//! The HTTP front door: a thin layer that reads requests, calls the service
//! and writes its answers. No business rule lives here.

pub mod access;
mod body;
mod limits;
mod response;
mod routes;
mod server;
pub mod tls;

pub use server::{ServeError, Server, serve};
