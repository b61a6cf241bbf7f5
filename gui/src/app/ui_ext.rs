//! What the screens add to [`egui::Ui`], for the calls they would otherwise spell out each time.

use eframe::egui;

/// An extension of [`egui::Ui`] (imported as `UiExt as _`).
pub(crate) trait UiExt {
    /// A button that can be clicked only while `enabled` (greyed out otherwise); whether it was
    /// clicked in this frame. The screens disable an action's button while its form is incomplete
    /// or a write is in flight, so that a click never sends what the node would refuse.
    fn enabled_button<'a>(&mut self, enabled: bool, label: impl egui::IntoAtoms<'a>) -> bool;

    /// A grid's header row: each column's title in bold, then the end of the row.
    fn header_row(&mut self, titles: &[&str]);
}

impl UiExt for egui::Ui {
    fn enabled_button<'a>(&mut self, enabled: bool, label: impl egui::IntoAtoms<'a>) -> bool {
        self.add_enabled(enabled, egui::Button::new(label))
            .clicked()
    }

    fn header_row(&mut self, titles: &[&str]) {
        for title in titles {
            self.strong(*title);
        }
        self.end_row();
    }
}

/// A one-line field of `width` points whose text is shown as dots: passwords and keys.
pub(crate) fn secret_edit(value: &mut String, width: f32) -> egui::TextEdit<'_> {
    egui::TextEdit::singleline(value)
        .password(true)
        .desired_width(width)
}

/// A striped table of one column per title: the header row, then what `rows` draws (each row
/// ended with `end_row`). `spacing` is the gap between columns and between rows.
pub(crate) fn table(
    ui: &mut egui::Ui,
    id: impl egui::AsIdSalt,
    spacing: [f32; 2],
    titles: &[&str],
    rows: impl FnOnce(&mut egui::Ui),
) {
    egui::Grid::new(id)
        .striped(true)
        .num_columns(titles.len())
        .spacing(spacing)
        .show(ui, |ui| {
            ui.header_row(titles);
            rows(ui);
        });
}
