//! The full-screen front end (ratatui + crossterm): a transcript pane, an input line, a status
//! bar, side panels and, with the embedded server in the same process, an inbox view. It drives
//! the same controller as the REPL and draws the same spans (colours from `render::theme`).

pub mod inbox;
