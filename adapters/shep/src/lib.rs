//! ШЭП (the e-government service bus) envelopes: SOAP 1.1 SyncChannel and
//! AsyncChannel v10, and XMLDSig verification of the business document they
//! carry.
//!
//! Like `gateway-xml`, this crate knows bytes and its own structs only:
//! [`sync_channel::read_request`] and [`async_channel::read_request`] turn a
//! posted envelope into string-typed structs (or a [`ShepError`] with a
//! stable code), the `render_*` functions and [`fault::render`] write the
//! answers. The service wires them: read, hand `data` to the intake or MVD
//! path unchanged, render. Nothing here reads the clock or stores anything.

pub mod async_channel;
pub mod c14n;
pub mod envelope;
pub mod error;
pub mod fault;
mod fields;
pub mod signature;
pub mod sync_channel;
pub mod tree;

pub use envelope::{Limits, RawXml};
pub use error::{ShepError, codes};
pub use fault::{ErrorInfo, FaultCode, Operation, ShepFault};
pub use fields::Sender;
pub use signature::{SignaturePolicy, Signer, Verification};
