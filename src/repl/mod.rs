//! REPL.
