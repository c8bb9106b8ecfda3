//! The pure core: the application and its parts as validated types, the IIN,
//! the lifecycle and the regulation's deadlines. Nothing here does I/O or
//! reads the clock; "now" is always a parameter.

/// The application and its parts, validated; what the store keeps as JSON.
pub mod application;
/// ISO 3166-1 alpha-3 country codes and ICAO's no-nationality codes.
pub mod country;
/// Working-time deadlines from the regulation's norms.
pub mod deadline;
/// `InvalidValue`, the domain layer's one error.
pub mod error;
/// Message, sender, operator and application identifiers.
pub mod ids;
/// The IIN, its check digit and its agreement with a person's data.
pub mod iin;
/// Which documents are required, and accept or refuse at intake.
pub mod intake;
/// The states of an application and the legal moves between them.
pub mod lifecycle;
/// Latin and Cyrillic names, and a name with either spelling.
pub mod name;
/// The MVD's result and what it means: certificate or notice.
pub mod result;
/// Length and character rules and serde glue shared by the text newtypes.
mod text;
