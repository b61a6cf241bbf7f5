//! The sync panel: this node's id and addresses, and every known peer with its station, last
//! contact, last error, watermarks and the documents it has not been sent yet. In the demo county
//! it also shows the county's own per-station status.
//!
//! Sync runs in the window's own engine ([`yizhan_sync::engine`]; or in `yizhan serve` beside
//! it, or the demo county's tasks). This panel shows the engine's state and live sessions (from
//! its status snapshot, every frame) beside the node's records of each peer — last completed
//! exchange, documents not yet acknowledged, last error in plain words — fetched again when the
//! data version moves and every two seconds while shown (every half second while a transfer
//! runs). A peer that still lacks documents gets a progress bar: the share sent since the most it
//! lacked while watched. "立即同步" asks the engine to dial or offer at once. Technical details
//! (node ids, watermarks, addresses) are folded away under 详情.
//!
//! The ticket tools — invite, revoke, bundle export and import — run on the node's store thread
//! (`NodeHandle::submit`) like every other store request; the result (the ticket text to copy, or
//! what the bundle did) is shown under the tools.

mod tools;

use super::county::County;
use super::task::Task;
use super::widgets::{ago, bytes, error_line, field, time};
use super::{Command, Cx};
use crate::app::ui_ext::{UiExt as _, table};
use eframe::egui;
use std::collections::HashMap;
use std::path::PathBuf;
use yizhan_node::network::Station;
use yizhan_node::replica::PeerRow;
use yizhan_node::station::Tier;
use yizhan_sync::engine::EngineState;

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
    /// Where to save a new ticket.
    save_path: String,
    /// A ticket being written to a file (on its own thread), and the outcome.
    save: Option<std::sync::mpsc::Receiver<Result<PathBuf, String>>>,
    saved: Option<Result<PathBuf, String>>,
    /// When the ticket was last copied (the "已复制" feedback shows for a moment).
    copied_at: Option<f64>,
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
            save_path: String::new(),
            save: None,
            saved: None,
            copied_at: None,
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
fn progress(ui: &mut egui::Ui, pending: usize, peak: usize, t: &super::Tr) {
    if pending == 0 || peak == 0 {
        ui.label(t.docs(0));
        return;
    }
    let done = (peak - pending.min(peak)) as f32 / peak as f32;
    ui.add(
        egui::ProgressBar::new(done)
            .desired_width(120.0)
            .text(t.docs(pending)),
    );
}

/// How the engine is doing, in one line.
fn engine_line(ui: &mut egui::Ui, cx: &Cx<'_>) {
    let t = cx.t;
    match cx.engine.map(|e| &e.state) {
        None => {
            ui.weak(t.engine_none);
        }
        Some(EngineState::Starting) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(t.engine_starting);
            });
        }
        Some(EngineState::Elsewhere(holder)) => {
            let who = holder.as_ref().map_or_else(String::new, |h| {
                format!(
                    "（{} {}）",
                    if h.program == "serve" {
                        "yizhan serve"
                    } else {
                        t.engine_other_window
                    },
                    h.pid
                )
            });
            ui.label(format!("{}{who}", t.engine_elsewhere));
        }
        Some(EngineState::Running {
            addrs, port_moved, ..
        }) => {
            ui.label(format!(
                "{} · {} {}",
                t.engine_running,
                t.listening_on,
                addrs.join(", ")
            ));
            if let Some(p) = port_moved {
                error_line(ui, &format!("{} {p}", t.port_moved));
            }
        }
        Some(EngineState::Failed(e)) => error_line(ui, &format!("{}：{e}", t.engine_failed)),
        Some(EngineState::Stopped) => {
            ui.weak(t.engine_stopped);
        }
    }
}

impl SyncPanel {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.task.busy() || self.tools.task.busy() || self.tools.save.is_some()
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
                    self.error = None;
                    self.note_peaks();
                }
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.tools.task.poll() {
            self.tools.result = Some(r.unwrap_or_else(|e| Err(cx.t.node_error(&e))));
            self.tools.saved = None;
            cx.commands.push(Command::Refresh);
        }
        let now = ui.input(|i| i.time);
        // While a transfer runs the peers are read more often, so that the bars move.
        let transferring = cx.engine.is_some_and(|e| {
            e.live
                .values()
                .any(|l| l.awaiting > 0 || l.unsent_bytes > 0)
        });
        let every = if transferring { 0.5 } else { REFRESH_SECS };
        let stale = self.fetched_at.is_none_or(|t| now - t >= every);
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
        let running = matches!(
            cx.engine.map(|e| &e.state),
            Some(EngineState::Running { .. })
        );
        ui.horizontal(|ui| {
            ui.heading(t.screen_sync);
            // Only where this window runs the engine (not in the demo county).
            if cx.engine.is_some() && ui.enabled_button(running, t.sync_now_all) {
                cx.commands.push(Command::SyncNow(None));
            }
            if ui.button(t.refresh).clicked() {
                cx.commands.push(Command::Refresh);
            }
        });
        // The demo county syncs its stations itself (its links are on the left).
        if county.is_none() {
            engine_line(ui, cx);
        }
        if let Some(e) = &self.error {
            error_line(ui, e);
        }
        ui.separator();
        let now_ms = cx.info.clock.now_ms();
        match &self.view {
            None => {
                ui.spinner();
            }
            Some(v) if v.peers.is_empty() => {
                ui.weak(t.no_peers);
            }
            Some(v) => {
                let mut kick = None;
                table(
                    ui,
                    "peers",
                    [16.0, 6.0],
                    &[
                        t.station,
                        t.peer_state,
                        t.last_contact,
                        t.pending_docs,
                        t.last_error,
                        "",
                    ],
                    |ui| {
                        for p in &v.peers {
                            let live = cx.engine.and_then(|e| e.live.get(&p.row.node_id));
                            let name = if p.row.station.is_empty() {
                                yizhan_node::cert::short(&p.row.node_id).to_string()
                            } else {
                                cx.info.station_name(&p.row.station)
                            };
                            ui.label(name);
                            match live {
                                Some(l) if l.awaiting > 0 || l.unsent_bytes > 0 => {
                                    ui.horizontal(|ui| {
                                        ui.spinner();
                                        ui.label(format!(
                                            "{} · {} {} · {} {}",
                                            t.syncing,
                                            t.to_receive,
                                            t.docs(l.awaiting),
                                            t.bytes_left,
                                            bytes(l.unsent_bytes)
                                        ));
                                    });
                                }
                                Some(_) => {
                                    ui.label(t.connected);
                                }
                                None if cx.engine.is_some() => {
                                    ui.weak(t.not_connected);
                                }
                                None => {
                                    ui.label("");
                                }
                            }
                            ui.label(
                                p.row
                                    .last_contact
                                    .map_or_else(|| t.never.to_string(), |ms| ago(now_ms, ms, t)),
                            )
                            .on_hover_text(p.row.last_contact.map(time).unwrap_or_default());
                            progress(
                                ui,
                                p.pending,
                                self.peak.get(&p.row.node_id).copied().unwrap_or(0),
                                t,
                            );
                            match &p.row.last_error {
                                Some(e) => {
                                    ui.colored_label(ui.visuals().error_fg_color, t.sync_error(e))
                                        .on_hover_text(e);
                                }
                                None => {
                                    ui.label("");
                                }
                            }
                            if cx.engine.is_some() && ui.enabled_button(running, t.sync_now) {
                                kick = Some(p.row.node_id.clone());
                            }
                            ui.end_row();
                        }
                    },
                );
                if let Some(peer) = kick {
                    cx.commands.push(Command::SyncNow(Some(peer)));
                }
            }
        }
        if let Some(c) = county {
            ui.separator();
            ui.strong(t.county_status);
            egui::Grid::new("county-sync")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    ui.header_row(&[t.station, t.peers_connected, t.pending_docs, t.last_contact]);
                    for s in c.sync_status() {
                        ui.label(&s.label);
                        ui.label(s.connected_peers.to_string());
                        ui.label(t.docs(s.pending_docs));
                        ui.label(
                            s.last_sync_ms
                                .map_or_else(|| t.never.to_string(), |ms| ago(now_ms, ms, t)),
                        );
                        ui.end_row();
                    }
                });
        }
        ui.separator();
        self.details_ui(ui, cx);
        self.tools_ui(ui, cx);
    }

    /// The technical details, folded: node id, change counter, addresses, watermarks.
    fn details_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        egui::CollapsingHeader::new(t.sync_details)
            .id_salt("sync-details")
            .show(ui, |ui| {
                egui::Grid::new("me").num_columns(2).show(ui, |ui| {
                    ui.strong(t.node_id);
                    ui.monospace(&cx.info.identity.node_id);
                    ui.end_row();
                    ui.strong(t.station);
                    ui.label(format!(
                        "{} ({}) · {} {}",
                        cx.info.station.name,
                        cx.info.station.code,
                        t.ordinal,
                        cx.info.identity.ordinal
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
                    if let Some(EngineState::Running { lan, .. }) = cx.engine.map(|e| &e.state) {
                        ui.strong(t.lan_addrs);
                        ui.label(if lan.is_empty() {
                            "-".to_string()
                        } else {
                            lan.join(", ")
                        });
                        ui.end_row();
                    }
                });
                if let Some(v) = &self.view {
                    egui::Grid::new("peer-details")
                        .striped(true)
                        .num_columns(4)
                        .show(ui, |ui| {
                            ui.header_row(&[t.station, t.node_id, t.watermarks, t.addresses]);
                            for p in &v.peers {
                                ui.label(cx.info.station_name(&p.row.station));
                                ui.monospace(p.row.node_id.chars().take(16).collect::<String>());
                                ui.label(format!(
                                    "{} {} / {} {}",
                                    t.received, p.row.received_seq, t.acked, p.row.acked_seq
                                ));
                                ui.label(p.row.addrs.join(", "));
                                ui.end_row();
                            }
                        });
                }
            });
    }
}
