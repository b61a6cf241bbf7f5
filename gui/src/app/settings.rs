//! Settings: the language, the operator name recorded on events, and (city only) the network
//! settings — the yellow-light threshold and the follow-up limit — which travel to every node.

use super::fonts::{FontState, INSTALL_HINT};
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
}

impl SettingsPanel {
    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, fonts: &FontState) {
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
    }
}
