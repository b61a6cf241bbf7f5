//! The actions the station may take on the open case now: each allowed one with its form, the
//! others with the node's reason.

use super::*;
use crate::app::ui_ext::UiExt as _;

impl DetailPanel {
    pub(super) fn actions(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, view: &CaseView) {
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
                if ui.enabled_button(!writing, t.act_settle) {
                    act = Some(Action::Settle {
                        note: self.forms.settle_note.trim().to_string(),
                    });
                }
            });
        }

        // Acceptance. 受理 with required materials missing asks first and offers 容缺受理 or the
        // one-time notice instead; 办结 asks for the outcome and a confirmation (issue #13).
        let missing_now = materials::notice_list(&view.doc, &view.state);
        ui.horizontal_wrapped(|ui| {
            if ok("accept") && ui.enabled_button(!writing, t.act_accept) {
                if missing_now.is_empty() {
                    act = Some(Action::Accept);
                } else {
                    self.confirm = Some(Confirm::AcceptMissing(missing_now.clone()));
                }
            }
            if ok("resume") {
                // Resuming after the one-time notice is what a clerk calls 材料已补齐.
                let label = if view.state.status == Status::AwaitingMaterials {
                    t.act_materials_supplied
                } else {
                    t.act_resume
                };
                if ui.enabled_button(!writing, label) {
                    act = Some(Action::Resume);
                }
            }
            if (ok("complete") || ok("decline")) && ui.enabled_button(!writing, t.act_complete) {
                self.forms.grant = ok("complete");
                self.confirm = Some(Confirm::Complete);
            }
            if ok("deliver") && ui.enabled_button(!writing, t.act_deliver) {
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
                if ui.enabled_button(!writing && current.is_some(), t.act_forward)
                    && let Some(to) = current
                {
                    let name = cx.info.station_name(&to);
                    self.confirm = Some(Confirm::action(
                        Action::Forward { to },
                        t.act_forward,
                        format!("{} {name}", t.forward_to),
                    ));
                }
            });
        }

        if ok("request_materials") {
            ui.group(|ui| {
                ui.strong(t.missing_list);
                // It starts from what was not handed over, one tick per material (issue #13).
                let list = self
                    .forms
                    .notice
                    .get_or_insert_with(|| ticks(&view.doc.item.materials, &missing_now));
                for (name, on) in list.iter_mut() {
                    ui.checkbox(on, name.as_str());
                }
                field(ui, t.other_materials, &mut self.forms.notice_other, 240.0)
                    .on_hover_text(t.list_hint);
                let missing = ticked(list, &self.forms.notice_other);
                if ui.enabled_button(!writing && !missing.is_empty(), t.act_request_materials) {
                    act = Some(Action::RequestMaterials { missing });
                }
            });
        }

        if ok("accept_with_gaps") {
            let open = std::mem::take(&mut self.open_gaps).then_some(true);
            egui::CollapsingHeader::new(t.act_accept_with_gaps)
                .id_salt(("gaps", self.generation))
                .open(open)
                .show(ui, |ui| {
                    let list = self
                        .forms
                        .gaps
                        .get_or_insert_with(|| ticks(&view.doc.item.materials, &missing_now));
                    ui.label(t.gaps_missing);
                    for (name, on) in list.iter_mut() {
                        ui.checkbox(on, name.as_str());
                    }
                    field(ui, t.other_materials, &mut self.forms.gaps_missing, 240.0)
                        .on_hover_text(t.list_hint);
                    if self.forms.gaps_date.is_empty() {
                        self.forms.gaps_date = cx
                            .info
                            .calendar
                            .add_working_days(cx.info.today, 5)
                            .format("%Y-%m-%d")
                            .to_string();
                    }
                    ui.horizontal_wrapped(|ui| {
                        field(ui, t.gaps_date, &mut self.forms.gaps_date, 110.0);
                        super::super::date_picker::date_picker(
                            ui,
                            "gaps-date",
                            &mut self.forms.gaps_date,
                            cx.info.today,
                            t,
                        );
                    });
                    let date = parse_date(&self.forms.gaps_date);
                    if date.is_none() {
                        error_line(ui, t.date_hint);
                    }
                    let missing = ticked(list, &self.forms.gaps_missing);
                    if ui.enabled_button(
                        !writing && !missing.is_empty() && date.is_some(),
                        t.act_accept_with_gaps_submit,
                    ) && let Some(date) = date
                    {
                        act = Some(Action::AcceptWithGaps {
                            missing,
                            promise: format!("{} {}", date.format("%Y-%m-%d"), t.promised_by),
                        });
                    }
                });
        }

        // 容缺 materials that arrived (补齐).
        if ok("supply_gaps") && !view.state.gaps.is_empty() {
            egui::CollapsingHeader::new(t.act_supply_gaps)
                .id_salt(("supply", self.generation))
                .show(ui, |ui| {
                    let list = self
                        .forms
                        .supply
                        .get_or_insert_with(|| ticks(&view.state.gaps, &view.state.gaps));
                    for (name, on) in list.iter_mut() {
                        ui.checkbox(on, name.as_str());
                    }
                    let items = ticked(list, "");
                    if ui.enabled_button(!writing && !items.is_empty(), t.act_supply_submit) {
                        act = Some(Action::SupplyGaps { items });
                    }
                });
        }

        // Every department keeps its row whatever has been decided, so that nothing moves under
        // the pointer after a sign-off; each sign-off confirms (issue #13).
        let signs = view
            .doc
            .item
            .departments
            .iter()
            .any(|d| ok(&format!("approve:{d}")) || ok(&format!("reject:{d}")));
        if signs {
            ui.group(|ui| {
                ui.strong(t.approvals);
                egui::Grid::new("approve-grid")
                    .num_columns(3)
                    .spacing([6.0, 4.0])
                    .show(ui, |ui| {
                        for dept in &view.doc.item.departments {
                            ui.label(dept.as_str());
                            match view.state.approvals.get(dept) {
                                Some(a) => {
                                    ui.label(if a.approved { t.approved } else { t.rejected });
                                    ui.label("");
                                }
                                None => {
                                    if ok(&format!("approve:{dept}")) {
                                        if ui.enabled_button(
                                            !writing,
                                            format!("{} {dept}", t.act_approve),
                                        ) {
                                            self.confirm = Some(Confirm::action(
                                                Action::Approve { dept: dept.clone() },
                                                t.act_approve,
                                                dept.clone(),
                                            ));
                                        }
                                    } else {
                                        ui.label(t.pending);
                                    }
                                    if ok(&format!("reject:{dept}"))
                                        && ui
                                            .add_enabled(
                                                !writing
                                                    && !self.forms.reject_reason.trim().is_empty(),
                                                egui::Button::new(format!(
                                                    "{} {dept}",
                                                    t.act_reject
                                                )),
                                            )
                                            .on_disabled_hover_text(t.reason_needed)
                                            .clicked()
                                    {
                                        let reason = self.forms.reject_reason.trim().to_string();
                                        self.confirm = Some(Confirm::action(
                                            Action::Reject {
                                                dept: dept.clone(),
                                                reason: reason.clone(),
                                            },
                                            t.act_reject,
                                            format!("{dept}：{reason}"),
                                        ));
                                    }
                                }
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
        ] {
            if !ok(key) {
                continue;
            }
            egui::CollapsingHeader::new(submit)
                .id_salt((key, self.generation))
                .show(ui, |ui| {
                    let text = match reason {
                        0 => &mut self.forms.suspend_reason,
                        _ => &mut self.forms.refuse_reason,
                    };
                    field(ui, label, text, 260.0);
                    let r = text.trim().to_string();
                    if ui
                        .add_enabled(!writing && !r.is_empty(), egui::Button::new(submit))
                        .on_disabled_hover_text(t.reason_needed)
                        .clicked()
                    {
                        match reason {
                            0 => act = Some(Action::Suspend { reason: r }),
                            _ => {
                                self.confirm = Some(Confirm::action(
                                    Action::Refuse { reason: r.clone() },
                                    submit,
                                    r,
                                ))
                            }
                        }
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
                if ui.enabled_button(!writing && (1..=5).contains(&self.forms.rating), t.act_rate) {
                    act = Some(Action::Rate {
                        level: self.forms.rating,
                        comment: self.forms.rating_comment.trim().to_string(),
                    });
                }
            });
        }

        if ok("follow_up") {
            ui.group(|ui| {
                if let Some(summary) = text_form(
                    ui,
                    writing,
                    t.follow_up_summary,
                    &mut self.forms.follow_up,
                    t.act_follow_up,
                ) {
                    act = Some(Action::FollowUp { summary });
                }
            });
        }

        if ok("consult") {
            egui::CollapsingHeader::new(t.act_consult)
                .id_salt(("consult", self.generation))
                .show(ui, |ui| {
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
                                        .selectable_label(
                                            current.as_deref() == Some(&s.code),
                                            &s.name,
                                        )
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
                    if ui.enabled_button(
                        !writing && minutes.is_some() && current.is_some(),
                        t.act_consult_submit,
                    ) && let (Some(minutes), Some(with)) = (minutes, current)
                    {
                        act = Some(Action::Consult {
                            with,
                            minutes,
                            summary: self.forms.consult_summary.trim().to_string(),
                        });
                    }
                });
        }

        // 督办: the open ones, the holder's answer, and a supervisor's new one.
        if !view.state.supervisions.is_empty() {
            ui.group(|ui| {
                ui.strong(t.supervisions);
                for s in &view.state.supervisions {
                    let due = cx
                        .info
                        .calendar
                        .add_working_days(yizhan_node::clock::china_date(s.at), s.reply_days);
                    match &s.reply {
                        None => ui.label(format!(
                            "{} · {} · {}：{}（{} {due}）",
                            time(s.at),
                            cx.info.station_name(&s.station),
                            s.operator,
                            s.reason,
                            t.supervision_open
                        )),
                        Some(r) => ui.label(format!(
                            "{} · {}：{} — {} {}：{}",
                            time(s.at),
                            cx.info.station_name(&s.station),
                            s.reason,
                            t.supervision_replied,
                            r.operator,
                            r.text
                        )),
                    };
                }
                if ok("reply_supervision")
                    && let Some(open) = view.state.open_supervisions().next()
                    && let Some(text) = text_form(
                        ui,
                        writing,
                        t.reply_text,
                        &mut self.forms.reply_text,
                        t.act_reply_supervision,
                    )
                {
                    act = Some(Action::ReplySupervision {
                        to: open.id.clone(),
                        text,
                    });
                }
            });
        }
        if ok("supervise") {
            egui::CollapsingHeader::new(t.act_supervise)
                .id_salt(("supervise", self.generation))
                .show(ui, |ui| {
                    field_multiline(ui, t.supervise_reason, &mut self.forms.supervise_reason);
                    if self.forms.supervise_days.is_empty() {
                        self.forms.supervise_days = "3".into();
                    }
                    field(ui, t.supervise_days, &mut self.forms.supervise_days, 60.0);
                    let days: Option<u32> = self.forms.supervise_days.trim().parse().ok();
                    if ui.enabled_button(
                        !writing
                            && days.is_some()
                            && !self.forms.supervise_reason.trim().is_empty(),
                        t.act_supervise_submit,
                    ) && let Some(reply_days) = days
                    {
                        act = Some(Action::Supervise {
                            reason: self.forms.supervise_reason.trim().to_string(),
                            reply_days,
                        });
                    }
                });
        }
        if ok("return_originals") && view.doc.delegation.is_some() {
            egui::CollapsingHeader::new(t.act_return_originals)
                .id_salt(("return", self.generation))
                .show(ui, |ui| {
                    if self.forms.return_items.is_empty()
                        && let Some(d) = &view.doc.delegation
                    {
                        self.forms.return_items = d.handed_over.join("；");
                    }
                    field_multiline(ui, t.return_items, &mut self.forms.return_items);
                    let items = Action::parse_list(&self.forms.return_items);
                    if ui.enabled_button(!writing && !items.is_empty(), t.act_return_submit) {
                        act = Some(Action::ReturnOriginals { items });
                    }
                });
        }

        if ok("note") {
            egui::CollapsingHeader::new(t.act_note)
                .id_salt(("note", self.generation))
                .show(ui, |ui| {
                    if let Some(text) = text_form(
                        ui,
                        writing,
                        t.note_text,
                        &mut self.forms.note,
                        t.act_note_submit,
                    ) {
                        act = Some(Action::Note { text });
                    }
                });
        }

        // What the station may not do now, and why (the node's own words, with station names),
        // in normal type; refusals that only say the status does not fit are left out.
        let refused: Vec<(&String, &String)> = self
            .probes
            .iter()
            .filter_map(|(k, r)| r.as_ref().err().map(|e| (k, e)))
            .filter(|(k, _)| self.helpful.contains(*k))
            .collect();
        if !refused.is_empty() {
            ui.separator();
            egui::CollapsingHeader::new(format!("{} ({})", t.not_allowed_now, refused.len()))
                .id_salt(("not-allowed", self.generation))
                .default_open(true)
                .show(ui, |ui| {
                    for (key, why) in refused {
                        ui.add(egui::Label::new(format!("{}：{why}", t.action_key(key))).wrap());
                    }
                });
        }

        self.confirm_dialog(ui, cx, view, &mut act);

        if let Some(action) = act {
            cx.commands.push(Command::Act { case: id, action });
        }
    }
}

/// An action waiting for the clerk's confirmation (issue #13: no decision in one click).
#[derive(Debug, Clone)]
pub(super) enum Confirm {
    /// A decision or hand-over: the action, its name and what it will record.
    Action {
        action: Action,
        label: &'static str,
        detail: String,
    },
    /// 办结: the outcome (准予 / 不予许可 with a reason), then the confirmation.
    Complete,
    /// 受理 while these materials are missing: 容缺受理, the one-time notice, or accept anyway.
    AcceptMissing(Vec<String>),
}

impl Confirm {
    fn action(action: Action, label: &'static str, detail: String) -> Confirm {
        Confirm::Action {
            action,
            label,
            detail,
        }
    }
}

/// One tick per material, ticked for the ones in `on`; materials in `on` that the item does not
/// list come after, ticked.
fn ticks(materials: &[String], on: &[String]) -> Vec<(String, bool)> {
    let mut list: Vec<(String, bool)> = materials
        .iter()
        .map(|m| (m.clone(), on.contains(m)))
        .collect();
    for m in on {
        if !materials.contains(m) {
            list.push((m.clone(), true));
        }
    }
    list
}

/// The ticked materials and the typed-in others.
fn ticked(list: &[(String, bool)], other: &str) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .filter(|(_, on)| *on)
        .map(|(m, _)| m.clone())
        .collect();
    for m in Action::parse_list(other) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

impl DetailPanel {
    /// The confirmation in front of the window, when one is waiting.
    fn confirm_dialog(
        &mut self,
        ui: &mut egui::Ui,
        cx: &Cx<'_>,
        view: &CaseView,
        act: &mut Option<Action>,
    ) {
        let Some(confirm) = self.confirm.clone() else {
            return;
        };
        let t = cx.t;
        let writing = cx.writing;
        let ok = |key: &str| matches!(self.probes.get(key), Some(Ok(())));
        let (grant_ok, decline_ok) = (ok("complete"), ok("decline"));
        let (gaps_ok, notice_ok) = (ok("accept_with_gaps"), ok("request_materials"));
        let grant_refused = match self.probes.get("complete") {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        };
        let mut close = false;
        let forms = &mut self.forms;
        let mut open_gaps = false;
        let modal = egui::Modal::new(egui::Id::unique(("confirm-action", &view.doc.id))).show(
            ui.ctx(),
            |ui| {
                ui.set_max_width(440.0);
                match &confirm {
                    Confirm::Action {
                        action,
                        label,
                        detail,
                    } => {
                        ui.heading(format!("{}{label}", t.confirm_prefix));
                        ui.add(egui::Label::new(detail.as_str()).wrap());
                        ui.weak(t.cannot_undo);
                        ui.horizontal(|ui| {
                            if ui.enabled_button(!writing, format!("{}{label}", t.confirm_prefix)) {
                                *act = Some(action.clone());
                                close = true;
                            }
                            if ui.button(t.cancel).clicked() {
                                close = true;
                            }
                        });
                    }
                    Confirm::Complete => {
                        ui.heading(t.act_complete);
                        ui.strong(t.outcome);
                        if !grant_ok {
                            forms.grant = false;
                        }
                        ui.add_enabled_ui(grant_ok, |ui| {
                            ui.radio_value(&mut forms.grant, true, t.outcome_grant);
                        });
                        if let Some(why) = &grant_refused {
                            ui.add(egui::Label::new(format!("（{why}）")).wrap());
                        }
                        ui.add_enabled_ui(decline_ok, |ui| {
                            ui.radio_value(&mut forms.grant, false, t.outcome_decline);
                        });
                        if !forms.grant {
                            field(ui, t.decline_reason, &mut forms.decline_reason, 300.0);
                        }
                        ui.weak(t.cannot_undo);
                        let reason = forms.decline_reason.trim().to_string();
                        let ready = if forms.grant {
                            grant_ok
                        } else {
                            decline_ok && !reason.is_empty()
                        };
                        ui.horizontal(|ui| {
                            let label = format!("{}{}", t.confirm_prefix, t.act_complete);
                            if ui
                                .add_enabled(!writing && ready, egui::Button::new(label))
                                .on_disabled_hover_text(t.reason_needed)
                                .clicked()
                            {
                                *act = Some(if forms.grant {
                                    Action::Complete
                                } else {
                                    Action::Decline { reason }
                                });
                                close = true;
                            }
                            if ui.button(t.cancel).clicked() {
                                close = true;
                            }
                        });
                    }
                    Confirm::AcceptMissing(missing) => {
                        ui.heading(t.act_accept);
                        ui.label(t.accept_missing_title);
                        ui.add(egui::Label::new(missing.join("；")).wrap());
                        ui.weak(t.accept_missing_hint);
                        ui.horizontal_wrapped(|ui| {
                            if gaps_ok && ui.button(t.to_gaps).clicked() {
                                forms.gaps = None;
                                open_gaps = true;
                                close = true;
                            }
                            if notice_ok && ui.button(t.to_notice).clicked() {
                                *act = Some(Action::RequestMaterials {
                                    missing: missing.clone(),
                                });
                                close = true;
                            }
                            if ui.enabled_button(!writing, t.accept_anyway) {
                                *act = Some(Action::Accept);
                                close = true;
                            }
                            if ui.button(t.cancel).clicked() {
                                close = true;
                            }
                        });
                    }
                }
            },
        );
        if modal.should_close() {
            close = true;
        }
        if open_gaps {
            self.open_gaps = true;
        }
        if close {
            self.confirm = None;
        }
    }
}

/// A text typed in `field` and sent with `button`, which is offered once the text is not blank
/// and nothing is being written: the trimmed text, when the button was clicked.
fn text_form(
    ui: &mut egui::Ui,
    writing: bool,
    field: &str,
    text: &mut String,
    button: &str,
) -> Option<String> {
    field_multiline(ui, field, text);
    ui.enabled_button(!writing && !text.trim().is_empty(), button)
        .then(|| text.trim().to_string())
}
