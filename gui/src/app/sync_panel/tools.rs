//! The ticket tools of the sync panel — invite, revoke, bundle export and import — and their
//! results (a ticket to copy, show as a QR code or save; what a bundle did).

use super::*;
use crate::app::ui_ext::UiExt as _;

impl SyncPanel {
    pub(super) fn tools_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let busy = self.tools.task.busy();
        let f = &mut self.tools;
        let mut start: Option<Tool> = None;
        ui.add_enabled_ui(!busy, |ui| {
            tool_section(ui, t.tool_invite, "tool-invite", |ui| {
                ui.weak(t.tool_invite_hint);
                ui.horizontal_wrapped(|ui| {
                    field(ui, t.station_code, &mut f.code, 100.0);
                    field(ui, t.station_name_label, &mut f.name, 220.0);
                });
                ui.horizontal_wrapped(|ui| {
                    ui.label(t.tier_label);
                    for tier in [Tier::Village, Tier::Township, Tier::City] {
                        ui.radio_value(&mut f.tier, tier, t.tier(tier));
                    }
                    field(ui, t.parent_code, &mut f.parent, 100.0).on_hover_text(t.parent_hint);
                });
                ui.horizontal_wrapped(|ui| {
                    field(ui, t.valid_days, &mut f.days, 40.0);
                    field(ui, t.invite_addr, &mut f.addr, 200.0).on_hover_text(t.invite_addr_hint);
                });
                let days = f.days.trim().parse::<u32>().ok();
                let ready = !f.code.trim().is_empty() && !f.name.trim().is_empty();
                if days.is_none() {
                    error_line(ui, t.valid_days_invalid);
                }
                if ui.enabled_button(ready && days.is_some(), t.make_ticket) {
                    start = Some(Tool::Invite);
                }
            });
            tool_section(ui, t.tool_revoke, "tool-revoke", |ui| {
                ui.horizontal_wrapped(|ui| {
                    field(ui, t.node_id, &mut f.revoke_id, 420.0);
                    field(ui, t.reason, &mut f.revoke_reason, 200.0);
                });
                if ui.enabled_button(!f.revoke_id.trim().is_empty(), t.revoke_button) {
                    start = Some(Tool::Revoke);
                }
            });
            tool_section(ui, t.tool_bundle, "tool-bundle", |ui| {
                ui.weak(t.tool_bundle_hint);
                ui.horizontal_wrapped(|ui| {
                    field(ui, t.bundle_out, &mut f.export_path, 320.0);
                    field(ui, t.bundle_for, &mut f.export_for, 100.0)
                        .on_hover_text(t.bundle_for_hint);
                    if ui.enabled_button(!f.export_path.trim().is_empty(), t.bundle_export) {
                        start = Some(Tool::Export);
                    }
                });
                ui.horizontal_wrapped(|ui| {
                    field(ui, t.bundle_in, &mut f.import_path, 320.0);
                    if ui.enabled_button(!f.import_path.trim().is_empty(), t.bundle_import) {
                        start = Some(Tool::Import);
                    }
                });
            });
        });
        if busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(t.start_working);
            });
        }
        self.result_ui(ui, cx);
        if let Some(tool) = start {
            self.tools.result = None;
            let task = tool.submit(&self.tools, cx);
            self.tools.task.start(0, task);
        }
    }
}
impl SyncPanel {
    /// The last tool's answer: a ticket with copy, QR code and save-to-file; other text with
    /// copy; a refusal in the error colour.
    fn result_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        if let Some(rx) = &self.tools.save
            && let Ok(r) = rx.try_recv()
        {
            self.tools.save = None;
            self.tools.saved = Some(r);
        }
        let text = match &self.tools.result {
            Some(Ok(text)) => text.clone(),
            Some(Err(e)) => {
                error_line(ui, e);
                return;
            }
            None => return,
        };
        let now = ui.input(|i| i.time);
        let mut shown = text.clone();
        ui.add(
            egui::TextEdit::multiline(&mut shown)
                .desired_rows(2)
                .desired_width(f32::INFINITY)
                .interactive(true),
        );
        ui.horizontal(|ui| {
            if ui.button(t.copy).clicked() {
                ui.ctx().copy_text(text.clone());
                self.tools.copied_at = Some(now);
            }
            if self.tools.copied_at.is_some_and(|at| now - at < 3.0) {
                ui.label(egui::RichText::new(format!("✔ {}", t.copied)).strong());
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(500));
            }
        });
        if !text.starts_with("yz1") {
            return;
        }
        // A ticket: a QR code for a phone, and a file for a USB stick.
        ui.weak(t.ticket_qr_hint);
        ui.horizontal_top(|ui| {
            crate::app::widgets::qr(ui, &text, 220.0);
            ui.vertical(|ui| {
                if self.tools.save_path.is_empty() {
                    self.tools.save_path = cx
                        .info
                        .data_dir
                        .join(format!("邀请码-{}.txt", self.tools.code.trim()))
                        .display()
                        .to_string();
                }
                ui.add(
                    egui::TextEdit::singleline(&mut self.tools.save_path)
                        .desired_width(ui.available_width().min(460.0)),
                );
                if ui.enabled_button(self.tools.save.is_none(), t.save_to_file) {
                    let path = PathBuf::from(self.tools.save_path.trim());
                    let body = format!("{text}\n");
                    self.tools.save =
                        Some(crate::app::task::in_background("yizhan-save", move || {
                            std::fs::write(&path, body)
                                .map(|()| path.clone())
                                .map_err(|e| format!("{}: {e}", path.display()))
                        }));
                    self.tools.saved = None;
                }
                match &self.tools.saved {
                    Some(Ok(p)) => {
                        ui.label(format!("{} {}", t.saved_to, p.display()));
                    }
                    Some(Err(e)) => error_line(ui, e),
                    None => {}
                }
            });
        });
    }
}

/// One tool's section of the panel: a heading that opens its form.
fn tool_section(ui: &mut egui::Ui, title: &str, id: &str, form: impl FnOnce(&mut egui::Ui)) {
    egui::CollapsingHeader::new(title)
        .id_salt(id)
        .show(ui, form);
}

/// A tool the user started.
#[derive(Debug, Clone, Copy)]
enum Tool {
    Invite,
    Revoke,
    Export,
    Import,
}

impl Tool {
    /// Sends the tool's work to the store thread. The inner `Err` is a refusal from sync (a bad
    /// bundle, no address), already worded for the user.
    fn submit(
        self,
        f: &Tools,
        cx: &Cx<'_>,
    ) -> yizhan_node::handle::Pending<Result<String, String>> {
        let t = cx.t;
        match self {
            Tool::Invite => {
                let tier = f.tier;
                let station = Station {
                    code: f.code.trim().to_string(),
                    name: f.name.trim().to_string(),
                    tier,
                    parent: f.parent.trim().to_string(),
                };
                let days = f.days.trim().parse::<u32>().unwrap_or(7);
                let mut addr: Vec<String> = f
                    .addr
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
                // Without addresses typed in: this computer's network addresses (for another
                // machine) and then where the engine listens (for this one).
                if addr.is_empty()
                    && let Some(EngineState::Running { lan, addrs, .. }) =
                        cx.engine.map(|e| &e.state)
                {
                    addr.extend(lan.iter().chain(addrs).cloned());
                }
                cx.handle.submit(move |n| invite(n, station, days, addr, t))
            }
            Tool::Revoke => {
                let (id, reason) = (
                    f.revoke_id.trim().to_string(),
                    f.revoke_reason.trim().to_string(),
                );
                cx.handle.submit(move |n| {
                    n.revoke(&id, &reason)?;
                    Ok(Ok(format!(
                        "{} {}",
                        t.revoked,
                        yizhan_node::cert::short(&id)
                    )))
                })
            }
            Tool::Export => {
                let out = PathBuf::from(f.export_path.trim());
                let for_station = Some(f.export_for.trim().to_string()).filter(|s| !s.is_empty());
                cx.handle.submit(move |n| {
                    Ok(
                        match yizhan_sync::bundle::export(n, &out, for_station.as_deref()) {
                            Ok(r) => Ok(format!(
                                "{} {} · {} {} · {}",
                                t.bundle_docs,
                                r.docs,
                                t.bundle_bytes,
                                r.bytes,
                                out.display()
                            )),
                            Err(e) => Err(e.to_string()),
                        },
                    )
                })
            }
            Tool::Import => {
                let path = PathBuf::from(f.import_path.trim());
                cx.handle.submit(move |n| {
                    Ok(match yizhan_sync::bundle::import(n, &path) {
                        Ok(r) => Ok(format!(
                            "{} {} · {} {} · {} {} · {} {}",
                            t.bundle_docs,
                            r.docs,
                            t.bundle_changed,
                            r.changed,
                            t.bundle_unchanged,
                            r.unchanged,
                            t.bundle_out_of_scope,
                            r.out_of_scope
                        )),
                        Err(e) => Err(e.to_string()),
                    })
                })
            }
        }
    }
}

/// Makes an invitation and its ticket text, as `yizhan invite` does: the parent defaults to this
/// station for a village and to the city for a township; the addresses to where `serve` last
/// listened.
fn invite(
    n: &mut yizhan_node::Node,
    mut station: Station,
    days: u32,
    addr: Vec<String>,
    t: &'static crate::app::Tr,
) -> yizhan_node::Result<Result<String, String>> {
    let addrs = if addr.is_empty() {
        n.listen_addrs()?
    } else {
        addr
    };
    if addrs.is_empty() {
        return Ok(Err(t.no_address.to_string()));
    }
    if let Some(bad) = addrs
        .iter()
        .find(|a| a.parse::<std::net::SocketAddr>().is_err())
    {
        return Ok(Err(format!("{} {bad}", t.bad_address)));
    }
    if station.tier == Tier::City {
        station.parent.clear();
    } else if station.parent.is_empty() {
        station.parent = if station.tier == Tier::Village {
            n.identity().station.clone()
        } else {
            n.roster()
                .stations
                .values()
                .find(|s| s.parent.is_empty())
                .map(|s| s.code.clone())
                .unwrap_or_default()
        };
    }
    let ticket = yizhan_sync::ticket::Ticket::invite(n, station, days, addrs)?;
    Ok(Ok(ticket.encode()))
}
