//! The case's notices (短信通知, issue #15): what this node sends for the case, each with its
//! state, attempts and the last failure, and a button to queue a failed one again. Only the
//! node that sends a notice holds it, so another station shows none.

use super::super::Cx;
use super::super::task::Task;
use eframe::egui;
use yizhan_node::notice::{Notice, NoticeKind, NoticeState};

/// How often the section reads the outbox again while the case is open: delivery changes no
/// document, so no change counter announces it.
const REFRESH_SECS: f64 = 2.0;

/// The notices section of the case detail.
#[derive(Debug, Default)]
pub(super) struct NoticesSection {
    case_id: Option<String>,
    rows: Vec<Notice>,
    task: Task<Vec<Notice>>,
    retry: Task<bool>,
    loaded_at: Option<f64>,
}

impl NoticesSection {
    pub(super) fn ui(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>, case_id: &str) {
        let t = cx.t;
        let now = ui.input(|i| i.time);
        if self.case_id.as_deref() != Some(case_id) {
            *self = NoticesSection {
                case_id: Some(case_id.to_string()),
                ..NoticesSection::default()
            };
        }
        if let Some((_, Ok(rows))) = self.task.poll() {
            self.rows = rows;
        }
        if self.retry.poll().is_some() {
            self.loaded_at = None;
        }
        let due = self.loaded_at.is_none_or(|at| now - at >= REFRESH_SECS);
        if due && !self.task.busy() {
            self.loaded_at = Some(now);
            let id = case_id.to_string();
            self.task
                .start(0, cx.handle.submit(move |n| n.case_notices(&id)));
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs_f64(REFRESH_SECS));
        ui.strong(t.notices_title);
        if self.rows.is_empty() {
            ui.weak(t.notices_none);
            return;
        }
        egui::Grid::new("case-notices")
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for n in &self.rows {
                    let kind =
                        NoticeKind::from_key(&n.kind).map_or(n.kind.as_str(), |k| k.label_zh());
                    ui.label(kind);
                    ui.label(n.phone_masked());
                    let state = ui.label(n.state.label_zh());
                    state.on_hover_text(&n.text);
                    ui.label(format!("{} {}", t.notice_attempts, n.attempts));
                    ui.horizontal(|ui| {
                        if !n.last_error.is_empty() {
                            ui.weak(&n.last_error);
                        }
                        if n.state == NoticeState::Failed
                            && ui.small_button(t.notice_retry).clicked()
                        {
                            let id = n.id.clone();
                            self.retry
                                .start(0, cx.handle.submit(move |node| node.retry_notice(&id)));
                        }
                    });
                    ui.end_row();
                }
            });
    }
}
