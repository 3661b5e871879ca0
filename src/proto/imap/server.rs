//! The IMAP server machine.
