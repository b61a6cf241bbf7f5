//! One case: what it is, its timeline, and every action the station may take now.
//!
//! When a case is opened, its view (document, folded state, deadlines) is read on the store
//! thread, and then every action is checked there with `Node::check_action` — the same checks
//! (tier, fields, the transition table) that `Node::act` applies before writing. Allowed actions
//! are shown with their forms; the others are listed with the node's reason, so that what the
//! station may not do is never offered as a button. A click becomes a [`Command::Act`]; the
//! node's answer (the new view, or its refusal) comes back through the app.

mod actions;
mod notices;
mod summary;

use super::receipt::{self, Paper};
use super::task::Task;
use super::widgets::{error_line, field, field_multiline, light_dot, parse_date, time};
use super::{Command, Cx, StationInfo};
use crate::app::ui_ext::UiExt as _;
use actions::Confirm;
use eframe::egui;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use summary::{summary, timeline};
use yizhan_node::CaseView;
use yizhan_node::case::fold::Status;
use yizhan_node::case::{Action, materials};
use yizhan_node::idcard::mask_id_number;
use yizhan_node::station::Tier;

/// The forms' contents.
#[derive(Debug, Default)]
struct Forms {
    forward_to: Option<String>,
    /// Other 容缺 materials typed in, beside the ticked ones.
    gaps_missing: String,
    /// The ticks of 容缺受理's materials, from what is missing when the section is first drawn.
    gaps: Option<Vec<(String, bool)>>,
    /// The date the applicant promises the 容缺 materials by.
    gaps_date: String,
    /// The ticks of the one-time notice, from what is missing when it is first drawn.
    notice: Option<Vec<(String, bool)>>,
    /// Other materials for the notice, typed in.
    notice_other: String,
    /// The ticks of 补齐: the 容缺 materials that arrived.
    supply: Option<Vec<(String, bool)>>,
    /// 办结's outcome: 准予 (`true`) or 不予许可.
    grant: bool,
    refuse_reason: String,
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
    supervise_reason: String,
    supervise_days: String,
    reply_text: String,
    return_items: String,
}

/// The case detail panel.
#[derive(Debug, Default)]
pub struct DetailPanel {
    case_id: Option<String>,
    view: Option<CaseView>,
    loaded_version: u64,
    load: Task<CaseView>,
    probes: BTreeMap<String, Result<(), String>>,
    probe_task: Task<Vec<(String, Probe)>>,
    probe_tag: u64,
    forms: Forms,
    /// The decision waiting for confirmation.
    confirm: Option<Confirm>,
    /// Bumped for every case shown and every view a write returns: the sections' ids include it,
    /// so that a section opened on one case, or before a save, starts closed.
    generation: u64,
    /// 受理's question chose 容缺受理: its section opens once.
    open_gaps: bool,
    /// The refused actions worth telling the clerk about (not those whose only reason is the
    /// case's status).
    helpful: BTreeSet<String>,
    error: Option<String>,
    print: Printing,
    /// When the case number was last copied (the "已复制" feedback shows for a moment).
    copied_at: Option<f64>,
    /// The case's notices (issue #15).
    notices: notices::NoticesSection,
}

/// One action checked on the store thread: allowed, or the node's reason in the window's words
/// and whether it is worth listing (see `helps`).
type Probe = Result<(), (String, bool)>;

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

/// The node's refusal with station names where it names stations by code, so that a clerk reads
/// "北格镇便民服务中心" rather than "T1".
fn with_station_names(
    e: yizhan_node::NodeError,
    names: &BTreeMap<String, String>,
) -> yizhan_node::NodeError {
    use yizhan_node::{NodeError, Refusal};
    let name = |c: &String| names.get(c).cloned().unwrap_or_else(|| c.clone());
    match e {
        NodeError::NotAllowed { action, reason } => NodeError::NotAllowed {
            action,
            reason: match reason {
                Refusal::NotHolder { holder, station } => Refusal::NotHolder {
                    holder: name(&holder),
                    station: name(&station),
                },
                Refusal::NotOnRoute { station } => Refusal::NotOnRoute {
                    station: name(&station),
                },
                Refusal::AlreadyAt(to) => Refusal::AlreadyAt(name(&to)),
                other => other,
            },
        },
        other => other,
    }
}

/// Whether a refusal tells the clerk something worth knowing: who may do it, where, or what is
/// still needed. A refusal that only says the status does not fit (送达 before 办结) is not listed.
fn helps(e: &yizhan_node::NodeError) -> bool {
    use yizhan_node::{NodeError, Refusal};
    match e {
        NodeError::NotAllowed { reason, .. } => !matches!(
            reason,
            Refusal::WrongStatus(_)
                | Refusal::AcceptedIsDecided(_)
                | Refusal::OnlyPausedResumes(_)
                | Refusal::RateAfterDecision(_)
                | Refusal::FollowUpAfterDecision(_)
                | Refusal::NoConflict
                | Refusal::NoOpenSupervision
                | Refusal::NotAGap(_)
                | Refusal::DuplicateDecision
                | Refusal::DeptAlreadyDecided(_)
                | Refusal::AlreadyRejected
                | Refusal::AlreadyRated
        ),
        _ => true,
    }
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
            generation: self.generation + 1,
            ..DetailPanel::default()
        };
    }

    /// Back to the list.
    pub fn close(&mut self) {
        *self = DetailPanel {
            generation: self.generation + 1,
            ..DetailPanel::default()
        };
    }

    /// Shows a view the node has just returned (after an action or intake).
    pub fn show_view(&mut self, view: CaseView) {
        // A write went through: its form and its open section are done with (issue #13).
        self.forms = Forms::default();
        self.confirm = None;
        self.generation += 1;
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
                Ok(results) => {
                    self.helpful = results
                        .iter()
                        .filter(|(_, r)| matches!(r, Err((_, true))))
                        .map(|(k, _)| k.clone())
                        .collect();
                    self.probes = results
                        .into_iter()
                        .map(|(k, r)| (k, r.map_err(|(why, _)| why)))
                        .collect();
                }
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
            (
                "supervise".into(),
                Action::Supervise {
                    reason: text(),
                    reply_days: 3,
                },
            ),
            (
                "return_originals".into(),
                Action::ReturnOriginals {
                    items: vec![text()],
                },
            ),
        ];
        if !view.state.gaps.is_empty() {
            c.push((
                "supply_gaps".into(),
                Action::SupplyGaps {
                    items: view.state.gaps.clone(),
                },
            ));
        }
        if let Some(open) = view.state.open_supervisions().next() {
            c.push((
                "reply_supervision".into(),
                Action::ReplySupervision {
                    to: open.id.clone(),
                    text: text(),
                },
            ));
        }
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
        let names: BTreeMap<String, String> = cx
            .info
            .stations
            .iter()
            .map(|s| (s.code.clone(), s.name.clone()))
            .collect();
        self.probe_task.start(
            self.probe_tag,
            cx.handle.submit(move |n| {
                Ok(candidates
                    .into_iter()
                    .map(|(key, action)| {
                        let r = n.check_action(&id, &action).map_err(|e| {
                            let e = with_station_names(e, &names);
                            (t.node_error(&e), helps(&e))
                        });
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
                    ui.separator();
                    self.notices.ui(ui, cx, &view.doc.id);
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
            // The whole path on hover: the field shows only its start in a narrow window.
            let whole = p.path.clone();
            field(ui, t.pdf_file, &mut p.path, 420.0).on_hover_text(whole);
        });
        ui.horizontal_wrapped(|ui| {
            // Before acceptance the receipt is a 收件回执 (see `receipt::document`).
            let receipt_label = if view.state.accepted_at.is_some() {
                t.print_receipt
            } else {
                t.print_intake_receipt
            };
            for (paper, label) in [
                (Paper::Receipt, receipt_label),
                (Paper::Notice, t.print_notice),
            ] {
                if ui.enabled_button(p.result.is_none(), label) {
                    // Each document has its own default file name, so that printing both does
                    // not overwrite the first; a path the user typed is kept as it is.
                    let is_default = [Paper::Receipt, Paper::Notice]
                        .iter()
                        .any(|q| p.path == default_pdf_path(cx.info, number, *q));
                    if is_default {
                        p.path = default_pdf_path(cx.info, number, paper);
                    }
                    let mut doc = receipt::document(
                        paper,
                        view,
                        &cx.info.station.name,
                        cx.info.station_phone.as_deref(),
                        t,
                    );
                    if paper == Paper::Receipt {
                        doc.qr = cx
                            .info
                            .public_url
                            .as_deref()
                            .and_then(|u| receipt::progress_url(u, number))
                            .map(|url| receipt::Qr {
                                url,
                                caption: t.doc_qr_caption.to_string(),
                            });
                    }
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
                    if ui.enabled_button(idle, t.print_button) {
                        p.system = Some(super::system::print(written.clone(), t));
                        p.system_message = None;
                    }
                    if ui.enabled_button(idle, t.open_button) {
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

    /// The probe results (for tests): action key → allowed or the node's reason.
    pub fn probe_results(&self) -> &BTreeMap<String, Result<(), String>> {
        &self.probes
    }

    /// The case shown, if it has been read.
    pub fn view(&self) -> Option<&CaseView> {
        self.view.as_ref()
    }
}
