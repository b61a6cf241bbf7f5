//! Intake (收件 / 代办登记): choose an item, tick the guide's materials, type the applicant's
//! details with validation as you type, record the delegation, see the kind and the deadline the
//! case would get, and save.
//!
//! The item search matches the code, the name, or the pinyin initials of the name (老年人优待证 →
//! `lnrydz`), because a village agent on a laptop types initials faster than characters. The
//! catalog stores no pinyin, so the initials are computed here with the `pinyin` crate (its plain
//! readings only; a few characters with several readings take the most common one), which covers
//! any catalog the city imports, not just the default one.
//!
//! Validation here is for the person typing; the node validates again when it writes and its
//! refusal is shown as it is. After saving, the window shows the new case, whose detail offers
//! the printable acceptance receipt (受理回执) and one-time notice (一次性告知书) as PDF (see
//! `receipt`), so that the applicant can be handed the receipt before leaving the window.

use super::widgets::{error_line, field};
use super::{Command, Cx, StationInfo};
use crate::app::ui_ext::UiExt as _;
use eframe::egui;
use pinyin::ToPinyin as _;
use yizhan_node::NewCase;
use yizhan_node::case::CaseState;
use yizhan_node::case::deadline::Deadline;
use yizhan_node::case::materials::is_entrustment;
use yizhan_node::catalog::{CaseKind, ServiceItem};
use yizhan_node::idcard::validate_id_number;
use yizhan_node::station::Tier;

/// The pinyin initials of a name, lower case; characters without a reading are kept as they are
/// (lower-cased), so that `CT-002` or Latin letters still match.
pub fn initials(name: &str) -> String {
    name.chars()
        .zip(name.to_pinyin())
        .filter_map(|(c, p)| match p {
            Some(p) => p.first_letter().chars().next(),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

/// Whether an item matches a search: code, name, or pinyin initials.
pub fn matches(item: &ServiceItem, initials_of_name: &str, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    item.code.to_lowercase().contains(&q)
        || item.name.contains(query.trim())
        || initials_of_name.contains(&q)
}

/// The intake panel.
#[derive(Debug, Default)]
pub struct IntakePanel {
    query: String,
    index: Vec<(String, String)>,
    index_version: u64,
    item: Option<String>,
    checked: Vec<bool>,
    name: String,
    id_number: String,
    phone: String,
    address: String,
    /// 代办, once the clerk has ticked or unticked it; until then ticked at a village station,
    /// where nearly every case is taken in by the agent (issue #13).
    delegated: Option<bool>,
    entrustment: bool,
    error: Option<String>,
}

/// The node's own rule, so that the form never accepts what the node would refuse.
fn phone_problem(phone: &str) -> bool {
    !yizhan_node::idcard::is_valid_phone(phone)
}

impl IntakePanel {
    /// Clears the form after a case was saved.
    pub fn reset(&mut self) {
        let index = std::mem::take(&mut self.index);
        let index_version = self.index_version;
        *self = IntakePanel {
            index,
            index_version,
            ..IntakePanel::default()
        };
    }

    /// Chooses an item handled at this station's tier (one that several departments approve,
    /// when there is one) so that the form is shown with its guide; used when the window opens
    /// on intake.
    pub fn preselect(&mut self, info: &StationInfo) {
        let open = || info.catalog.items().filter(|i| !i.retired);
        let here = || open().filter(|i| i.tier == info.tier);
        let item = here()
            .find(|i| i.departments.len() > 1)
            .or_else(|| here().next())
            .or_else(|| open().next());
        if let Some(item) = item {
            self.item = Some(item.code.clone());
            self.checked = vec![false; item.materials.len()];
        }
    }

    /// Shows the node's refusal.
    pub fn set_error(&mut self, e: String) {
        self.error = Some(e);
    }

    fn rebuild_index(&mut self, info: &StationInfo, version: u64) {
        if self.index_version == version && !self.index.is_empty() {
            return;
        }
        self.index_version = version;
        // A retired item takes no new cases, so intake does not offer it.
        self.index = info
            .catalog
            .items()
            .filter(|i| !i.retired)
            .map(|i| (i.code.clone(), initials(&i.name)))
            .collect();
    }

    /// Draws the form.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        self.rebuild_index(cx.info, cx.version);
        let t = cx.t;
        super::widgets::side_list("intake-items", 330.0, 240.0)
            .show(ui, |ui| self.item_picker(ui, cx));
        super::widgets::scrolling_form(ui, "intake-form", |ui| {
            let Some(item) = self
                .item
                .as_deref()
                .and_then(|c| cx.info.catalog.get(c))
                .cloned()
            else {
                ui.label(t.choose_item);
                return;
            };
            self.form(ui, cx, &item);
        });
    }

    fn item_picker(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        ui.heading(t.screen_intake);
        field(ui, t.item_search, &mut self.query, 220.0).on_hover_text(t.item_search_hint);
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("intake-item-list")
            .show(ui, |ui| {
                for (code, ini) in &self.index {
                    let Some(item) = cx.info.catalog.get(code) else {
                        continue;
                    };
                    if !matches(item, ini, &self.query) {
                        continue;
                    }
                    let selected = self.item.as_deref() == Some(code.as_str());
                    let text = format!("{} {}", item.code, item.name);
                    if ui
                        .selectable_label(selected, text)
                        .on_hover_text(&item.conditions)
                        .clicked()
                    {
                        self.item = Some(code.clone());
                        self.checked = vec![false; item.materials.len()];
                        self.error = None;
                    }
                }
            });
    }

    fn form(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, item: &ServiceItem) {
        let t = cx.t;
        let info = cx.info;
        ui.heading(format!("{} {}", item.code, item.name));
        if !item.conditions.is_empty() {
            ui.label(egui::RichText::new(&item.conditions).weak());
        }
        ui.label(format!(
            "{} {} · {} {} · {} {}",
            t.kind_label,
            t.kind(item.kind.as_str()),
            t.handled_at,
            t.tier(item.tier),
            t.departments,
            if item.departments.is_empty() {
                "—".to_string()
            } else {
                item.departments.join("、")
            }
        ));
        let preview = deadline_preview(info, item);
        ui.label(egui::RichText::new(preview_text(t, info, item, preview)).strong());
        if item.tier != info.tier {
            ui.colored_label(ui.visuals().warn_fg_color, t.forward_after_intake);
        }
        ui.separator();

        ui.strong(t.materials);
        if item.materials.is_empty() {
            ui.weak(t.no_materials);
        }
        self.checked.resize(item.materials.len(), false);
        for (m, c) in item.materials.iter().zip(self.checked.iter_mut()) {
            ui.checkbox(c, m);
        }
        let missing: Vec<&String> = item
            .materials
            .iter()
            .zip(&self.checked)
            .filter(|(_, c)| !**c)
            .map(|(m, _)| m)
            .collect();
        if !missing.is_empty() && !item.materials.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{} {}",
                    t.materials_missing,
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("；")
                ),
            );
        }
        ui.separator();

        ui.strong(t.applicant);
        let mut problems: Vec<String> = Vec::new();
        // One row per field: the field, then what is wrong with it (or whether it is optional),
        // wrapped below the field when the window is too narrow for both (1024 pixels).
        ui.horizontal_wrapped(|ui| {
            field(ui, t.applicant_name, &mut self.name, 220.0);
            if self.name.trim().is_empty() {
                ui.weak(t.required);
                problems.push(t.applicant_name.to_string());
            } else if self.name.trim().chars().count() > 64 {
                error_line(ui, t.too_long);
                problems.push(t.applicant_name.to_string());
            }
        });
        ui.horizontal_wrapped(|ui| {
            field(ui, t.id_number, &mut self.id_number, 220.0);
            let id = self.id_number.trim();
            if id.is_empty() {
                ui.weak(t.optional);
            } else {
                match validate_id_number(id) {
                    Ok(()) => {
                        ui.label(
                            egui::RichText::new("✔").color(egui::Color32::from_rgb(46, 160, 67)),
                        );
                    }
                    Err(e) => {
                        error_line(ui, &t.id_number_error(&e));
                        problems.push(t.id_number.to_string());
                    }
                }
            }
        });
        ui.horizontal_wrapped(|ui| {
            field(ui, t.phone, &mut self.phone, 220.0);
            if self.phone.trim().is_empty() {
                ui.weak(t.optional);
            } else if phone_problem(self.phone.trim()) {
                error_line(ui, t.phone_invalid);
                problems.push(t.phone.to_string());
            }
        });
        ui.horizontal_wrapped(|ui| {
            field(ui, t.address, &mut self.address, 360.0);
            ui.weak(t.optional);
        });
        ui.separator();

        let mut delegated = self.delegated.unwrap_or(info.tier == Tier::Village);
        if ui.checkbox(&mut delegated, t.delegated).changed() {
            self.delegated = Some(delegated);
        }
        // One source of truth for the letter of entrustment: when the item lists 委托书 as a
        // material, its tick above is the letter received.
        let listed = item.materials.iter().position(|m| is_entrustment(m));
        if delegated {
            ui.indent("delegation", |ui| {
                if listed.is_none() {
                    ui.checkbox(&mut self.entrustment, t.entrustment_recorded);
                } else {
                    ui.weak(t.entrustment_listed);
                }
                ui.weak(t.handed_over_hint);
            });
        }
        ui.separator();

        if let Some(e) = &self.error {
            error_line(ui, &format!("{}: {e}", t.refused));
        }
        if !problems.is_empty() {
            ui.weak(format!("{} {}", t.fix_fields, problems.join("、")));
        }
        let can_save = problems.is_empty() && !cx.writing;
        // At a village, an item decided higher up goes up in the same step (登记并上报), so
        // that no case waits at the village because the separate 转办 was forgotten.
        let up = (info.tier == Tier::Village && item.tier != Tier::Village)
            .then(|| info.station.parent.clone())
            .filter(|p| !p.is_empty());
        let mut save = None;
        ui.horizontal_wrapped(|ui| {
            if let Some(parent) = &up {
                if ui
                    .add_enabled(can_save, egui::Button::new(t.save_and_forward))
                    .on_hover_text(format!("{} {}", t.forward_to, info.station_name(parent)))
                    .clicked()
                {
                    save = Some(Some(parent.clone()));
                }
                if ui.enabled_button(can_save, t.save_only) {
                    save = Some(None);
                }
            } else if ui.enabled_button(can_save, t.save_intake) {
                save = Some(None);
            }
        });
        if let Some(forward) = save {
            // What was ticked is what was received: handed over to the agent, or at the window.
            let handed_over: Vec<String> = item
                .materials
                .iter()
                .zip(&self.checked)
                .filter(|(_, c)| **c)
                .map(|(m, _)| m.clone())
                .collect();
            let entrustment = delegated
                && match listed {
                    Some(i) => self.checked.get(i).copied().unwrap_or(false),
                    None => self.entrustment,
                };
            self.error = None;
            let new = NewCase {
                item_code: item.code.clone(),
                applicant_name: self.name.trim().to_string(),
                id_number: self.id_number.trim().to_string(),
                phone: self.phone.trim().to_string(),
                address: self.address.trim().to_string(),
                delegated,
                entrustment,
                handed_over,
                operator: String::new(),
            };
            cx.commands.push(match forward {
                Some(to) => Command::IntakeAndForward(new, to),
                None => Command::Intake(new),
            });
        }
    }
}

/// The deadlines a case of `item` would get if it were accepted today, computed by the node's own
/// deadline rules.
fn deadline_preview(info: &StationInfo, item: &ServiceItem) -> Deadline {
    use chrono::TimeZone as _;
    let noon = info
        .today
        .and_hms_opt(12, 0, 0)
        .and_then(|t| yizhan_node::clock::china().from_local_datetime(&t).single())
        .map_or(0, |t| t.timestamp_millis());
    let mut state = CaseState::new(&info.station.code);
    state.accepted_at = Some(noon);
    Deadline::compute(
        &state,
        item.kind,
        item.promised_days,
        item.legal_days,
        &info.calendar,
        &info.settings,
    )
}

fn preview_text(t: &super::Tr, info: &StationInfo, item: &ServiceItem, d: Deadline) -> String {
    let fmt = |x: Option<chrono::NaiveDate>| {
        x.map_or_else(|| "—".to_string(), |d| d.format("%Y-%m-%d").to_string())
    };
    let mark = |provisional: bool| if provisional { t.provisional_mark } else { "" };
    match item.kind {
        CaseKind::Consult => t.preview_consult.to_string(),
        CaseKind::Instant => format!("{} {}", t.preview_instant, fmt(d.due_on)),
        CaseKind::Promised => format!(
            "{} {}{} ({} {}) · {} {}{} ({} {}) · {} {}",
            t.preview_due,
            fmt(d.due_on),
            mark(d.due_provisional),
            item.promised_days,
            t.working_days,
            t.legal_due,
            fmt(d.legal_due_on),
            mark(d.legal_provisional),
            item.legal_days,
            t.working_days,
            t.if_accepted_on,
            info.today.format("%Y-%m-%d")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_of_catalog_names() {
        assert_eq!(initials("老年人优待证办理"), "lnrydzbl");
        assert_eq!(initials("高龄津贴申请"), "gljtsq");
        assert_eq!(initials("CT-002 企业"), "ct002qy");
    }

    #[test]
    fn search_by_initials_code_or_name() {
        let catalog = yizhan_node::catalog::Catalog::default_catalog();
        let item = catalog.get("TS-004").unwrap();
        let ini = initials(&item.name);
        assert!(matches(item, &ini, "lnr"));
        assert!(matches(item, &ini, "LNRYDZ"));
        assert!(matches(item, &ini, "ts-004"));
        assert!(matches(item, &ini, "优待证"));
        assert!(!matches(item, &ini, "qy"));
    }
}
