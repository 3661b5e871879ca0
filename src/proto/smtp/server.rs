//! The smtp server machine.
