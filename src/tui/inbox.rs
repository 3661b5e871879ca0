//! The inbox view of `mailtalk demo --tui`: the messages the embedded server captured.
