//! The sync panel: this node's id and addresses, and every known peer with its station, last
//! contact, last error, watermarks and the documents it has not been sent yet. In the demo county
//! it also shows the county's own per-station status.
//!
//! Sync itself runs elsewhere (`yizhan serve`, or the demo county's tasks); this panel reads the
//! node's records of it, fetched again when the data version moves.

use super::county::County;
use super::task::Task;
use super::widgets::{error_line, time};
use super::{Command, Cx};
use eframe::egui;
use yizhan_node::replica::PeerRow;

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

/// The sync panel.
#[derive(Debug, Default)]
pub struct SyncPanel {
    fetched_for: Option<u64>,
    view: Option<SyncView>,
    task: Task<SyncView>,
    error: Option<String>,
}

impl SyncPanel {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.task.busy()
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, county: Option<&dyn County>) {
        if let Some((_, r)) = self.task.poll() {
            match r {
                Ok(v) => self.view = Some(v),
                Err(e) => self.error = Some(e.to_string()),
            }
        }
        if self.fetched_for != Some(cx.version) && !self.task.busy() {
            self.fetched_for = Some(cx.version);
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
                            ui.label(p.pending.to_string());
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
        ui.weak(t.sync_cli_hint);
    }
}
