//! The catalog part of the settings: import from a file, and items added, changed, retired or
//! deleted one at a time (city only; other tiers see the same forms read-only).
//!
//! The form is checked as the clerk types with the catalog's own rules
//! ([`Catalog::check_item`], the same check an import makes on each row), and every problem is
//! shown in words naming the field. A save becomes a [`Command::EditNetwork`]; the node checks
//! the item again before it writes, and its answer comes back through [`CatalogEditor::done`].
//!
//! What happens to the cases of an item, as a clerk would expect it:
//! - Changing an item changes new cases only: a case keeps a copy of the item as it was at its
//!   intake (rules, materials, departments), so cases already taken in go on as they started.
//! - An item's code is what cases, lists and statistics refer to, so it is fixed once the item
//!   exists; a different code is a new item.
//! - Retiring (停用) stops new cases for an item but keeps it in the catalog, so that its cases
//!   keep its name in lists, filters and statistics; it can be brought back.
//! - Deleting is for an item no case uses (one added by mistake); while cases use it the button
//!   is disabled with the reason, and the node refuses it anyway.

use super::i18n::Tr;
use super::task::Task;
use super::widgets::{error_line, field, outcome_line};
use super::{Command, Cx, NetworkEdit, StationInfo};
use crate::app::ui_ext::UiExt as _;
use eframe::egui;
use yizhan_node::catalog::{CaseKind, Catalog, MAX_LEGAL_DAYS, RowError, RowProblem, ServiceItem};
use yizhan_node::station::Tier;

/// What the form edits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// An item of the catalog, by code.
    Existing(String),
    /// A new item, not yet saved.
    New,
}

/// The form's fields as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemForm {
    code: String,
    name: String,
    kind: CaseKind,
    tier: Tier,
    legal: String,
    promised: String,
    /// One material per line.
    materials: String,
    /// One department per line.
    departments: String,
    conditions: String,
}

impl Default for ItemForm {
    fn default() -> ItemForm {
        ItemForm {
            code: String::new(),
            name: String::new(),
            kind: CaseKind::Promised,
            tier: Tier::Township,
            legal: String::new(),
            promised: String::new(),
            materials: String::new(),
            departments: String::new(),
            conditions: String::new(),
        }
    }
}

/// The non-empty, trimmed lines of a text field.
fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl ItemForm {
    fn from_item(i: &ServiceItem) -> ItemForm {
        ItemForm {
            code: i.code.clone(),
            name: i.name.clone(),
            kind: i.kind,
            tier: i.tier,
            legal: i.legal_days.to_string(),
            promised: i.promised_days.to_string(),
            materials: i.materials.join("\n"),
            departments: i.departments.join("\n"),
            conditions: i.conditions.clone(),
        }
    }

    /// The item the form describes and every problem with it, worded for the window. `new_in`
    /// is the catalog a new item's code must not be in yet.
    fn check(&self, t: &Tr, retired: bool, new_in: Option<&Catalog>) -> (ServiceItem, Vec<String>) {
        let legal = self.legal.trim().parse::<u32>().ok();
        let promised = self.promised.trim().parse::<u32>().ok();
        // A day count that does not parse is reported once, as such; the placeholders below
        // keep the rules that compare it with other fields from reporting it again.
        let item = ServiceItem {
            code: self.code.trim().to_string(),
            name: self.name.trim().to_string(),
            kind: self.kind,
            legal_days: legal.unwrap_or(MAX_LEGAL_DAYS),
            promised_days: promised.unwrap_or(match self.kind {
                CaseKind::Promised => 1,
                CaseKind::Instant | CaseKind::Consult => 0,
            }),
            materials: lines(&self.materials),
            tier: self.tier,
            departments: lines(&self.departments),
            conditions: self.conditions.trim().to_string(),
            retired,
        };
        let mut problems = Vec::new();
        for (field, parsed) in [("legal_days", legal), ("promised_days", promised)] {
            if parsed.is_none() {
                problems.push(format!(
                    "{}{}{}",
                    t.catalog_field(field),
                    t.doc_sep,
                    t.days_invalid
                ));
            }
        }
        for e in Catalog::check_item(&item) {
            let unparsed = (legal.is_none()
                && (e.field == "legal_days"
                    || matches!(e.problem, RowProblem::PromisedOverLegal { .. })))
                || (promised.is_none() && e.field == "promised_days");
            if !unparsed {
                problems.push(t.row_error(&e));
            }
        }
        if let Some(catalog) = new_in
            && !item.code.is_empty()
            && catalog.get(&item.code).is_some()
        {
            problems.push(t.row_error(&RowError {
                row: 1,
                field: "code".into(),
                problem: RowProblem::AlreadyInCatalog(item.code.clone()),
            }));
        }
        (item, problems)
    }
}

/// The catalog editor.
#[derive(Debug, Default)]
pub struct CatalogEditor {
    filter: String,
    target: Option<Target>,
    form: ItemForm,
    /// The item the form was last loaded from (to reload it when it changes underneath an
    /// untouched form, after a save or a sync).
    loaded: Option<ServiceItem>,
    /// The node's answer to the last edit: what was done, or why it was refused.
    result: Option<Result<String, String>>,
    /// An item just added, which the station's view may not show yet (it is being reloaded).
    added: Option<String>,
    confirm_delete: bool,
    /// How many cases of this store use the chosen item: (code, data version, count).
    uses: Option<(String, u64, u64)>,
    uses_task: Task<u64>,
    uses_asked: Option<(String, u64)>,
    catalog_path: String,
    /// The catalog import in flight: the number of items imported, or why the file was refused.
    import: Task<Result<usize, String>>,
    import_result: Option<Result<usize, String>>,
}

impl CatalogEditor {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.import.busy() || self.uses_task.busy()
    }

    /// Chooses an item (one several departments approve, when there is one) so that the form
    /// shows with something in it; used when the window opens on this tab.
    pub fn preselect(&mut self, info: &StationInfo) {
        let item = info
            .catalog
            .items()
            .find(|i| i.departments.len() > 1)
            .or_else(|| info.catalog.items().next());
        if let Some(item) = item {
            self.choose(Target::Existing(item.code.clone()), Some(item));
        }
    }

    fn choose(&mut self, target: Target, item: Option<&ServiceItem>) {
        self.form = item.map(ItemForm::from_item).unwrap_or_default();
        self.loaded = item.cloned();
        self.target = Some(target);
        self.result = None;
        self.confirm_delete = false;
    }

    /// Takes the store thread's answers.
    pub fn poll(&mut self, cx: &mut Cx<'_>) {
        let t = cx.t;
        if let Some((_, r)) = self.import.poll() {
            self.import_result = Some(r.unwrap_or_else(|e| Err(t.node_error(&e))));
            cx.commands.push(Command::Refresh);
        }
        if let Some((_, r)) = self.uses_task.poll()
            && let Some((code, version)) = self.uses_asked.take()
        {
            // A count that cannot be read leaves delete disabled; the node checks anyway.
            if let Ok(n) = r {
                self.uses = Some((code, version, n));
            }
        }
    }

    /// The node's answer to an edit of the catalog.
    pub fn done(&mut self, edit: &NetworkEdit, result: Result<String, String>) {
        if result.is_ok() {
            match edit {
                NetworkEdit::AddItem(item) => {
                    self.target = Some(Target::Existing(item.code.clone()));
                    self.loaded = Some(item.clone());
                    self.added = Some(item.code.clone());
                }
                NetworkEdit::RemoveItem(_) => {
                    self.target = None;
                    self.loaded = None;
                }
                _ => {}
            }
        }
        self.confirm_delete = false;
        self.uses = None;
        self.result = Some(result);
    }

    /// Draws the editor.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        self.follow_catalog(cx.info);
        self.import_row(ui, cx, city);
        ui.separator();
        super::widgets::side_list("settings-catalog-items", 290.0, 220.0)
            .show(ui, |ui| self.item_list(ui, cx, city));
        super::widgets::scrolling_form(ui, "catalog-form", |ui| self.form_ui(ui, cx, city));
    }

    /// Reloads an untouched form when its item changed underneath (after a save, or a sync),
    /// and lets go of an item that is gone.
    fn follow_catalog(&mut self, info: &StationInfo) {
        let Some(Target::Existing(code)) = &self.target else {
            return;
        };
        if self.added.as_ref() == Some(code) && info.catalog.get(code).is_some() {
            self.added = None;
        }
        match info.catalog.get(code) {
            // Added a moment ago: the station's view of the catalog is still being reloaded.
            None if self.added.as_ref() == Some(code) => {}
            None => {
                self.target = None;
                self.loaded = None;
            }
            Some(current) if self.loaded.as_ref() != Some(current) => {
                let untouched = self
                    .loaded
                    .as_ref()
                    .is_none_or(|l| self.form == ItemForm::from_item(l));
                if untouched || self.form == ItemForm::from_item(current) {
                    self.form = ItemForm::from_item(current);
                    self.loaded = Some(current.clone());
                }
            }
            Some(_) => {}
        }
    }

    fn import_row(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        ui.add_enabled_ui(city && !self.import.busy(), |ui| {
            ui.horizontal_wrapped(|ui| {
                field(ui, t.catalog_file, &mut self.catalog_path, 300.0)
                    .on_hover_text(t.catalog_file_hint);
                if ui
                    .add_enabled(
                        !self.catalog_path.trim().is_empty(),
                        egui::Button::new(t.catalog_import),
                    )
                    .on_hover_text(t.catalog_file_hint)
                    .clicked()
                {
                    let path = std::path::PathBuf::from(self.catalog_path.trim());
                    self.import_result = None;
                    self.import.start(
                        0,
                        cx.handle.submit(move |n| match Catalog::read_file(&path) {
                            Ok(c) => {
                                n.import_catalog(&c)?;
                                Ok(Ok(c.len()))
                            }
                            Err(e) => {
                                Ok(Err(format!("{}: {}", path.display(), t.catalog_error(&e))))
                            }
                        }),
                    );
                }
                if self.import.busy() {
                    ui.spinner();
                }
            });
        });
        outcome_line(ui, self.import_result.as_ref(), |n| {
            format!("{} {n} {}", t.catalog_imported, t.items)
        });
    }

    fn item_list(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        ui.horizontal(|ui| {
            ui.strong(format!(
                "{} ({} {})",
                t.catalog,
                cx.info.catalog.len(),
                t.items
            ));
            if ui.enabled_button(city, t.item_new) {
                self.choose(Target::New, None);
            }
        });
        ui.horizontal(|ui| {
            field(ui, t.item_filter, &mut self.filter, 160.0).on_hover_text(t.item_filter_hint);
        });
        ui.separator();
        let mut chosen = None;
        egui::ScrollArea::vertical()
            .id_salt("catalog-item-list")
            .show(ui, |ui| {
                for item in cx.info.catalog.search(&self.filter) {
                    let selected = self.target == Some(Target::Existing(item.code.clone()));
                    let mut text = format!("{} {}", item.code, item.name);
                    if item.retired {
                        text.push_str(t.retired_tag);
                    }
                    let text = if item.retired {
                        egui::RichText::new(text).weak()
                    } else {
                        egui::RichText::new(text)
                    };
                    if ui.selectable_label(selected, text).clicked() {
                        chosen = Some(item.clone());
                    }
                }
            });
        if let Some(item) = chosen {
            self.choose(Target::Existing(item.code.clone()), Some(&item));
        }
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        let Some(target) = self.target.clone() else {
            ui.label(t.item_choose);
            outcome_line(ui, self.result.as_ref(), String::clone);
            return;
        };
        let current = match &target {
            Target::Existing(code) => cx.info.catalog.get(code).cloned().or_else(|| {
                self.loaded
                    .clone()
                    .filter(|_| self.added.as_ref() == Some(code))
            }),
            Target::New => None,
        };
        match &current {
            Some(item) => {
                ui.heading(format!("{} {}", t.item_editing, item.code));
                if item.retired {
                    ui.colored_label(ui.visuals().warn_fg_color, t.retired_note);
                }
            }
            None => {
                ui.heading(t.item_adding);
            }
        }
        if !city {
            ui.weak(t.city_only_edit);
        }
        let retired = current.as_ref().is_some_and(|i| i.retired);
        let new_in = current.is_none().then_some(&cx.info.catalog);
        let (draft, problems) = self.form.check(t, retired, new_in);
        ui.add_enabled_ui(city, |ui| self.fields(ui, t, current.is_none()));
        ui.add_space(4.0);
        for p in &problems {
            error_line(ui, p);
        }
        ui.add(egui::Label::new(egui::RichText::new(t.item_rules_hint).weak()).wrap());
        let changed = current.as_ref() != Some(&draft);
        ui.add_enabled_ui(city && !cx.writing, |ui| {
            ui.horizontal_wrapped(|ui| {
                if ui.enabled_button(problems.is_empty() && changed, t.save_item) {
                    self.result = None;
                    cx.commands.push(Command::EditNetwork(if current.is_some() {
                        NetworkEdit::UpdateItem(draft.clone())
                    } else {
                        NetworkEdit::AddItem(draft.clone())
                    }));
                }
                if ui.enabled_button(changed, t.discard) {
                    self.form = current
                        .as_ref()
                        .map(ItemForm::from_item)
                        .unwrap_or_default();
                }
            });
            if let Some(item) = &current {
                ui.separator();
                self.retire_and_delete(ui, cx, item);
            }
        });
        outcome_line(ui, self.result.as_ref(), String::clone);
    }

    fn fields(&mut self, ui: &mut egui::Ui, t: &Tr, new: bool) {
        let f = &mut self.form;
        egui::Grid::new("catalog-item-form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                if new {
                    field(ui, t.item_code, &mut f.code, 160.0).on_hover_text(t.item_code_hint);
                } else {
                    ui.label(t.item_code);
                    ui.strong(&f.code);
                }
                ui.end_row();
                field(ui, t.item_name, &mut f.name, 300.0);
                ui.end_row();
                ui.label(t.item_kind);
                ui.horizontal_wrapped(|ui| {
                    for kind in [CaseKind::Instant, CaseKind::Promised, CaseKind::Consult] {
                        ui.radio_value(&mut f.kind, kind, t.kind(kind.as_str()));
                    }
                });
                ui.end_row();
                ui.label(t.item_tier);
                ui.horizontal_wrapped(|ui| {
                    for tier in [Tier::Village, Tier::Township, Tier::City] {
                        ui.radio_value(&mut f.tier, tier, t.tier(tier));
                    }
                });
                ui.end_row();
                field(ui, t.item_legal, &mut f.legal, 60.0);
                ui.end_row();
                field(ui, t.item_promised, &mut f.promised, 60.0)
                    .on_hover_text(t.item_promised_hint);
                ui.end_row();
                multiline(ui, t.item_materials, &mut f.materials, 4);
                ui.end_row();
                multiline(ui, t.item_departments, &mut f.departments, 2);
                ui.end_row();
                multiline(ui, t.item_conditions, &mut f.conditions, 2);
                ui.end_row();
            });
    }

    fn retire_and_delete(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, item: &ServiceItem) {
        let t = cx.t;
        // How many cases of this store use the item, read again whenever the data moves.
        let fresh = self
            .uses
            .as_ref()
            .filter(|(code, version, _)| *code == item.code && *version == cx.version)
            .map(|(_, _, n)| *n);
        if fresh.is_none() && !self.uses_task.busy() {
            let code = item.code.clone();
            self.uses_asked = Some((code.clone(), cx.version));
            self.uses_task
                .start(0, cx.handle.submit(move |n| n.item_case_count(&code)));
        }
        let uses = self
            .uses
            .as_ref()
            .filter(|(code, _, _)| *code == item.code)
            .map(|(_, _, n)| *n);
        ui.horizontal_wrapped(|ui| {
            let (label, hint) = if item.retired {
                (t.restore_item, t.restore_hint)
            } else {
                (t.retire_item, t.retire_hint)
            };
            if ui.button(label).on_hover_text(hint).clicked() {
                self.result = None;
                cx.commands
                    .push(Command::EditNetwork(NetworkEdit::RetireItem {
                        code: item.code.clone(),
                        retired: !item.retired,
                    }));
            }
            if self.confirm_delete {
                if ui.button(t.confirm_delete).clicked() {
                    self.result = None;
                    cx.commands
                        .push(Command::EditNetwork(NetworkEdit::RemoveItem(
                            item.code.clone(),
                        )));
                }
                if ui.button(t.cancel).clicked() {
                    self.confirm_delete = false;
                }
            } else if ui.enabled_button(uses == Some(0), t.delete_item) {
                self.confirm_delete = true;
            }
        });
        match uses {
            Some(0) => {
                ui.weak(t.delete_unused);
            }
            Some(n) => {
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("{} {n} · {}", t.item_uses, t.delete_in_use))
                            .weak(),
                    )
                    .wrap(),
                );
            }
            None => {
                ui.spinner();
            }
        }
    }
}

/// A label and a multi-line text field of a form grid, the field named by the label.
fn multiline(ui: &mut egui::Ui, label: &str, value: &mut String, rows: usize) {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::multiline(value)
            .desired_rows(rows)
            .desired_width(300.0),
    )
    .labelled_by(l.id);
}
