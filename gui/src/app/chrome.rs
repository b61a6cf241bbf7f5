//! The window's frame around the screens: the top bar (title, station switcher, sync badge,
//! screens), the status bar and the demo county's link panel.

use super::*;

impl App {
    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui, t: &'static Tr) {
        // Below about 1150 pixels (a 1024×640 laptop) the bar would wrap onto a second row: it
        // then leaves out what is said elsewhere or on hover (the network's name, the switcher's
        // caption, the person's role).
        let compact = ui.available_width() < 1150.0;
        ui.horizontal_wrapped(|ui| {
            ui.heading(t.app_title);
            if let Some(info) = current_info(&self.stations, self.current) {
                // The station's own name: a clerk knows which hall this is. With the demo's
                // station switcher beside it the switcher says it, and the bar keeps to one row
                // at 1024 pixels.
                let text = if compact && self.stations.len() > 1 {
                    info.today.format("%Y-%m-%d").to_string()
                } else if self.stations.len() > 1 {
                    format!("{} · {}", info.network_name, info.today.format("%Y-%m-%d"))
                } else {
                    format!(
                        "{} · {} · {}",
                        info.network_name,
                        info.station.name,
                        info.today.format("%Y-%m-%d")
                    )
                };
                ui.label(egui::RichText::new(text).weak())
                    .on_hover_text(format!(
                        "{} · {} · {}",
                        info.network_name,
                        info.station.name,
                        t.tier(info.tier)
                    ));
            }
            ui.separator();
            if self.stations.len() > 1 {
                let current = self
                    .stations
                    .get(self.current)
                    .map(|s| s.label.clone())
                    .unwrap_or_default();
                let label = (!compact).then(|| ui.label(t.station));
                let switcher = egui::ComboBox::from_id_salt("station-switcher")
                    .selected_text(current)
                    .width(190.0)
                    .show_ui(ui, |ui| {
                        for (i, s) in self.stations.iter().enumerate() {
                            if ui.selectable_label(i == self.current, &s.label).clicked() {
                                self.commands.push(Command::SwitchStation(i));
                            }
                        }
                    })
                    .response
                    .on_hover_text(t.station);
                if let Some(label) = label {
                    switcher.labelled_by(label.id);
                }
                ui.separator();
            }
            let in_detail = self.detail.is_open();
            let inbox = match self.inbox.inbox().map(yizhan_node::inbox::Inbox::to_do) {
                Some(n) if n > 0 => format!("{} {n}", t.screen_inbox),
                _ => t.screen_inbox.to_string(),
            };
            for (screen, name) in [
                (Screen::Inbox, inbox.as_str()),
                (Screen::Cases, t.screen_cases),
                (Screen::Intake, t.screen_intake),
                (Screen::Dashboard, t.screen_dashboard),
                (Screen::Sync, t.screen_sync),
                (Screen::Settings, t.screen_settings),
            ] {
                let selected = self.screen == screen && !(screen == Screen::Cases && in_detail);
                if ui.selectable_label(selected, name).clicked() {
                    if matches!(screen, Screen::Cases | Screen::Inbox) {
                        self.commands.push(Command::CloseCase);
                    }
                    self.commands.push(Command::Show(screen));
                }
            }
            if let Some(status) = self.engine_status() {
                ui.separator();
                self.sync_badge(ui, t, &status);
            }
            self.person(ui, t, compact);
            ui.separator();
            let other = match self.lang {
                Lang::Zh => Lang::En,
                Lang::En => Lang::Zh,
            };
            if ui.button(other.tr().lang_name).clicked() {
                self.commands.push(Command::SetLang(other));
            }
        });
    }

    /// Who is working, with the lock and switch-person buttons (issue #12).
    fn person(&mut self, ui: &mut egui::Ui, t: &'static Tr, compact: bool) {
        let Some(info) = current_info(&self.stations, self.current) else {
            return;
        };
        let Some(a) = info.operator.as_ref() else {
            return;
        };
        ui.separator();
        // At 1024 pixels the role and department do not fit beside the screens' names and
        // would wrap the label over two lines: the name alone then, the rest on hover.
        let full = people::person_label(t, a);
        let hover = format!("{full} · {}", a.login);
        let room = ui.available_width();
        let text = if room >= 360.0 && !compact {
            full
        } else {
            a.name.clone()
        };
        ui.add(
            egui::Label::new(egui::RichText::new(text).strong())
                .wrap_mode(egui::TextWrapMode::Extend),
        )
        .on_hover_text(hover);
        if ui.small_button(t.lock).clicked() {
            self.commands.push(Command::Lock);
        }
        if ui.small_button(t.switch_person).clicked() {
            self.commands
                .push(Command::Account(people::AccountEdit::SignOut));
        }
    }

    /// The sync engine in a word, in the top bar; a click opens the sync screen.
    fn sync_badge(
        &mut self,
        ui: &mut egui::Ui,
        t: &'static Tr,
        status: &yizhan_sync::engine::EngineStatus,
    ) {
        use yizhan_sync::engine::EngineState;
        let (dot, text) = match &status.state {
            EngineState::Starting => (egui::Color32::GRAY, t.engine_starting),
            EngineState::Elsewhere(_) => (egui::Color32::GRAY, t.sync_badge_other),
            EngineState::Failed(_) | EngineState::Stopped => {
                (ui.visuals().error_fg_color, t.sync_badge_failed)
            }
            EngineState::Running { .. } if status.live.is_empty() => {
                (egui::Color32::from_rgb(200, 120, 0), t.sync_badge_offline)
            }
            EngineState::Running { .. }
                if status
                    .live
                    .values()
                    .any(|l| l.awaiting > 0 || l.unsent_bytes > 0) =>
            {
                (egui::Color32::from_rgb(40, 120, 220), t.sync_badge_busy)
            }
            EngineState::Running { .. } => (egui::Color32::from_rgb(30, 150, 60), t.sync_badge_ok),
        };
        let text = egui::RichText::new(format!("● {text}")).color(dot);
        if ui
            .add(egui::Button::new(text).frame(false))
            .on_hover_text(t.screen_sync)
            .clicked()
        {
            self.commands.push(Command::CloseCase);
            self.commands.push(Command::Show(Screen::Sync));
        }
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui, t: &'static Tr) {
        ui.horizontal_wrapped(|ui| {
            if let FontState::Missing = self.fonts {
                ui.colored_label(
                    egui::Color32::from_rgb(200, 80, 0),
                    format!(
                        "No Chinese font found / 未找到中文字体: {}",
                        fonts::INSTALL_HINT
                    ),
                );
                ui.separator();
            }
            if let Some(offset) = current_info(&self.stations, self.current)
                .and_then(|i| i.clock_offset)
                .filter(|o| o.warns())
            {
                ui.colored_label(
                    egui::Color32::from_rgb(200, 80, 0),
                    t.clock_warning(&offset),
                );
                ui.separator();
            }
            if let Some(err) = self
                .stations
                .get(self.current)
                .and_then(|s| s.error.as_ref())
            {
                ui.colored_label(ui.visuals().error_fg_color, format!("{}: {err}", t.error));
                ui.separator();
            }
            if self.writing() {
                ui.spinner();
                ui.label(t.saving);
            } else if let Some(n) = &self.notice {
                if n.error {
                    ui.colored_label(ui.visuals().error_fg_color, &n.text);
                } else {
                    ui.label(&n.text);
                }
            }
            let info = current_info(&self.stations, self.current);
            let who = match info {
                Some(i) if i.operator.is_some() => None,
                Some(i) if i.needs_sign_in => Some(t.nobody_signed_in.to_string()),
                // A station without accounts records the typed-in name.
                _ => Some(format!("{} · {}", self.operator, t.first_run_person)),
            };
            if let Some(who) = who {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(egui::RichText::new(format!("{}: {who}", t.operator)).weak());
                });
            }
        });
    }

    pub(super) fn county_panel(&mut self, ui: &mut egui::Ui, t: &'static Tr) {
        let Some(county) = self.county.as_ref() else {
            return;
        };
        ui.heading(t.county);
        ui.label(egui::RichText::new(t.county_links).strong());
        for link in county.links() {
            let mut up = link.up;
            let text = format!("{} ↔ {}", link.a, link.b);
            if ui.checkbox(&mut up, text).changed() {
                self.commands.push(Command::SetLink { id: link.id, up });
            }
        }
        ui.separator();
        let mut streaming = county.streaming();
        if ui.checkbox(&mut streaming, t.county_stream).changed() {
            self.commands.push(Command::SetStreaming(streaming));
        }
        ui.separator();
        ui.label(egui::RichText::new(t.county_status).strong());
        egui::ScrollArea::vertical()
            .id_salt("county-status")
            .show(ui, |ui| {
                for s in county.sync_status() {
                    ui.label(egui::RichText::new(&s.label).strong());
                    ui.label(format!(
                        "{} {} · {} {}",
                        t.peers_connected, s.connected_peers, t.pending_docs, s.pending_docs
                    ));
                    if let Some(ms) = s.last_sync_ms {
                        ui.label(
                            egui::RichText::new(format!(
                                "{} {}",
                                t.last_contact,
                                widgets::time(ms)
                            ))
                            .weak(),
                        );
                    }
                    if let Some(e) = s.last_error {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                    ui.add_space(4.0);
                }
            });
    }
}
