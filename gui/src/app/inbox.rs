//! The inbox (待办), the screen the window opens on: what needs this station now
//! ([`yizhan_node::inbox`]), one section a kind of work, each with its count and its most urgent
//! cases; a click opens the case. It is read again whenever the data version moves (a write here,
//! or sync bringing work in), so the counts in the top bar follow what arrives.

use super::task::Task;
use super::widgets::light_tag;
use super::{Command, Cx, Tr};
use crate::app::ui_ext::UiExt as _;
use eframe::egui;
use yizhan_node::case::Light;
use yizhan_node::case::fold::Status;
use yizhan_node::inbox::{Inbox, Section};

/// The inbox panel.
#[derive(Debug, Default)]
pub struct InboxPanel {
    inbox: Option<Inbox>,
    fetched_for: Option<u64>,
    task: Task<Inbox>,
    seen_task: Task<()>,
    error: Option<String>,
}

fn title(t: &Tr, s: Section) -> (&'static str, &'static str) {
    match s {
        Section::Arrived => (t.inbox_arrived, t.inbox_arrived_hint),
        Section::Materials => (t.inbox_materials, t.inbox_materials_hint),
        Section::Due => (t.inbox_due, t.inbox_due_hint),
        Section::FollowUps => (t.inbox_follow_ups, t.inbox_follow_ups_hint),
        Section::Supervised => (t.inbox_supervised, t.inbox_supervised_hint),
        Section::News => (t.inbox_news, t.inbox_news_hint),
    }
}

impl InboxPanel {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.task.busy() || self.seen_task.busy()
    }

    /// The inbox as last read.
    pub fn inbox(&self) -> Option<&Inbox> {
        self.inbox.as_ref()
    }

    /// Reads the inbox again when the data version moved (also while another screen is shown, so
    /// that the count in the top bar stays true).
    pub fn poll(&mut self, cx: &Cx<'_>) {
        if let Some((_, r)) = self.task.poll() {
            match r {
                Ok(i) => {
                    self.inbox = Some(i);
                    self.error = None;
                }
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.seen_task.poll() {
            if let Err(e) = r {
                self.error = Some(cx.t.node_error(&e));
            }
            self.fetched_for = None;
        }
        if self.fetched_for != Some(cx.version) && !self.task.busy() {
            self.fetched_for = Some(cx.version);
            self.task.start(0, cx.handle.submit(|n| n.inbox()));
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        self.poll(cx);
        let t = cx.t;
        ui.horizontal(|ui| {
            ui.heading(t.screen_inbox);
            if let Some(i) = &self.inbox {
                ui.label(format!("{} {}", t.inbox_total, t.docs(i.to_do() as usize)));
            }
        });
        if let Some(e) = &self.error {
            super::widgets::error_line(ui, e);
        }
        let Some(inbox) = self.inbox.clone() else {
            ui.spinner();
            return;
        };
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("inbox")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for s in &inbox.sections {
                    let (name, hint) = title(t, s.section);
                    let header = format!("{name}（{}）", s.count);
                    egui::CollapsingHeader::new(egui::RichText::new(header).strong())
                        // Open when there is work: an empty section has a state of its own, so
                        // a section that fills up opens, whatever it was while empty.
                        .id_salt(("inbox", s.section as u8, s.count > 0))
                        .default_open(s.count > 0)
                        .show(ui, |ui| {
                            ui.weak(hint);
                            if s.section == Section::News
                                && s.count > 0
                                && ui.enabled_button(!self.seen_task.busy(), t.inbox_mark_seen)
                            {
                                self.seen_task
                                    .start(0, cx.handle.submit(|n| n.mark_inbox_seen()));
                            }
                            if s.rows.is_empty() {
                                ui.weak(t.inbox_empty);
                                return;
                            }
                            egui::Grid::new(("inbox-rows", s.section as u8))
                                .striped(true)
                                .num_columns(6)
                                .spacing([14.0, 4.0])
                                .show(ui, |ui| {
                                    for r in &s.rows {
                                        light_tag(ui, r.light.as_deref().and_then(Light::parse), t);
                                        if ui.link(&r.number).clicked() {
                                            cx.commands.push(Command::OpenCase(r.id.clone()));
                                        }
                                        ui.label(&r.item_name);
                                        ui.label(&r.applicant);
                                        ui.label(
                                            Status::parse(&r.status)
                                                .map_or(r.status.as_str(), |st| t.status(st)),
                                        );
                                        // A follow-up's 整改期限; a running clock's due
                                        // date; otherwise where the case came from.
                                        let follow_up = (s.section == Section::FollowUps)
                                            .then_some(r.follow_up_due.as_deref())
                                            .flatten();
                                        if let Some(d) = follow_up {
                                            ui.label(format!("{} {d}", t.follow_up_due));
                                        } else {
                                            ui.label(r.due_on.as_deref().map_or_else(
                                                || {
                                                    format!(
                                                        "{} {}",
                                                        t.inbox_from,
                                                        cx.info.station_name(&r.origin)
                                                    )
                                                },
                                                |d| {
                                                    let mark = if r.due_provisional {
                                                        t.provisional_mark
                                                    } else {
                                                        ""
                                                    };
                                                    format!("{} {d}{mark}", t.col_due)
                                                },
                                            ));
                                        }
                                        ui.end_row();
                                    }
                                });
                            if s.count as usize > s.rows.len() {
                                ui.weak(format!(
                                    "{} {}",
                                    t.inbox_more,
                                    s.count as usize - s.rows.len()
                                ));
                            }
                        });
                }
            });
    }
}
