//! The notice templates tab (设置 → 短信模板, issue #15): the texts sent to applicants at each
//! step and to staff when a light turns yellow or red. The city edits them (they are part of the
//! settings network document and reach every node by sync); other stations read them.
//!
//! Each kind has a draft the user types into, loaded from the node's templates; a draft left
//! untouched follows the node when the templates change (after a save or a sync), a draft being
//! edited is kept. Saving or restoring the default becomes a [`NetworkEdit::SetTemplate`]
//! command; the node checks the placeholders and its refusal shows under the form.

use super::Cx;
use super::command::{Command, NetworkEdit};
use eframe::egui;
use std::collections::BTreeMap;
use yizhan_node::notice::{NoticeKind, PLACEHOLDERS, Templates};

/// The tab's state.
#[derive(Debug, Default)]
pub struct TemplatesPanel {
    /// What the user is typing, per kind.
    drafts: BTreeMap<NoticeKind, String>,
    /// The node's text each draft was loaded from.
    loaded: BTreeMap<NoticeKind, String>,
    /// The answer to the last save: what was done, or why it was refused.
    result: Option<Result<String, String>>,
    /// A save went through: the drafts load again from the node's templates.
    reload: bool,
}

impl TemplatesPanel {
    /// Brings untouched drafts up to the node's templates.
    fn follow(&mut self, templates: &Templates) {
        for kind in NoticeKind::ALL {
            let now = templates.get(kind).to_string();
            let untouched = self.drafts.get(&kind) == self.loaded.get(&kind);
            if untouched && self.loaded.get(&kind) != Some(&now) {
                self.drafts.insert(kind, now.clone());
                self.loaded.insert(kind, now);
            }
        }
    }

    /// The node's answer to a template edit.
    pub fn done(&mut self, result: Result<String, String>) {
        // The saved text is the node's now: the drafts follow it from here on.
        self.reload = result.is_ok();
        self.result = Some(result);
    }

    /// Draws the tab; `city` says whether this station may edit.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        if std::mem::take(&mut self.reload) {
            self.drafts.clear();
            self.loaded.clear();
        }
        self.follow(&cx.info.templates);
        ui.weak(if city {
            t.templates_intro_city
        } else {
            t.templates_intro_other
        });
        ui.weak(format!(
            "{}{}",
            t.templates_placeholders,
            PLACEHOLDERS.join(" ")
        ));
        if let Some(r) = &self.result {
            match r {
                Ok(text) => ui.label(text),
                Err(e) => ui.colored_label(ui.visuals().error_fg_color, e),
            };
        }
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("templates")
            .show(ui, |ui| {
                for kind in NoticeKind::ALL {
                    self.row(ui, cx, city, kind);
                    ui.add_space(6.0);
                }
            });
    }

    fn row(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool, kind: NoticeKind) {
        let t = cx.t;
        let templates = &cx.info.templates;
        let current = templates.get(kind).to_string();
        let label = ui
            .horizontal(|ui| {
                let label = ui.strong(kind.label_zh());
                if templates.is_changed(kind) {
                    ui.weak(t.templates_changed);
                }
                label
            })
            .inner;
        let draft = self.drafts.entry(kind).or_insert_with(|| current.clone());
        ui.add_enabled(
            city,
            egui::TextEdit::multiline(draft)
                .desired_rows(2)
                .desired_width(f32::INFINITY)
                .id_salt(("template", kind.key())),
        )
        .labelled_by(label.id);
        if !city {
            return;
        }
        let draft = draft.clone();
        ui.horizontal(|ui| {
            let save = egui::Button::new(format!("{} {}", t.templates_save, kind.label_zh()));
            if ui
                .add_enabled(!cx.writing && draft != current, save)
                .clicked()
            {
                self.result = None;
                cx.commands
                    .push(Command::EditNetwork(NetworkEdit::SetTemplate {
                        kind,
                        text: Some(draft.clone()),
                    }));
            }
            let reset = egui::Button::new(format!("{} {}", t.templates_reset, kind.label_zh()));
            if ui
                .add_enabled(!cx.writing && templates.is_changed(kind), reset)
                .clicked()
            {
                self.result = None;
                cx.commands
                    .push(Command::EditNetwork(NetworkEdit::SetTemplate {
                        kind,
                        text: None,
                    }));
            }
        });
    }
}
