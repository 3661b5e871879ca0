//! The inbox view of `mailtalk demo --tui`: the messages the embedded server captured.

use std::sync::Arc;

/// The inbox view.
pub struct Inbox {
    shared: Arc<crate::serve::backend::Shared>,
}

impl Inbox {
    pub fn new(shared: Arc<crate::serve::backend::Shared>) -> Inbox {
        Inbox { shared }
    }

    pub fn refresh(&mut self) {}

    pub fn handle_key(&mut self, _key: crossterm::event::KeyEvent) -> bool {
        false
    }

    pub fn draw(
        &mut self,
        _frame: &mut ratatui::Frame,
        _area: ratatui::layout::Rect,
        _theme: &crate::render::Theme,
    ) {
    }

    pub fn len(&self) -> usize {
        self.shared.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
