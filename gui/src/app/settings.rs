//! Settings, in three parts chosen by tabs:
//!
//! - General: the language, the operator name recorded on events, the CJK font, and (city only)
//!   the network settings — the yellow-light threshold and the follow-up limit — which travel to
//!   every node.
//! - Catalog ([`CatalogEditor`]): import from a JSON or CSV file, and items added, changed,
//!   retired or deleted one at a time (city only).
//! - Calendar ([`CalendarEditor`]): each year's holidays and make-up working days, new years, and
//!   a working-day check that shows what an unsaved change does (city only for changes).
//!
//! Every change goes to the node as a [`Command`]; the node validates it again and the result
//! comes back through [`SettingsPanel::edit_done`].

use super::calendar_editor::CalendarEditor;
use super::catalog_editor::CatalogEditor;
use super::fonts::{FontState, INSTALL_HINT};
use super::i18n::Tr;
use super::task::Task;
use super::widgets::{error_line, field};
use super::{Command, Cx, Lang, NetworkEdit, SettingsTab, StationInfo};
use crate::app::ui_ext::{UiExt as _, secret_edit};
use eframe::egui;
use yizhan_node::network::Settings;
use yizhan_node::replica::SyncConfig;
use yizhan_node::station::Tier;

/// The settings panel.
#[derive(Debug, Default)]
pub struct SettingsPanel {
    tab: SettingsTab,
    operator: Option<String>,
    yellow: String,
    follow_up: String,
    loaded_for: Option<Settings>,
    /// The station's consultation phone as typed, and the stored value it was loaded from (a
    /// change arriving from another node of the station reloads it).
    phone: String,
    phone_loaded_for: Option<Option<String>>,
    catalog: CatalogEditor,
    calendar: CalendarEditor,
    /// This computer's sync settings: as read from the node, and the form.
    sync_task: Task<(SyncConfig, LocalConfig)>,
    sync_loaded: Option<(SyncConfig, LocalConfig)>,
    sync_form: SyncForm,
    /// The accounts tab (人员).
    pub(super) people: super::people::PeoplePanel,
    /// The notice templates tab (短信模板).
    templates: super::templates::TemplatesPanel,
}

/// The form of this computer's sync settings.
#[derive(Debug, Default)]
struct SyncForm {
    listen: String,
    mdns: bool,
    relay: String,
    local: LocalConfig,
}

/// This computer's other local settings (issue #15), saved with the sync settings and applied
/// by the same restart: the progress page's address, the public address printed on receipts,
/// and how notices are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalConfig {
    web: String,
    public_url: String,
    sender: yizhan_node::notice::SenderConfig,
}

impl LocalConfig {
    fn read(n: &mut yizhan_node::Node) -> yizhan_node::Result<LocalConfig> {
        Ok(LocalConfig {
            web: n.web_listen()?.unwrap_or_default(),
            public_url: n.public_url()?.unwrap_or_default(),
            sender: n.sender_config()?,
        })
    }

    /// Saves the settings on the store thread.
    pub fn save(&self, n: &mut yizhan_node::Node) -> yizhan_node::Result<()> {
        n.set_web_listen(Some(&self.web))?;
        n.set_public_url(Some(&self.public_url))?;
        n.set_sender_config(&self.sender)
    }
}

impl SyncForm {
    fn of(c: &SyncConfig) -> SyncForm {
        SyncForm {
            listen: c.listen.clone().unwrap_or_default(),
            mdns: c.mdns,
            relay: c.relay.clone().unwrap_or_default(),
            local: LocalConfig::default(),
        }
    }

    fn config(&self) -> SyncConfig {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        SyncConfig {
            listen: opt(&self.listen),
            mdns: self.mdns,
            relay: opt(&self.relay),
        }
    }
}

impl SettingsPanel {
    /// Whether a request of the panel is in flight.
    pub fn busy(&self) -> bool {
        self.catalog.busy() || self.sync_task.busy()
    }

    /// Shows a tab (with an item chosen in the catalog, so that its form shows).
    pub fn open(&mut self, tab: SettingsTab, info: &StationInfo) {
        self.tab = tab;
        if tab == SettingsTab::Catalog {
            self.catalog.preselect(info);
        }
    }

    /// The node's answer to a catalog or calendar edit: what was done, or why it was refused.
    pub fn edit_done(&mut self, edit: &NetworkEdit, result: Result<String, String>) {
        match edit {
            NetworkEdit::SetYear { year, .. } => self.calendar.done(*year, result),
            NetworkEdit::SetTemplate { .. } => self.templates.done(result),
            _ => self.catalog.done(edit, result),
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, fonts: &FontState) {
        let t = cx.t;
        self.catalog.poll(cx);
        ui.horizontal(|ui| {
            ui.heading(t.screen_settings);
            ui.separator();
            for (tab, name) in [
                (SettingsTab::General, t.tab_general),
                (SettingsTab::Catalog, t.tab_catalog),
                (SettingsTab::Calendar, t.tab_calendar),
                (SettingsTab::People, t.tab_people),
                (SettingsTab::Templates, t.tab_templates),
            ] {
                if ui.selectable_label(self.tab == tab, name).clicked() {
                    self.tab = tab;
                }
            }
        });
        ui.separator();
        let city = cx.info.tier == Tier::City;
        match self.tab {
            SettingsTab::General => {
                egui::ScrollArea::vertical()
                    .id_salt("settings")
                    .show(ui, |ui| self.general(ui, cx, fonts));
            }
            SettingsTab::Catalog => self.catalog.ui(ui, cx, city),
            SettingsTab::Calendar => self.calendar.ui(ui, cx, city),
            SettingsTab::People => self.people.ui(ui, cx),
            SettingsTab::Templates => self.templates.ui(ui, cx, city),
        }
    }

    /// The station's phone for questions about progress (本站咨询电话, issue #13), printed on
    /// its receipts; the node lets its administrator (or a parent station's) save it.
    fn station_phone(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        if self.phone_loaded_for.as_ref() != Some(&cx.info.station_phone) {
            self.phone_loaded_for = Some(cx.info.station_phone.clone());
            self.phone = cx.info.station_phone.clone().unwrap_or_default();
        }
        ui.horizontal_wrapped(|ui| {
            field(ui, t.station_phone, &mut self.phone, 160.0);
            let changed = self.phone.trim() != cx.info.station_phone.as_deref().unwrap_or("");
            if ui.enabled_button(changed && !cx.writing, t.save) {
                cx.commands
                    .push(Command::Account(super::people::AccountEdit::StationPhone(
                        self.phone.trim().to_string(),
                    )));
            }
            ui.add(egui::Label::new(egui::RichText::new(t.station_phone_hint).weak()).wrap());
        });
    }

    fn general(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, fonts: &FontState) {
        let t = cx.t;
        ui.horizontal(|ui| {
            ui.strong(t.language);
            for lang in [Lang::Zh, Lang::En] {
                if ui.radio(cx.lang == lang, lang.tr().lang_name).clicked() {
                    cx.commands.push(Command::SetLang(lang));
                }
            }
        });
        // A typed-in operator name only where the station has no accounts yet; once it has,
        // the signed-in person is recorded.
        if !cx.info.needs_sign_in {
            ui.horizontal(|ui| {
                let op = self.operator.get_or_insert_with(|| cx.operator.to_string());
                field(ui, t.operator, op, 200.0);
                let name = op.trim().to_string();
                if ui.enabled_button(!name.is_empty() && name != cx.operator, t.apply) {
                    cx.commands.push(Command::SetOperator(name));
                }
            });
        }
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
        self.station_phone(ui, cx);
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
                    // The rule in words, with the example worked out for the value typed.
                    let example = self
                        .yellow
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=100).contains(p))
                        .map(|p| {
                            let s = Settings {
                                yellow_percent: p,
                                ..cx.info.settings
                            };
                            t.yellow_example(p, s.yellow_threshold(10))
                        })
                        .unwrap_or_default();
                    ui.vertical(|ui| {
                        ui.set_max_width(460.0);
                        ui.add(egui::Label::new(t.yellow_hint).wrap());
                        if !example.is_empty() {
                            ui.add(egui::Label::new(egui::RichText::new(example).weak()).wrap());
                        }
                    });
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
            if ui.enabled_button(
                valid && !cx.writing && settings != Some(cx.info.settings),
                t.save_settings,
            ) && let Some(s) = settings
            {
                cx.commands.push(Command::SaveSettings(s));
            }
        });
        if !city {
            ui.weak(t.city_only);
        }
        ui.separator();
        self.sync_settings(ui, cx);
        ui.separator();
        // Where the catalog and the calendar are edited, with their size at a glance.
        ui.label(format!(
            "{}{}{} {} · {}{}{}",
            t.tab_catalog,
            t.doc_sep,
            cx.info.catalog.len(),
            t.items,
            t.tab_calendar,
            t.doc_sep,
            cx.info
                .calendar
                .years()
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }

    /// This computer's own sync settings (never synced): where the engine listens, LAN
    /// discovery, the city's relay. Saving restarts the engine with them.
    fn sync_settings(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        if let Some((_, r)) = self.sync_task.poll()
            && let Ok((c, local)) = r
        {
            self.sync_form = SyncForm::of(&c);
            self.sync_form.local = local.clone();
            self.sync_loaded = Some((c, local));
        }
        if self.sync_loaded.is_none() && !self.sync_task.busy() {
            self.sync_task.start(
                0,
                cx.handle
                    .submit(|n| Ok((n.sync_config()?, LocalConfig::read(n)?))),
            );
        }
        ui.strong(t.sync_config);
        let Some(loaded) = self.sync_loaded.clone() else {
            ui.spinner();
            return;
        };
        egui::Grid::new("sync-config")
            .num_columns(3)
            .show(ui, |ui| {
                field(ui, t.sync_listen, &mut self.sync_form.listen, 200.0);
                // The hint wraps: at 1024 pixels it ran past the window's edge.
                ui.add(egui::Label::new(egui::RichText::new(t.sync_listen_hint).weak()).wrap());
                ui.end_row();
                field(ui, t.sync_relay, &mut self.sync_form.relay, 280.0);
                ui.end_row();
                field(ui, t.web_listen, &mut self.sync_form.local.web, 200.0);
                ui.add(egui::Label::new(egui::RichText::new(t.web_listen_hint).weak()).wrap());
                ui.end_row();
                field(
                    ui,
                    t.public_url,
                    &mut self.sync_form.local.public_url,
                    280.0,
                );
                ui.end_row();
            });
        ui.checkbox(&mut self.sync_form.mdns, t.sync_mdns);
        notice_sender(ui, t, &mut self.sync_form.local.sender);
        let config = self.sync_form.config();
        let local = self.sync_form.local.clone();
        let addr_ok =
            |a: &str| a.trim().is_empty() || a.trim().parse::<std::net::SocketAddr>().is_ok();
        let listen_ok = config.listen.as_deref().is_none_or(addr_ok) && addr_ok(&local.web);
        if !listen_ok {
            error_line(ui, &t.invalid(&yizhan_node::Invalid::NotAnAddress));
        }
        if ui.enabled_button(
            listen_ok && !cx.writing && (config.clone(), local.clone()) != loaded,
            t.save_settings,
        ) {
            self.sync_loaded = Some((config.clone(), local.clone()));
            cx.commands.push(Command::SaveSyncConfig(config, local));
        }
    }
}

/// The choice of how this computer sends notices: none, an HTTP gateway (URL and key) or a
/// modem daemon's spool folder.
fn notice_sender(ui: &mut egui::Ui, t: &Tr, sender: &mut yizhan_node::notice::SenderConfig) {
    use yizhan_node::notice::SenderConfig;
    ui.strong(t.notice_sender);
    ui.horizontal(|ui| {
        let is_none = matches!(sender, SenderConfig::None);
        let is_gateway = matches!(sender, SenderConfig::Gateway { .. });
        let is_spool = matches!(sender, SenderConfig::Spool { .. });
        if ui.radio(is_none, t.notice_via_none).clicked() {
            *sender = SenderConfig::None;
        }
        if ui.radio(is_gateway, t.notice_via_gateway).clicked() && !is_gateway {
            *sender = SenderConfig::Gateway {
                url: String::new(),
                key: String::new(),
            };
        }
        if ui.radio(is_spool, t.notice_via_spool).clicked() && !is_spool {
            *sender = SenderConfig::Spool { dir: String::new() };
        }
    });
    match sender {
        SenderConfig::None => {}
        SenderConfig::Gateway { url, key } => {
            egui::Grid::new("notice-gateway")
                .num_columns(2)
                .show(ui, |ui| {
                    field(ui, "URL", url, 320.0);
                    ui.end_row();
                    ui.label(t.notice_gateway_key);
                    ui.add(secret_edit(key, 240.0));
                    ui.end_row();
                });
        }
        SenderConfig::Spool { dir } => {
            egui::Grid::new("notice-spool")
                .num_columns(2)
                .show(ui, |ui| {
                    field(ui, t.notice_via_spool, dir, 320.0);
                    ui.end_row();
                });
        }
    }
}
