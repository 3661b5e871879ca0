//! The pop3 server machine.
