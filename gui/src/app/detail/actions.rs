//! The actions the station may take on the open case now: each allowed one with its form, the
//! others with the node's reason.

use super::*;

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
                {
                    field_multiline(ui, t.reply_text, &mut self.forms.reply_text);
                    if ui
                        .add_enabled(
                            !writing && !self.forms.reply_text.trim().is_empty(),
                            egui::Button::new(t.act_reply_supervision),
                        )
                        .clicked()
                    {
                        act = Some(Action::ReplySupervision {
                            to: open.id.clone(),
                            text: self.forms.reply_text.trim().to_string(),
                        });
                    }
                }
            });
        }
        if ok("supervise") {
            ui.collapsing(t.act_supervise, |ui| {
                field_multiline(ui, t.supervise_reason, &mut self.forms.supervise_reason);
                if self.forms.supervise_days.is_empty() {
                    self.forms.supervise_days = "3".into();
                }
                field(ui, t.supervise_days, &mut self.forms.supervise_days, 60.0);
                let days: Option<u32> = self.forms.supervise_days.trim().parse().ok();
                if ui
                    .add_enabled(
                        !writing
                            && days.is_some()
                            && !self.forms.supervise_reason.trim().is_empty(),
                        egui::Button::new(t.act_supervise_submit),
                    )
                    .clicked()
                    && let Some(reply_days) = days
                {
                    act = Some(Action::Supervise {
                        reason: self.forms.supervise_reason.trim().to_string(),
                        reply_days,
                    });
                }
            });
        }
        if ok("return_originals") && view.doc.delegation.is_some() {
            ui.collapsing(t.act_return_originals, |ui| {
                if self.forms.return_items.is_empty()
                    && let Some(d) = &view.doc.delegation
                {
                    self.forms.return_items = d.handed_over.join("；");
                }
                field_multiline(ui, t.return_items, &mut self.forms.return_items);
                let items = Action::parse_list(&self.forms.return_items);
                if ui
                    .add_enabled(
                        !writing && !items.is_empty(),
                        egui::Button::new(t.act_return_submit),
                    )
                    .clicked()
                {
                    act = Some(Action::ReturnOriginals { items });
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
}
