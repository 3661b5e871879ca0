//! The session engine: owns the byte stream and the protocol machine; every front end drives
//! it through the controller.

pub mod event;
#[cfg(test)]
pub mod mock;
pub mod probe;
pub mod session;

pub use event::{DeliveryReport, Event, EventKind, ExpectReport, Progress, Security, Sink};
pub use session::{Options, Session, SessionError};
