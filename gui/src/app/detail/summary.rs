//! What the case is (applicant, item, delegation, materials, deadlines, approvals, consults) and
//! its timeline.

use super::*;

pub(super) fn summary(ui: &mut egui::Ui, cx: &Cx<'_>, view: &CaseView) {
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
                    t.kind(doc.item.kind.as_str()),
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
                // The letter of entrustment is said once: as a material when the item lists
                // it (the materials row below), else here (issue #13).
                let mut text = format!("{} {}", t.agent, d.agent);
                if !doc
                    .item
                    .materials
                    .iter()
                    .any(|m| materials::is_entrustment(m))
                {
                    text.push_str(&format!(
                        " · {} {}",
                        t.entrustment,
                        if d.entrustment { t.yes } else { t.no }
                    ));
                }
                value(ui, text);
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
                // Wrapped in the value column: at 1024 pixels the note is longer than it.
                ui.scope(|ui| {
                    ui.set_max_width(width);
                    ui.add(
                        egui::Label::new(
                            egui::RichText::new(t.provisional_note(d.uncovered_year)).color(
                                crate::app::widgets::light_color(
                                    yizhan_node::case::Light::Yellow,
                                    ui.visuals(),
                                ),
                            ),
                        )
                        .wrap(),
                    );
                });
                ui.end_row();
            }
            // Every material and where it stands: received, missing, asked for, promised
            // under 容缺受理 with its date, or supplied with its date (issue #13).
            let lines = materials::materials(doc, st);
            if !lines.is_empty() {
                ui.strong(t.doc_materials);
                ui.vertical(|ui| {
                    for line in lines {
                        let (mark, word) = material_word(t, &line.state);
                        let mut text = egui::RichText::new(format!("{mark} {}：{word}", line.name));
                        if line.state.outstanding() {
                            text = text.color(ui.visuals().warn_fg_color);
                        }
                        ui.scope(|ui| {
                            ui.set_max_width(width);
                            ui.add(egui::Label::new(text).wrap());
                        });
                    }
                });
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
                        let text =
                            format!("{} · {} {}", t.follow_up_open, t.follow_up_due, fmt(due));
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

/// A material's state in words, with a mark that does not rely on colour.
fn material_word(t: &crate::app::Tr, state: &materials::MaterialState) -> (&'static str, String) {
    use materials::MaterialState as M;
    match state {
        M::Received => ("✔", t.mat_received.to_string()),
        M::Supplied(at) => ("✔", format!("{} {}", t.mat_supplied, time(*at))),
        M::Promised(promise) => ("△", format!("{} {promise}", t.mat_promised)),
        M::Requested => ("✖", t.mat_requested.to_string()),
        M::Missing => ("✖", t.mat_missing.to_string()),
        M::NotRecorded => ("？", t.mat_not_recorded.to_string()),
    }
}

pub(super) fn timeline(ui: &mut egui::Ui, cx: &Cx<'_>, view: &CaseView) {
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
            // A resume after the one-time notice is what a clerk calls 材料已补齐.
            let mut last_transition = "";
            for e in &view.state.timeline {
                ui.label(time(e.at));
                ui.label(cx.info.station_name(&e.station));
                ui.label(&e.operator);
                if e.kind == "resume" && last_transition == "request_materials" {
                    ui.label(t.act_materials_supplied);
                } else {
                    ui.label(t.event_kind(&e.kind));
                }
                if e.applied && Action::is_transition(&e.kind) {
                    last_transition = e.kind.as_str();
                }
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
