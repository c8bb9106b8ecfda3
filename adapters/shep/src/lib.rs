//! ШЭП (the e-government service bus) envelopes.

pub mod c14n;
pub mod error;
pub mod signature;
pub mod tree;
