//! Settings: the language, the operator name recorded on events, and (city only) the network
//! settings — the yellow-light threshold and the follow-up limit — which travel to every node;
//! the catalog with import from a JSON or CSV file (city only; read, validated row by row and
//! written on the store thread), and the working-day calendar's years (holidays and make-up days).

use super::fonts::{FontState, INSTALL_HINT};
use super::task::Task;
use super::widgets::{error_line, field};
use super::{Command, Cx, Lang};
use eframe::egui;
use yizhan_node::network::Settings;
use yizhan_node::station::Tier;

/// The settings panel.
#[derive(Debug, Default)]
pub struct SettingsPanel {
    operator: Option<String>,
    yellow: String,
    follow_up: String,
    loaded_for: Option<Settings>,
    catalog_path: String,
    /// The catalog import in flight: the number of items imported, or why the file was refused.
    import: Task<Result<usize, String>>,
    import_result: Option<Result<usize, String>>,
}

impl SettingsPanel {
    /// Whether a catalog import is in flight.
    pub fn busy(&self) -> bool {
        self.import.busy()
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, fonts: &FontState) {
        let t = cx.t;
        if let Some((_, r)) = self.import.poll() {
            self.import_result = Some(r.unwrap_or_else(|e| Err(t.node_error(&e))));
            cx.commands.push(Command::Refresh);
        }
        egui::ScrollArea::vertical()
            .id_salt("settings")
            .show(ui, |ui| self.body(ui, cx, fonts));
    }

    fn body(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, fonts: &FontState) {
        let t = cx.t;
        ui.heading(t.screen_settings);
        ui.horizontal(|ui| {
            ui.strong(t.language);
            for lang in [Lang::Zh, Lang::En] {
                if ui.radio(cx.lang == lang, lang.tr().lang_name).clicked() {
                    cx.commands.push(Command::SetLang(lang));
                }
            }
        });
        ui.horizontal(|ui| {
            let op = self.operator.get_or_insert_with(|| cx.operator.to_string());
            field(ui, t.operator, op, 200.0);
            let name = op.trim().to_string();
            if ui
                .add_enabled(
                    !name.is_empty() && name != cx.operator,
                    egui::Button::new(t.apply),
                )
                .clicked()
            {
                cx.commands.push(Command::SetOperator(name));
            }
        });
        ui.horizontal(|ui| {
            ui.strong(t.font);
            match fonts {
                FontState::Installed(p) => {
                    ui.label(p.display().to_string());
                }
                FontState::Missing => error_line(ui, INSTALL_HINT),
                FontState::Searching(_) => {
                    ui.spinner();
                }
            }
        });
        ui.separator();
        ui.strong(t.network_settings);
        if self.loaded_for != Some(cx.info.settings) {
            self.loaded_for = Some(cx.info.settings);
            self.yellow = cx.info.settings.yellow_percent.to_string();
            self.follow_up = cx.info.settings.follow_up_days.to_string();
        }
        let city = cx.info.tier == Tier::City;
        ui.add_enabled_ui(city, |ui| {
            egui::Grid::new("net-settings")
                .num_columns(3)
                .show(ui, |ui| {
                    field(ui, t.yellow_percent, &mut self.yellow, 60.0);
                    ui.weak(t.yellow_hint);
                    ui.end_row();
                    field(ui, t.follow_up_days, &mut self.follow_up, 60.0);
                    ui.weak(t.follow_up_hint);
                    ui.end_row();
                });
            let parsed = (
                self.yellow.trim().parse::<u32>(),
                self.follow_up.trim().parse::<u32>(),
            );
            let settings = match parsed {
                (Ok(y), Ok(f)) => Some(Settings {
                    yellow_percent: y,
                    follow_up_days: f,
                }),
                _ => None,
            };
            let valid = settings.as_ref().is_some_and(|s| s.validate().is_ok());
            if !valid {
                error_line(ui, t.settings_invalid);
            }
            if ui
                .add_enabled(
                    valid && !cx.writing && settings != Some(cx.info.settings),
                    egui::Button::new(t.save_settings),
                )
                .clicked()
                && let Some(s) = settings
            {
                cx.commands.push(Command::SaveSettings(s));
            }
        });
        if !city {
            ui.weak(t.city_only);
        }
        ui.separator();
        self.catalog(ui, cx, city);
        ui.separator();
        calendar_years(ui, cx);
    }

    fn catalog(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        ui.strong(format!(
            "{} ({} {})",
            t.catalog,
            cx.info.catalog.len(),
            t.items
        ));
        ui.add_enabled_ui(city && !self.import.busy(), |ui| {
            ui.horizontal_wrapped(|ui| {
                field(ui, t.catalog_file, &mut self.catalog_path, 320.0)
                    .on_hover_text(t.catalog_file_hint);
                if ui
                    .add_enabled(
                        !self.catalog_path.trim().is_empty(),
                        egui::Button::new(t.catalog_import),
                    )
                    .clicked()
                {
                    let path = std::path::PathBuf::from(self.catalog_path.trim());
                    self.import_result = None;
                    self.import.start(
                        0,
                        cx.handle.submit(move |n| {
                            let bytes = match std::fs::read(&path) {
                                Ok(b) => b,
                                Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
                            };
                            let hint = path
                                .extension()
                                .and_then(|e| e.to_str())
                                .map(str::to_ascii_lowercase);
                            match yizhan_node::catalog::Catalog::parse(&bytes, hint.as_deref()) {
                                Ok(c) => {
                                    n.import_catalog(&c)?;
                                    Ok(Ok(c.len()))
                                }
                                Err(e) => Ok(Err(format!("{}: {e}", path.display()))),
                            }
                        }),
                    );
                }
            });
        });
        if self.import.busy() {
            ui.spinner();
        }
        match &self.import_result {
            Some(Ok(n)) => {
                ui.label(format!("{} {n} {}", t.catalog_imported, t.items));
            }
            Some(Err(e)) => error_line(ui, e),
            None => {}
        }
        egui::CollapsingHeader::new(t.catalog_items)
            .id_salt("catalog-items")
            .show(ui, |ui| {
                egui::Grid::new("catalog-grid")
                    .striped(true)
                    .num_columns(5)
                    .show(ui, |ui| {
                        for h in [t.col_item, t.kind_label, t.handled_at, t.promised, t.legal] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for i in cx.info.catalog.items() {
                            ui.label(format!("{} {}", i.code, i.name));
                            ui.label(t.kind(i.kind.as_str()));
                            ui.label(t.tier(i.tier));
                            ui.label(i.promised_days.to_string());
                            ui.label(i.legal_days.to_string());
                            ui.end_row();
                        }
                    });
            });
    }
}

/// The calendar's years: how many holidays and make-up working days each declares, with the
/// dates a click away.
fn calendar_years(ui: &mut egui::Ui, cx: &Cx<'_>) {
    let t = cx.t;
    ui.strong(t.calendar_years);
    let fmt = |days: &[chrono::NaiveDate]| {
        days.iter()
            .map(|d| d.format("%m-%d").to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (year, rule) in cx.info.calendar.years() {
        egui::CollapsingHeader::new(format!(
            "{year}: {} {} · {} {}",
            t.holidays,
            rule.holidays.len(),
            t.makeup_days,
            rule.workdays.len()
        ))
        .id_salt(("calendar-year", *year))
        .show(ui, |ui| {
            ui.add(egui::Label::new(format!("{}: {}", t.holidays, fmt(&rule.holidays))).wrap());
            ui.add(egui::Label::new(format!("{}: {}", t.makeup_days, fmt(&rule.workdays))).wrap());
        });
    }
}
