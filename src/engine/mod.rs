//! The session engine: owns the transport and the protocol machine; every front end drives it.

pub mod event;
pub mod machine;
pub mod session;

pub use event::{Event, EventKind, Security};
pub use machine::InputMode;
pub use session::{Options, Session, SessionError, Sink};
