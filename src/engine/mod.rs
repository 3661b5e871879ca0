//! The session engine: owns the transport and the protocol machine; every front end drives it.

pub mod event;
