//! The pure core: the application and its parts as validated types, the IIN,
//! the lifecycle and the regulation's deadlines. Nothing here does I/O or
//! reads the clock; "now" is always a parameter.

pub mod lifecycle;
