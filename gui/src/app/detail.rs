//! One case: what it is, its timeline, and every action the station may take now.
//!
//! When a case is opened, its view (document, folded state, deadlines) is read on the store
//! thread, and then every action is checked there with `Node::check_action` — the same checks
//! (tier, fields, the transition table) that `Node::act` applies before writing. Allowed actions
//! are shown with their forms; the others are listed with the node's reason, so that what the
//! station may not do is never offered as a button. A click becomes a [`Command::Act`]; the
//! node's answer (the new view, or its refusal) comes back through the app.

use super::receipt::{self, Paper};
use super::task::Task;
use super::widgets::{error_line, field, field_multiline, light_dot, time};
use super::{Command, Cx, StationInfo};
use eframe::egui;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use yizhan_node::CaseView;
use yizhan_node::case::Action;
use yizhan_node::idcard::mask_id_number;
use yizhan_node::station::Tier;

/// The forms' contents.
#[derive(Debug, Default)]
struct Forms {
    forward_to: Option<String>,
    gaps_missing: String,
    gaps_promise: String,
    refuse_reason: String,
    missing: String,
    suspend_reason: String,
    reject_reason: String,
    decline_reason: String,
    rating: u8,
    rating_comment: String,
    follow_up: String,
    consult_with: Option<String>,
    consult_minutes: String,
    consult_summary: String,
    note: String,
    settle_note: String,
}

/// The case detail panel.
#[derive(Debug, Default)]
pub struct DetailPanel {
    case_id: Option<String>,
    view: Option<CaseView>,
    loaded_version: u64,
    load: Task<CaseView>,
    probes: BTreeMap<String, Result<(), String>>,
    probe_task: Task<Vec<(String, Result<(), String>)>>,
    probe_tag: u64,
    forms: Forms,
    error: Option<String>,
    print: Printing,
    /// When the case number was last copied (the "已复制" feedback shows for a moment).
    copied_at: Option<f64>,
}

/// The printable documents of the open case: where to write them, and the write in flight.
#[derive(Debug, Default)]
struct Printing {
    path: String,
    /// The case the path was defaulted for, so that a path the user typed is kept until another
    /// case is shown.
    defaulted_for: Option<String>,
    result: Option<Receiver<Result<String, String>>>,
    message: Option<Result<String, String>>,
    /// Printing or opening the written file, and its outcome.
    system: Option<Receiver<Result<String, String>>>,
    system_message: Option<Result<String, String>>,
}

/// `<data dir>/documents/<case number>-<document>.pdf`: beside the store, so that a station finds its
/// printed documents in one place, and named so that the two documents of a case do not overwrite
/// each other.
fn default_pdf_path(info: &StationInfo, number: &str, paper: Paper) -> String {
    let name = match paper {
        Paper::Receipt => "receipt",
        Paper::Notice => "notice",
    };
    info.data_dir
        .join("documents")
        .join(format!("{number}-{name}.pdf"))
        .display()
        .to_string()
}

/// Placeholder text for checking actions whose text the user has not typed yet: the check is
/// about whether the action is allowed now, and the node checks the real text when it writes.
const PROBE_TEXT: &str = "(check)";

impl DetailPanel {
    /// Whether a case is open.
    pub fn is_open(&self) -> bool {
        self.case_id.is_some()
    }

    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.load.busy() || self.probe_task.busy() || self.print.result.is_some()
    }

    /// Opens a case by id or number.
    pub fn open(&mut self, id: String) {
        *self = DetailPanel {
            case_id: Some(id),
            ..DetailPanel::default()
        };
    }

    /// Back to the list.
    pub fn close(&mut self) {
        *self = DetailPanel::default();
    }

    /// Shows a view the node has just returned (after an action or intake).
    pub fn show_view(&mut self, view: CaseView) {
        if self.case_id.as_deref() != Some(view.doc.id.as_str()) {
            self.forms = Forms::default();
        }
        self.case_id = Some(view.doc.id.clone());
        self.view = Some(view);
        self.probes.clear();
        // The view is current; probing starts in the next frame with the panel's version.
        self.loaded_version = 0;
        self.error = None;
    }

    /// Shows the node's refusal of an action.
    pub fn set_error(&mut self, e: String) {
        self.error = Some(e);
    }

    /// Clears the last refusal (a new action is on its way).
    pub fn clear_error(&mut self) {
        self.error = None;
    }

    fn poll(&mut self, cx: &Cx<'_>) {
        if let Some((_, r)) = self.load.poll() {
            match r {
                Ok(view) => {
                    self.case_id = Some(view.doc.id.clone());
                    self.view = Some(view);
                    self.start_probes(cx);
                }
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((tag, r)) = self.probe_task.poll()
            && tag == self.probe_tag
        {
            match r {
                Ok(results) => self.probes = results.into_iter().collect(),
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        let Some(id) = self.case_id.clone() else {
            return;
        };
        if self.loaded_version != cx.version && !self.load.busy() {
            self.loaded_version = cx.version;
            if self.view.is_some() && self.view.as_ref().is_some_and(|v| v.doc.id == id) {
                // A view just came back from a write: it is current, only probe it. Later
                // version moves (sync, other writers) reload it.
                if self.probes.is_empty() && !self.probe_task.busy() {
                    self.start_probes(cx);
                    return;
                }
            }
            self.load
                .start(cx.version, cx.handle.submit(move |n| n.case(&id)));
        }
    }

    fn default_forward(&self, info: &StationInfo, holder: &str) -> Option<String> {
        if let Some(to) = &self.forms.forward_to {
            return Some(to.clone());
        }
        let me = &info.station;
        if !me.parent.is_empty() && me.parent != holder {
            return Some(me.parent.clone());
        }
        info.stations
            .iter()
            .find(|s| s.code != holder && s.parent == me.code)
            .or_else(|| info.stations.iter().find(|s| s.code != holder))
            .map(|s| s.code.clone())
    }

    /// Every action worth checking for this case, with the key its result is shown under.
    fn candidates(&self, info: &StationInfo, view: &CaseView) -> Vec<(String, Action)> {
        let text = || PROBE_TEXT.to_string();
        let mut c: Vec<(String, Action)> = vec![
            ("accept".into(), Action::Accept),
            (
                "accept_with_gaps".into(),
                Action::AcceptWithGaps {
                    missing: vec![text()],
                    promise: text(),
                },
            ),
            ("refuse".into(), Action::Refuse { reason: text() }),
            (
                "request_materials".into(),
                Action::RequestMaterials {
                    missing: vec![text()],
                },
            ),
            ("suspend".into(), Action::Suspend { reason: text() }),
            ("resume".into(), Action::Resume),
            ("complete".into(), Action::Complete),
            ("decline".into(), Action::Decline { reason: text() }),
            ("deliver".into(), Action::Deliver),
            (
                "rate".into(),
                Action::Rate {
                    level: 1,
                    comment: String::new(),
                },
            ),
            ("follow_up".into(), Action::FollowUp { summary: text() }),
            ("note".into(), Action::Note { text: text() }),
            ("settle".into(), Action::Settle { note: text() }),
        ];
        if let Some(to) = self.default_forward(info, &view.state.holder) {
            c.push(("forward".into(), Action::Forward { to: to.clone() }));
            c.push((
                "consult".into(),
                Action::Consult {
                    with: self.forms.consult_with.clone().unwrap_or(to),
                    minutes: 1,
                    summary: text(),
                },
            ));
        }
        for dept in &view.doc.item.departments {
            c.push((
                format!("approve:{dept}"),
                Action::Approve { dept: dept.clone() },
            ));
            c.push((
                format!("reject:{dept}"),
                Action::Reject {
                    dept: dept.clone(),
                    reason: text(),
                },
            ));
        }
        c
    }

    fn start_probes(&mut self, cx: &Cx<'_>) {
        let Some(view) = &self.view else { return };
        let id = view.doc.id.clone();
        let candidates = self.candidates(cx.info, view);
        self.probe_tag += 1;
        let t = cx.t;
        self.probe_task.start(
            self.probe_tag,
            cx.handle.submit(move |n| {
                Ok(candidates
                    .into_iter()
                    .map(|(key, action)| {
                        let r = n.check_action(&id, &action).map_err(|e| t.node_error(&e));
                        (key, r)
                    })
                    .collect())
            }),
        );
    }

    /// Draws the case.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        self.poll(cx);
        let t = cx.t;
        ui.horizontal(|ui| {
            if ui.button(t.back_to_list).clicked() {
                cx.commands.push(Command::CloseCase);
            }
            if let Some(v) = &self.view {
                ui.heading(format!("{} {}", t.case_number, v.doc.number));
                if ui
                    .small_button(t.copy)
                    .on_hover_text(t.copy_number)
                    .clicked()
                {
                    ui.ctx().copy_text(v.doc.number.clone());
                    self.copied_at = Some(ui.input(|i| i.time));
                }
                let now = ui.input(|i| i.time);
                if self.copied_at.is_some_and(|at| now - at < 3.0) {
                    ui.label(egui::RichText::new(format!("✔ {}", t.copied)).strong());
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(500));
                }
                if v.state.conflict() {
                    ui.colored_label(ui.visuals().warn_fg_color, t.conflict_flag);
                }
            }
        });
        if let Some(e) = &self.error {
            error_line(ui, &format!("{}: {e}", t.refused));
        }
        ui.separator();
        let Some(view) = self.view.clone() else {
            ui.spinner();
            return;
        };
        egui::Panel::right("case-actions")
            .resizable(true)
            .default_size(380.0)
            .min_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("actions-scroll")
                    .show(ui, |ui| self.actions(ui, cx, &view));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("case-scroll")
                .show(ui, |ui| {
                    summary(ui, cx, &view);
                    ui.separator();
                    self.print_section(ui, cx, &view);
                    ui.separator();
                    timeline(ui, cx, &view);
                });
        });
    }

    /// The receipt and the one-time notice: a path (defaulted under the data directory for this
    /// case), one button per document, and the answer of the background write.
    fn print_section(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>, view: &CaseView) {
        let t = cx.t;
        let p = &mut self.print;
        if let Some(rx) = &p.result
            && let Ok(r) = rx.try_recv()
        {
            p.message = Some(r);
            p.result = None;
        }
        let number = &view.doc.number;
        if p.defaulted_for.as_deref() != Some(view.doc.id.as_str()) {
            p.path = default_pdf_path(cx.info, number, Paper::Receipt);
            p.defaulted_for = Some(view.doc.id.clone());
            p.message = None;
            p.system_message = None;
        }
        ui.strong(t.print_heading);
        ui.horizontal_wrapped(|ui| {
            field(ui, t.pdf_file, &mut p.path, 420.0);
        });
        ui.horizontal_wrapped(|ui| {
            for (paper, label) in [
                (Paper::Receipt, t.print_receipt),
                (Paper::Notice, t.print_notice),
            ] {
                if ui
                    .add_enabled(p.result.is_none(), egui::Button::new(label))
                    .clicked()
                {
                    // Each document has its own default file name, so that printing both does
                    // not overwrite the first; a path the user typed is kept as it is.
                    let is_default = [Paper::Receipt, Paper::Notice]
                        .iter()
                        .any(|q| p.path == default_pdf_path(cx.info, number, *q));
                    if is_default {
                        p.path = default_pdf_path(cx.info, number, paper);
                    }
                    let doc = receipt::document(paper, view, &cx.info.station.name, t);
                    p.result = Some(receipt::write_in_background(doc, p.path.clone(), t));
                    p.message = None;
                }
            }
            if p.result.is_some() {
                ui.spinner();
                ui.weak(t.pdf_writing);
            }
        });
        if let Some(rx) = &p.system
            && let Ok(r) = rx.try_recv()
        {
            p.system_message = Some(r);
            p.system = None;
        }
        match &p.message {
            Some(Ok(path)) => {
                // The whole path, wrapped: a clerk has to find the file.
                ui.add(egui::Label::new(format!("{} {path}", t.pdf_written)).wrap());
                let written = PathBuf::from(path);
                ui.horizontal(|ui| {
                    let idle = p.system.is_none();
                    if ui
                        .add_enabled(idle, egui::Button::new(t.print_button))
                        .clicked()
                    {
                        p.system = Some(super::system::print(written.clone(), t));
                        p.system_message = None;
                    }
                    if ui
                        .add_enabled(idle, egui::Button::new(t.open_button))
                        .clicked()
                    {
                        p.system = Some(super::system::open(written.clone(), t));
                        p.system_message = None;
                    }
                    if !idle {
                        ui.spinner();
                    }
                });
                match &p.system_message {
                    Some(Ok(m)) => {
                        ui.add(egui::Label::new(m).wrap());
                    }
                    Some(Err(e)) => {
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(e).color(ui.visuals().error_fg_color),
                            )
                            .wrap(),
                        );
                    }
                    None => {}
                }
            }
            Some(Err(e)) => error_line(ui, e),
            None => {}
        }
    }

    fn actions(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, view: &CaseView) {
        let t = cx.t;
        let id = view.doc.id.clone();
        let writing = cx.writing;
        let mut act: Option<Action> = None;
        ui.heading(t.actions);
        if self.probes.is_empty() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(t.checking_actions);
            });
            return;
        }
        let probes = self.probes.clone();
        let ok = |key: &str| matches!(probes.get(key), Some(Ok(())));

        if view.state.conflict() && ok("settle") {
            ui.group(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, t.conflict_explain);
                field_multiline(ui, t.settle_note, &mut self.forms.settle_note);
                if ui
                    .add_enabled(!writing, egui::Button::new(t.act_settle))
                    .clicked()
                {
                    act = Some(Action::Settle {
                        note: self.forms.settle_note.trim().to_string(),
                    });
                }
            });
        }

        // Acceptance.
        ui.horizontal_wrapped(|ui| {
            if ok("accept")
                && ui
                    .add_enabled(!writing, egui::Button::new(t.act_accept))
                    .clicked()
            {
                act = Some(Action::Accept);
            }
            if ok("resume")
                && ui
                    .add_enabled(!writing, egui::Button::new(t.act_resume))
                    .clicked()
            {
                act = Some(Action::Resume);
            }
            if ok("complete")
                && ui
                    .add_enabled(!writing, egui::Button::new(t.act_complete))
                    .clicked()
            {
                act = Some(Action::Complete);
            }
            if ok("deliver")
                && ui
                    .add_enabled(!writing, egui::Button::new(t.act_deliver))
                    .clicked()
            {
                act = Some(Action::Deliver);
            }
        });

        if ok("forward") {
            ui.group(|ui| {
                let holder = view.state.holder.clone();
                let current = self.default_forward(cx.info, &holder);
                ui.horizontal_wrapped(|ui| {
                    let l = ui.label(t.forward_to);
                    let name = current
                        .as_deref()
                        .map_or_else(String::new, |c| cx.info.station_name(c));
                    egui::ComboBox::from_id_salt("forward-to")
                        .selected_text(name)
                        .width(200.0)
                        .show_ui(ui, |ui| {
                            for s in cx.info.stations.iter().filter(|s| s.code != holder) {
                                if ui
                                    .selectable_label(current.as_deref() == Some(&s.code), &s.name)
                                    .clicked()
                                {
                                    self.forms.forward_to = Some(s.code.clone());
                                }
                            }
                        })
                        .response
                        .labelled_by(l.id);
                });
                if ui
                    .add_enabled(
                        !writing && current.is_some(),
                        egui::Button::new(t.act_forward),
                    )
                    .clicked()
                    && let Some(to) = current
                {
                    act = Some(Action::Forward { to });
                }
            });
        }

        if ok("request_materials") {
            ui.group(|ui| {
                if self.forms.missing.is_empty() {
                    self.forms.missing = view.doc.item.materials.join("；");
                }
                field_multiline(ui, t.missing_list, &mut self.forms.missing);
                ui.weak(t.list_hint);
                let missing = Action::parse_list(&self.forms.missing);
                if ui
                    .add_enabled(
                        !writing && !missing.is_empty(),
                        egui::Button::new(t.act_request_materials),
                    )
                    .clicked()
                {
                    act = Some(Action::RequestMaterials { missing });
                }
            });
        }

        if ok("accept_with_gaps") {
            ui.collapsing(t.act_accept_with_gaps, |ui| {
                field(ui, t.gaps_missing, &mut self.forms.gaps_missing, 260.0);
                field(ui, t.gaps_promise, &mut self.forms.gaps_promise, 260.0);
                let missing = Action::parse_list(&self.forms.gaps_missing);
                if ui
                    .add_enabled(
                        !writing && !missing.is_empty(),
                        egui::Button::new(t.act_accept_with_gaps_submit),
                    )
                    .clicked()
                {
                    act = Some(Action::AcceptWithGaps {
                        missing,
                        promise: self.forms.gaps_promise.trim().to_string(),
                    });
                }
            });
        }

        let approvals: Vec<&String> = view
            .doc
            .item
            .departments
            .iter()
            .filter(|d| ok(&format!("approve:{d}")) || ok(&format!("reject:{d}")))
            .collect();
        if !approvals.is_empty() {
            ui.group(|ui| {
                ui.strong(t.approvals);
                egui::Grid::new("approve-grid")
                    .num_columns(3)
                    .spacing([6.0, 4.0])
                    .show(ui, |ui| {
                        for dept in approvals {
                            ui.label(dept.as_str());
                            if ok(&format!("approve:{dept}")) {
                                if ui
                                    .add_enabled(
                                        !writing,
                                        egui::Button::new(format!("{} {dept}", t.act_approve)),
                                    )
                                    .clicked()
                                {
                                    act = Some(Action::Approve { dept: dept.clone() });
                                }
                            } else {
                                ui.label("");
                            }
                            if ok(&format!("reject:{dept}"))
                                && ui
                                    .add_enabled(
                                        !writing && !self.forms.reject_reason.trim().is_empty(),
                                        egui::Button::new(format!("{} {dept}", t.act_reject)),
                                    )
                                    .on_disabled_hover_text(t.reason_needed)
                                    .clicked()
                            {
                                act = Some(Action::Reject {
                                    dept: dept.clone(),
                                    reason: self.forms.reject_reason.trim().to_string(),
                                });
                            }
                            ui.end_row();
                        }
                    });
                field(ui, t.reject_reason, &mut self.forms.reject_reason, 260.0);
            });
        }

        for (key, label, submit, reason) in [
            ("suspend", t.suspend_reason, t.act_suspend, 0),
            ("refuse", t.refuse_reason, t.act_refuse, 1),
            ("decline", t.decline_reason, t.act_decline, 2),
        ] {
            if !ok(key) {
                continue;
            }
            ui.collapsing(submit, |ui| {
                let text = match reason {
                    0 => &mut self.forms.suspend_reason,
                    1 => &mut self.forms.refuse_reason,
                    _ => &mut self.forms.decline_reason,
                };
                field(ui, label, text, 260.0);
                let r = text.trim().to_string();
                if ui
                    .add_enabled(!writing && !r.is_empty(), egui::Button::new(submit))
                    .on_disabled_hover_text(t.reason_needed)
                    .clicked()
                {
                    act = Some(match reason {
                        0 => Action::Suspend { reason: r },
                        1 => Action::Refuse { reason: r },
                        _ => Action::Decline { reason: r },
                    });
                }
            });
        }

        if ok("rate") {
            ui.group(|ui| {
                ui.strong(t.rating);
                ui.horizontal_wrapped(|ui| {
                    for level in 1..=5u8 {
                        ui.radio_value(&mut self.forms.rating, level, t.rating_level(level));
                    }
                });
                field(ui, t.rating_comment, &mut self.forms.rating_comment, 260.0);
                if ui
                    .add_enabled(
                        !writing && (1..=5).contains(&self.forms.rating),
                        egui::Button::new(t.act_rate),
                    )
                    .clicked()
                {
                    act = Some(Action::Rate {
                        level: self.forms.rating,
                        comment: self.forms.rating_comment.trim().to_string(),
                    });
                }
            });
        }

        if ok("follow_up") {
            ui.group(|ui| {
                field_multiline(ui, t.follow_up_summary, &mut self.forms.follow_up);
                if ui
                    .add_enabled(
                        !writing && !self.forms.follow_up.trim().is_empty(),
                        egui::Button::new(t.act_follow_up),
                    )
                    .clicked()
                {
                    act = Some(Action::FollowUp {
                        summary: self.forms.follow_up.trim().to_string(),
                    });
                }
            });
        }

        if ok("consult") {
            ui.collapsing(t.act_consult, |ui| {
                let me = cx.info.station.code.clone();
                let current = self
                    .forms
                    .consult_with
                    .clone()
                    .or_else(|| self.default_forward(cx.info, &me));
                ui.horizontal_wrapped(|ui| {
                    let l = ui.label(t.consult_with);
                    egui::ComboBox::from_id_salt("consult-with")
                        .selected_text(
                            current
                                .as_deref()
                                .map_or_else(String::new, |c| cx.info.station_name(c)),
                        )
                        .width(200.0)
                        .show_ui(ui, |ui| {
                            for s in cx.info.stations.iter().filter(|s| s.code != me) {
                                if ui
                                    .selectable_label(current.as_deref() == Some(&s.code), &s.name)
                                    .clicked()
                                {
                                    self.forms.consult_with = Some(s.code.clone());
                                }
                            }
                        })
                        .response
                        .labelled_by(l.id);
                });
                field(ui, t.consult_minutes, &mut self.forms.consult_minutes, 60.0);
                field_multiline(ui, t.consult_summary, &mut self.forms.consult_summary);
                let minutes: Option<u32> = self.forms.consult_minutes.trim().parse().ok();
                if minutes.is_none() && !self.forms.consult_minutes.trim().is_empty() {
                    error_line(ui, t.minutes_hint);
                }
                if ui
                    .add_enabled(
                        !writing && minutes.is_some() && current.is_some(),
                        egui::Button::new(t.act_consult_submit),
                    )
                    .clicked()
                    && let (Some(minutes), Some(with)) = (minutes, current)
                {
                    act = Some(Action::Consult {
                        with,
                        minutes,
                        summary: self.forms.consult_summary.trim().to_string(),
                    });
                }
            });
        }

        if ok("note") {
            ui.collapsing(t.act_note, |ui| {
                field_multiline(ui, t.note_text, &mut self.forms.note);
                if ui
                    .add_enabled(
                        !writing && !self.forms.note.trim().is_empty(),
                        egui::Button::new(t.act_note_submit),
                    )
                    .clicked()
                {
                    act = Some(Action::Note {
                        text: self.forms.note.trim().to_string(),
                    });
                }
            });
        }

        // What the station may not do now, and why (the node's own words).
        let refused: Vec<(&String, &String)> = self
            .probes
            .iter()
            .filter_map(|(k, r)| r.as_ref().err().map(|e| (k, e)))
            .collect();
        if !refused.is_empty() {
            ui.separator();
            egui::CollapsingHeader::new(format!("{} ({})", t.not_allowed_now, refused.len()))
                .id_salt("not-allowed")
                .show(ui, |ui| {
                    for (key, why) in refused {
                        ui.label(
                            egui::RichText::new(format!("{}: {why}", t.action_key(key))).small(),
                        );
                    }
                });
        }

        if let Some(action) = act {
            cx.commands.push(Command::Act { case: id, action });
        }
    }

    /// The probe results (for tests): action key → allowed or the node's reason.
    pub fn probe_results(&self) -> &BTreeMap<String, Result<(), String>> {
        &self.probes
    }

    /// The case shown, if it has been read.
    pub fn view(&self) -> Option<&CaseView> {
        self.view.as_ref()
    }
}

fn summary(ui: &mut egui::Ui, cx: &Cx<'_>, view: &CaseView) {
    let t = cx.t;
    let info = cx.info;
    let doc = &view.doc;
    let st = &view.state;
    // Grid cells grow to fit their text instead of wrapping, so the long lines (the deadline
    // dates, a delegation's materials) are given the width left beside the names and wrap in
    // it; at 1024 pixels they would otherwise run off the panel.
    let width = (ui.available_width() - 120.0).max(160.0);
    let value = move |ui: &mut egui::Ui, text: String| {
        ui.scope(|ui| {
            ui.set_max_width(width);
            ui.add(egui::Label::new(text).wrap());
        });
    };
    egui::Grid::new("case-summary")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.strong(t.col_item);
            value(
                ui,
                format!(
                    "{} {} · {} · {} {} / {} {}",
                    doc.item.code,
                    doc.item.name,
                    t.kind(&doc.item.kind),
                    t.promised,
                    doc.item.promised_days,
                    t.legal,
                    doc.item.legal_days
                ),
            );
            ui.end_row();
            ui.strong(t.col_applicant);
            let mut who = doc.applicant.name.clone();
            if !doc.applicant.id_number.is_empty() {
                who.push_str(&format!(" · {}", mask_id_number(&doc.applicant.id_number)));
            }
            if !doc.applicant.phone.is_empty() {
                who.push_str(&format!(
                    " · {}",
                    yizhan_node::idcard::mask_phone(&doc.applicant.phone)
                ));
            }
            if !doc.applicant.address.is_empty() {
                who.push_str(&format!(" · {}", doc.applicant.address));
            }
            value(ui, who);
            ui.end_row();
            if let Some(d) = &doc.delegation {
                ui.strong(t.delegation);
                value(
                    ui,
                    format!(
                        "{} {} · {} {} · {} {}",
                        t.agent,
                        d.agent,
                        t.entrustment,
                        if d.entrustment { t.yes } else { t.no },
                        t.handed_over,
                        if d.handed_over.is_empty() {
                            "—".to_string()
                        } else {
                            d.handed_over.join("；")
                        }
                    ),
                );
                ui.end_row();
            }
            ui.strong(t.col_status);
            ui.horizontal(|ui| {
                light_dot(ui, view.light, t);
                ui.label(t.status(st.status));
                if let Some(l) = view.light {
                    ui.label(t.light(l));
                }
            });
            ui.end_row();
            ui.strong(t.col_holder);
            ui.label(info.station_name(&st.holder));
            ui.end_row();
            ui.strong(t.route);
            value(
                ui,
                st.route
                    .iter()
                    .map(|c| info.station_name(c))
                    .collect::<Vec<_>>()
                    .join(" → "),
            );
            ui.end_row();
            ui.strong(t.deadline);
            let d = &view.deadline;
            let fmt = |x: Option<chrono::NaiveDate>| {
                x.map_or_else(|| "—".to_string(), |d| d.format("%Y-%m-%d").to_string())
            };
            let mark = |provisional: bool| if provisional { t.provisional_mark } else { "" };
            let mut text = format!(
                "{} {} · {} {}{} · {} {}{}",
                t.accepted_on,
                fmt(d.accepted_on),
                t.col_due,
                fmt(d.due_on),
                mark(d.due_provisional),
                t.legal_due,
                fmt(d.legal_due_on),
                mark(d.legal_provisional)
            );
            if let Some(n) = view.remaining {
                text.push_str(&format!(" · {} {n}", t.col_remaining));
            }
            if let Some(on_time) = d.on_time {
                text.push_str(&format!(" · {}", if on_time { t.on_time } else { t.late }));
            }
            value(ui, text);
            ui.end_row();
            if d.provisional() {
                ui.label("");
                ui.colored_label(
                    super::widgets::light_color(yizhan_node::case::Light::Yellow),
                    t.provisional_note(d.uncovered_year),
                );
                ui.end_row();
            }
            if !st.missing.is_empty() {
                ui.strong(t.missing_list);
                value(ui, st.missing.join("；"));
                ui.end_row();
            }
            if !st.gaps.is_empty() {
                ui.strong(t.gaps_missing);
                value(ui, st.gaps.join("；"));
                ui.end_row();
            }
            if !doc.item.departments.is_empty() {
                ui.strong(t.approvals);
                ui.vertical(|ui| {
                    for dept in &doc.item.departments {
                        let state = match st.approvals.get(dept) {
                            Some(a) if a.approved => t.approved.to_string(),
                            Some(a) => format!("{} ({})", t.rejected, a.reason),
                            None => t.pending.to_string(),
                        };
                        ui.label(format!("{dept}: {state}"));
                    }
                });
                ui.end_row();
            }
            if let Some(r) = &st.rating {
                ui.strong(t.rating);
                ui.label(format!("{} {}", t.rating_level(r.level), r.comment));
                ui.end_row();
            }
            if let Some(f) = &st.follow_up {
                ui.strong(t.follow_up);
                match (f.closed_at, d.follow_up_due) {
                    (Some(at), _) => ui.label(format!("{} {}", t.follow_up_closed, time(at))),
                    (None, due) => {
                        let overdue = d.follow_up_overdue(view.today);
                        let text = format!("{} {} {}", t.follow_up_open, t.col_due, fmt(due));
                        if overdue {
                            ui.colored_label(ui.visuals().error_fg_color, text)
                        } else {
                            ui.colored_label(ui.visuals().warn_fg_color, text)
                        }
                    }
                };
                ui.end_row();
            }
            if !st.consults.is_empty() {
                ui.strong(t.consults);
                ui.vertical(|ui| {
                    for c in &st.consults {
                        ui.label(format!(
                            "{} · {} ↔ {} · {} {} · {}",
                            time(c.at),
                            info.station_name(&c.station),
                            info.station_name(&c.with),
                            c.minutes,
                            t.minutes,
                            c.summary
                        ));
                    }
                });
                ui.end_row();
            }
        });
    if info.tier == Tier::Village && doc.delegation.is_some() {
        ui.weak(t.delegated_hint);
    }
}

fn timeline(ui: &mut egui::Ui, cx: &Cx<'_>, view: &CaseView) {
    let t = cx.t;
    ui.heading(t.timeline);
    egui::Grid::new("timeline")
        .num_columns(5)
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            ui.strong(t.when);
            ui.strong(t.where_);
            ui.strong(t.who);
            ui.strong(t.what);
            ui.strong(t.details);
            ui.end_row();
            ui.label(time(view.doc.created_at));
            ui.label(cx.info.station_name(&view.doc.origin));
            ui.label(
                view.doc
                    .delegation
                    .as_ref()
                    .map_or("—", |d| d.agent.as_str()),
            );
            ui.label(t.event_kind("intake"));
            ui.label("");
            ui.end_row();
            for e in &view.state.timeline {
                ui.label(time(e.at));
                ui.label(cx.info.station_name(&e.station));
                ui.label(&e.operator);
                ui.label(t.event_kind(&e.kind));
                let mut details: Vec<String> = e
                    .fields
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| {
                        let v = if k == "to" || k == "with" {
                            cx.info.station_name(v)
                        } else if k == "level" {
                            v.parse::<u8>()
                                .map_or_else(|_| v.clone(), |l| t.rating_level(l).to_string())
                        } else {
                            v.clone()
                        };
                        format!("{}: {v}", t.field_name(k))
                    })
                    .collect();
                if !e.applied {
                    details.push(t.not_applied.to_string());
                }
                ui.vertical(|ui| {
                    ui.label(details.join(" · "));
                    if let Some(p) = &e.problem {
                        ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {}", t.problem(p)));
                    }
                });
                ui.end_row();
            }
        });
}
