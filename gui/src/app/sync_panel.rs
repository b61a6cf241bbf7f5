//! The sync panel: this node's id and addresses, and every known peer with its station, last
//! contact, last error, watermarks and the documents it has not been sent yet. In the demo county
//! it also shows the county's own per-station status.
//!
//! Sync itself runs elsewhere (`yizhan serve`, or the demo county's tasks); this panel reads the
//! node's records of it, fetched again when the data version moves and every two seconds while
//! shown (acknowledgements from peers do not move the node's change counter). A peer that still
//! lacks documents gets a progress bar: the share sent since the most it lacked while watched.
//!
//! The ticket tools — invite, revoke, bundle export and import — run on the node's store thread
//! (`NodeHandle::submit`) like every other store request; the result (the ticket text to copy, or
//! what the bundle did) is shown under the tools.

use super::county::County;
use super::task::Task;
use super::widgets::{error_line, field, time};
use super::{Command, Cx};
use eframe::egui;
use std::collections::HashMap;
use std::path::PathBuf;
use yizhan_node::network::Station;
use yizhan_node::replica::PeerRow;
use yizhan_node::station::Tier;

/// How often the peers are read again while the panel is shown.
const REFRESH_SECS: f64 = 2.0;

/// What the panel shows about one peer.
#[derive(Debug, Clone)]
pub struct PeerView {
    /// The peer's record.
    pub row: PeerRow,
    /// Documents written here in its scope that it has not acknowledged.
    pub pending: usize,
}

/// What the panel shows about this node.
#[derive(Debug, Clone, Default)]
pub struct SyncView {
    /// Listen addresses as last recorded by `serve`.
    pub addrs: Vec<String>,
    /// Peers.
    pub peers: Vec<PeerView>,
}

/// The invite, revoke and bundle forms.
#[derive(Debug)]
struct Tools {
    code: String,
    name: String,
    tier: Tier,
    parent: String,
    days: String,
    addr: String,
    revoke_id: String,
    revoke_reason: String,
    export_path: String,
    export_for: String,
    import_path: String,
    /// The tool in flight: its answer is the text to show, or the refusal.
    task: Task<Result<String, String>>,
    result: Option<Result<String, String>>,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            code: String::new(),
            name: String::new(),
            tier: Tier::Village,
            parent: String::new(),
            days: "7".into(),
            addr: String::new(),
            revoke_id: String::new(),
            revoke_reason: String::new(),
            export_path: String::new(),
            export_for: String::new(),
            import_path: String::new(),
            task: Task::default(),
            result: None,
        }
    }
}

/// The sync panel.
#[derive(Debug, Default)]
pub struct SyncPanel {
    fetched_for: Option<u64>,
    fetched_at: Option<f64>,
    view: Option<SyncView>,
    task: Task<SyncView>,
    error: Option<String>,
    /// The most documents each peer (by node id) lacked since it last had none.
    peak: HashMap<String, usize>,
    tools: Tools,
}

/// A progress bar for a peer that lacks `pending` documents of at most `peak` seen: it fills as
/// the peer catches up, and shows what is still to send.
fn progress(ui: &mut egui::Ui, pending: usize, peak: usize) {
    if pending == 0 || peak == 0 {
        ui.label("0");
        return;
    }
    let done = (peak - pending.min(peak)) as f32 / peak as f32;
    ui.add(
        egui::ProgressBar::new(done)
            .desired_width(120.0)
            .text(pending.to_string()),
    );
}

impl SyncPanel {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.task.busy() || self.tools.task.busy()
    }

    /// The last tool's answer: the text shown (a ticket, what a bundle did) or the refusal.
    pub fn tool_result(&self) -> Option<&Result<String, String>> {
        self.tools.result.as_ref()
    }

    fn note_peaks(&mut self) {
        let Some(v) = &self.view else { return };
        for p in &v.peers {
            if p.pending == 0 {
                self.peak.remove(&p.row.node_id);
            } else {
                let e = self.peak.entry(p.row.node_id.clone()).or_insert(0);
                *e = (*e).max(p.pending);
            }
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, county: Option<&dyn County>) {
        if let Some((_, r)) = self.task.poll() {
            match r {
                Ok(v) => {
                    self.view = Some(v);
                    self.note_peaks();
                }
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.tools.task.poll() {
            self.tools.result = Some(r.unwrap_or_else(|e| Err(cx.t.node_error(&e))));
            cx.commands.push(Command::Refresh);
        }
        let now = ui.input(|i| i.time);
        let stale = self.fetched_at.is_none_or(|t| now - t >= REFRESH_SECS);
        if (self.fetched_for != Some(cx.version) || stale) && !self.task.busy() {
            self.fetched_for = Some(cx.version);
            self.fetched_at = Some(now);
            self.task.start(
                0,
                cx.handle.submit(|n| {
                    let peers = n
                        .peers()?
                        .into_iter()
                        .map(|row| {
                            let pending = n.pending_for(&row)?;
                            Ok(PeerView { row, pending })
                        })
                        .collect::<yizhan_node::Result<Vec<_>>>()?;
                    Ok(SyncView {
                        addrs: n.listen_addrs()?,
                        peers,
                    })
                }),
            );
        }
        let t = cx.t;
        ui.horizontal(|ui| {
            ui.heading(t.screen_sync);
            if ui.button(t.refresh).clicked() {
                cx.commands.push(Command::Refresh);
            }
        });
        if let Some(e) = &self.error {
            error_line(ui, e);
        }
        egui::Grid::new("me").num_columns(2).show(ui, |ui| {
            ui.strong(t.node_id);
            ui.monospace(&cx.info.identity.node_id);
            ui.end_row();
            ui.strong(t.station);
            ui.label(format!(
                "{} ({}) · {} {}",
                cx.info.station.name, cx.info.station.code, t.ordinal, cx.info.identity.ordinal
            ));
            ui.end_row();
            ui.strong(t.seq);
            ui.label(cx.info.seq.to_string());
            ui.end_row();
            if let Some(v) = &self.view {
                ui.strong(t.addresses);
                ui.label(if v.addrs.is_empty() {
                    t.not_listening.to_string()
                } else {
                    v.addrs.join(", ")
                });
                ui.end_row();
            }
        });
        ui.separator();
        ui.strong(t.peers);
        match &self.view {
            None => {
                ui.spinner();
            }
            Some(v) if v.peers.is_empty() => {
                ui.weak(t.no_peers);
            }
            Some(v) => {
                egui::Grid::new("peers")
                    .striped(true)
                    .num_columns(6)
                    .spacing([12.0, 4.0])
                    .show(ui, |ui| {
                        for h in [
                            t.station,
                            t.node_id,
                            t.last_contact,
                            t.watermarks,
                            t.pending_docs,
                            t.last_error,
                        ] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for p in &v.peers {
                            ui.label(cx.info.station_name(&p.row.station));
                            ui.monospace(p.row.node_id.chars().take(12).collect::<String>());
                            ui.label(p.row.last_contact.map_or_else(|| t.never.to_string(), time));
                            ui.label(format!(
                                "{} {} / {} {}",
                                t.received, p.row.received_seq, t.acked, p.row.acked_seq
                            ));
                            progress(
                                ui,
                                p.pending,
                                self.peak.get(&p.row.node_id).copied().unwrap_or(0),
                            );
                            match &p.row.last_error {
                                Some(e) => error_line(ui, e),
                                None => {
                                    ui.label("");
                                }
                            }
                            ui.end_row();
                        }
                    });
            }
        }
        if let Some(c) = county {
            ui.separator();
            ui.strong(t.county_status);
            egui::Grid::new("county-sync")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for h in [t.station, t.peers_connected, t.pending_docs, t.last_contact] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for s in c.sync_status() {
                        ui.label(&s.label);
                        ui.label(s.connected_peers.to_string());
                        ui.label(s.pending_docs.to_string());
                        ui.label(s.last_sync_ms.map_or_else(|| t.never.to_string(), time));
                        ui.end_row();
                    }
                });
        }
        ui.separator();
        self.tools_ui(ui, cx);
    }

    fn tools_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let busy = self.tools.task.busy();
        let f = &mut self.tools;
        let mut start: Option<Tool> = None;
        ui.add_enabled_ui(!busy, |ui| {
            egui::CollapsingHeader::new(t.tool_invite)
                .id_salt("tool-invite")
                .show(ui, |ui| {
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
                        field(ui, t.invite_addr, &mut f.addr, 200.0)
                            .on_hover_text(t.invite_addr_hint);
                    });
                    let days = f.days.trim().parse::<u32>().ok();
                    let ready = !f.code.trim().is_empty() && !f.name.trim().is_empty();
                    if days.is_none() {
                        error_line(ui, t.valid_days_invalid);
                    }
                    if ui
                        .add_enabled(ready && days.is_some(), egui::Button::new(t.make_ticket))
                        .clicked()
                    {
                        start = Some(Tool::Invite);
                    }
                });
            egui::CollapsingHeader::new(t.tool_revoke)
                .id_salt("tool-revoke")
                .show(ui, |ui| {
                    ui.horizontal_wrapped(|ui| {
                        field(ui, t.node_id, &mut f.revoke_id, 420.0);
                        field(ui, t.reason, &mut f.revoke_reason, 200.0);
                    });
                    if ui
                        .add_enabled(
                            !f.revoke_id.trim().is_empty(),
                            egui::Button::new(t.revoke_button),
                        )
                        .clicked()
                    {
                        start = Some(Tool::Revoke);
                    }
                });
            egui::CollapsingHeader::new(t.tool_bundle)
                .id_salt("tool-bundle")
                .show(ui, |ui| {
                    ui.weak(t.tool_bundle_hint);
                    ui.horizontal_wrapped(|ui| {
                        field(ui, t.bundle_out, &mut f.export_path, 320.0);
                        field(ui, t.bundle_for, &mut f.export_for, 100.0)
                            .on_hover_text(t.bundle_for_hint);
                        if ui
                            .add_enabled(
                                !f.export_path.trim().is_empty(),
                                egui::Button::new(t.bundle_export),
                            )
                            .clicked()
                        {
                            start = Some(Tool::Export);
                        }
                    });
                    ui.horizontal_wrapped(|ui| {
                        field(ui, t.bundle_in, &mut f.import_path, 320.0);
                        if ui
                            .add_enabled(
                                !f.import_path.trim().is_empty(),
                                egui::Button::new(t.bundle_import),
                            )
                            .clicked()
                        {
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
        match &self.tools.result {
            Some(Ok(text)) => {
                let mut shown = text.clone();
                ui.add(
                    egui::TextEdit::multiline(&mut shown)
                        .desired_rows(2)
                        .desired_width(f32::INFINITY)
                        .interactive(true),
                );
                if ui.button(t.copy).clicked() {
                    ui.ctx().copy_text(text.clone());
                }
            }
            Some(Err(e)) => error_line(ui, e),
            None => {}
        }
        if let Some(tool) = start {
            self.tools.result = None;
            let task = tool.submit(&self.tools, cx);
            self.tools.task.start(0, task);
        }
    }
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
                    tier: tier.as_str().to_string(),
                    parent: f.parent.trim().to_string(),
                };
                let days = f.days.trim().parse::<u32>().unwrap_or(7);
                let addr: Vec<String> = f
                    .addr
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
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
    t: &'static super::Tr,
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
    if station.tier == Tier::City.as_str() {
        station.parent.clear();
    } else if station.parent.is_empty() {
        station.parent = if station.tier == Tier::Village.as_str() {
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
    let inv = n.invite(station, days)?;
    let ticket = yizhan_sync::ticket::Ticket {
        network_id: inv.network_id,
        network_name: n.roster().network_name.clone(),
        root_key: inv.root_key,
        inviter: inv.inviter,
        addrs,
        station: inv.station.code.clone(),
        station_name: inv.station.name.clone(),
        tier: inv.station.tier.clone(),
        secret: inv.secret,
        expires_at: inv.expires_at,
    };
    Ok(Ok(ticket.encode()))
}
