//! The dashboard's lists: the ranking of people and departments (排名) and the overdue list,
//! whose rows open their case.

use super::{DashboardPanel, rate};
use crate::app::ui_ext::table;
use crate::app::widgets::light_tag;
use crate::app::{Command, Cx};
use chrono::NaiveDate;
use eframe::egui;
use yizhan_node::case::Light;

impl DashboardPanel {
    /// The monthly ranking the centers publish (排名): per person who decided cases, and per
    /// department, the on-time rate, the average handling days and the satisfaction.
    pub(super) fn ranking(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>) {
        let t = cx.t;
        let days = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"));
        for (title, rows, people) in [
            (t.ranking_people, &self.ranking.0, true),
            (t.ranking_depts, &self.ranking.1, false),
        ] {
            ui.heading(title);
            if rows.is_empty() {
                ui.weak(if people {
                    t.ranking_none_people
                } else {
                    t.ranking_none_depts
                });
                continue;
            }
            table(
                ui,
                ("ranking", people),
                [12.0, 4.0],
                &[
                    t.ranking_place,
                    if people { t.account_name } else { t.dept },
                    if people { t.account_station } else { "" },
                    t.ranking_decided,
                    t.on_time_rate,
                    t.ranking_days,
                    t.ranking_rated,
                    t.satisfaction,
                ],
                |ui| {
                    for (i, r) in rows.iter().enumerate() {
                        ui.label((i + 1).to_string());
                        ui.label(&r.name);
                        ui.label(if r.station.is_empty() {
                            String::new()
                        } else {
                            cx.info.station_name(&r.station)
                        });
                        ui.label(r.decided.to_string());
                        ui.label(rate(r.on_time_rate));
                        ui.label(days(r.avg_handling_days));
                        ui.label(r.rated.to_string());
                        ui.label(rate(r.satisfaction_rate));
                        ui.end_row();
                    }
                },
            );
        }
    }

    pub(super) fn overdue_list(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        ui.heading(t.overdue_list);
        if self.overdue.is_empty() {
            ui.weak(t.none_overdue);
            return;
        }
        let mut open = None;
        table(
            ui,
            "overdue",
            [12.0, 4.0],
            &[
                "",
                t.col_number,
                t.col_applicant,
                t.col_item,
                t.col_holder,
                t.col_due,
                t.col_days_overdue,
                t.col_supervision,
            ],
            |ui| {
                for r in &self.overdue {
                    light_tag(ui, r.light.as_deref().and_then(Light::parse), t);
                    if ui.link(&r.number).clicked() {
                        open = Some(r.id.clone());
                    }
                    ui.label(&r.applicant);
                    ui.label(&r.item_name);
                    ui.label(cx.info.station_name(&r.holder));
                    let mark = if r.due_provisional {
                        t.provisional_mark
                    } else {
                        ""
                    };
                    ui.label(format!("{}{mark}", r.due_on.as_deref().unwrap_or("—")));
                    // Working days past the promised date (逾期天数).
                    let late = r
                        .due_on
                        .as_deref()
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                        .map(|due| cx.info.calendar.working_days_between(due, cx.info.today))
                        .filter(|n| *n > 0);
                    ui.label(late.map_or_else(String::new, |n| n.to_string()));
                    // The open 督办 count, and the way to send one: the case's detail, where a
                    // supervisor finds the 督办 form.
                    ui.horizontal(|ui| {
                        if r.supervisions_open > 0 {
                            ui.label(format!("{} {}", t.col_supervision, r.supervisions_open));
                        }
                        if ui
                            .small_button(t.supervise_open_case)
                            .on_hover_text(&r.number)
                            .clicked()
                        {
                            open = Some(r.id.clone());
                        }
                    });
                    ui.end_row();
                }
            },
        );
        if let Some(id) = open {
            cx.commands.push(Command::OpenCase(id));
        }
    }
}
