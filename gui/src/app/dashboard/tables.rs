//! The dashboard's figures: the totals and lights with their chart, and the table of groups
//! (townships, villages, items or departments) with its chart, each station's freshness and the
//! CSV export of the table.

use super::{DashboardPanel, rate, write_in_background};
use crate::app::Cx;
use crate::app::ui_ext::{UiExt as _, table};
use crate::app::widgets::{error_line, field, light_color, light_dot};
use eframe::egui;
use egui_plot::{Bar, BarChart, Plot};
use yizhan_node::case::deadline::ALL_LIGHTS;
use yizhan_node::query::{GroupBy, Stats};
use yizhan_node::station::Tier;

/// A fixed bar chart of `bars` slots. Its value axis always runs from 0 up to at least 1: a chart
/// of only zeros (an empty range, silent stations) would otherwise get egui_plot's -2..2 around
/// nothing, with negative counts on the axis (issue #13).
fn bar_plot(id: &str, height: f32, bars: usize) -> Plot<'_> {
    Plot::new(id)
        .height(height)
        .include_x(-0.5)
        .include_x(bars as f64 - 0.5)
        .include_y(0.0)
        .include_y(1.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .show_grid([false, true])
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The label of the bar at an axis position (bars sit at whole numbers).
fn label_at(names: &[&str], value: f64) -> String {
    let i = value.round();
    if (value - i).abs() > 0.01 || i < 0.0 {
        return String::new();
    }
    names
        .get(i as usize)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

impl DashboardPanel {
    pub(super) fn totals(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>, stats: &Stats) {
        let t = cx.t;
        let tot = &stats.totals;
        ui.horizontal_wrapped(|ui| {
            for (name, value) in [
                (t.total_cases, tot.cases.to_string()),
                (t.open_cases, tot.open.to_string()),
                (t.completed_cases, tot.completed.to_string()),
                (t.on_time_rate, rate(tot.on_time_rate)),
                (t.satisfaction, rate(tot.satisfaction_rate)),
                (
                    t.follow_ups,
                    format!(
                        "{} / {} {}",
                        tot.follow_ups_open, tot.follow_ups_overdue, t.overdue
                    ),
                ),
                (t.delegated_cases, tot.delegated.to_string()),
                (t.consults, tot.consults.to_string()),
                (t.conflicts, tot.conflicts.to_string()),
                // Cases being handled whose due date was counted into a year without a calendar.
                (t.provisional_total, tot.provisional.to_string()),
            ] {
                ui.group(|ui| {
                    ui.vertical(|ui| {
                        ui.weak(name);
                        ui.heading(value);
                    });
                });
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.strong(t.lights_open);
            for l in ALL_LIGHTS {
                light_dot(ui, Some(l), t);
                ui.label(format!(
                    "{} {}",
                    t.light(l),
                    tot.lights.get(l.as_str()).copied().unwrap_or(0)
                ));
            }
            ui.separator();
            ui.strong(t.by_status);
            for (s, n) in &tot.by_status {
                let name = yizhan_node::case::Status::parse(s).map_or(s.as_str(), |s| t.status(s));
                ui.label(format!("{name} {n}"));
            }
            ui.separator();
            ui.strong(t.by_kind);
            for (k, n) in &tot.by_kind {
                ui.label(format!("{} {n}", t.kind(k)));
            }
        });
        let bars: Vec<Bar> = ALL_LIGHTS
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Bar::new(
                    i as f64,
                    tot.lights.get(l.as_str()).copied().unwrap_or(0) as f64,
                )
                .name(t.light(*l))
                .fill(light_color(*l, ui.visuals()))
            })
            .collect();
        let names: Vec<&str> = ALL_LIGHTS.iter().map(|l| t.light(*l)).collect();
        bar_plot("lights-plot", 140.0, ALL_LIGHTS.len())
            .x_axis_formatter(move |m, _| label_at(&names, m.value))
            .show(ui, |p| {
                p.bar_chart(BarChart::new(t.lights_open, bars).width(0.6))
            });
    }

    pub(super) fn groups(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>, stats: &Stats) {
        let t = cx.t;
        ui.horizontal_wrapped(|ui| {
            ui.strong(t.group_by);
            let choices: &[(GroupBy, &str)] = match cx.info.tier {
                Tier::City => &[
                    (GroupBy::Township, t.by_township),
                    (GroupBy::Village, t.by_village),
                    (GroupBy::Dept, t.by_dept),
                    (GroupBy::Item, t.by_item),
                ],
                Tier::Township => &[
                    (GroupBy::Village, t.by_village),
                    (GroupBy::Dept, t.by_dept),
                    (GroupBy::Item, t.by_item),
                ],
                Tier::Village => &[(GroupBy::Item, t.by_item), (GroupBy::Dept, t.by_dept)],
            };
            for (g, name) in choices {
                if ui.selectable_label(self.by == Some(*g), *name).clicked() {
                    self.by = Some(*g);
                }
            }
        });
        // One table for every grouping: name, cases, open, completed, on-time rate, red and
        // severe, satisfaction (departments: cases, approved, rejected, pending).
        let (header, rows): (Vec<&str>, Vec<Vec<String>>) = if self.by == Some(GroupBy::Dept) {
            // A department's on-time rate, average handling days and satisfaction, from the
            // ranking of the same area and range, beside its sign-offs (issue #13).
            let ranked = |dept: &str| self.ranking.1.iter().find(|r| r.name == dept);
            let days = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"));
            (
                vec![
                    t.dept,
                    t.total_cases,
                    t.approved,
                    t.rejected,
                    t.pending,
                    t.on_time_rate,
                    t.ranking_days,
                    t.satisfaction,
                ],
                stats
                    .depts
                    .iter()
                    .map(|d| {
                        let r = ranked(&d.dept);
                        vec![
                            d.dept.clone(),
                            d.cases.to_string(),
                            d.approved.to_string(),
                            d.rejected.to_string(),
                            d.pending.to_string(),
                            rate(r.and_then(|r| r.on_time_rate)),
                            days(r.and_then(|r| r.avg_handling_days)),
                            rate(r.and_then(|r| r.satisfaction_rate)),
                        ]
                    })
                    .collect(),
            )
        } else {
            (
                vec![
                    t.group_name,
                    t.total_cases,
                    t.open_cases,
                    t.completed_cases,
                    t.on_time_rate,
                    t.red_and_severe,
                    t.satisfaction,
                    t.follow_ups,
                    t.data_as_of,
                ],
                stats
                    .groups
                    .iter()
                    .map(|g| {
                        let l = &g.totals.lights;
                        let red = l.get("red").copied().unwrap_or(0)
                            + l.get("severe").copied().unwrap_or(0);
                        vec![
                            if g.key.is_empty() {
                                t.own_level.to_string()
                            } else {
                                g.name.clone()
                            },
                            g.totals.cases.to_string(),
                            g.totals.open.to_string(),
                            g.totals.completed.to_string(),
                            rate(g.totals.on_time_rate),
                            red.to_string(),
                            rate(g.totals.satisfaction_rate),
                            g.totals.follow_ups_open.to_string(),
                            self.freshness(cx, &g.key),
                        ]
                    })
                    .collect(),
            )
        };
        let chart: Vec<(String, f64)> = rows
            .iter()
            .take(30)
            .map(|r| (r[0].clone(), r[1].parse::<f64>().unwrap_or(0.0)))
            .collect();
        if !chart.is_empty() {
            let names: Vec<String> = chart.iter().map(|(n, _)| n.clone()).collect();
            let bars: Vec<Bar> = chart
                .iter()
                .enumerate()
                .map(|(i, (n, v))| {
                    Bar::new(i as f64, *v)
                        .name(n)
                        .fill(egui::Color32::from_rgb(60, 120, 200))
                })
                .collect();
            bar_plot("groups-plot", 200.0, chart.len().max(4))
                .x_axis_formatter(move |m, _| {
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    label_at(&refs, m.value)
                })
                .show(ui, |p| {
                    p.bar_chart(BarChart::new(t.total_cases, bars).width(0.6))
                });
        }
        table(ui, "groups-table", [16.0, 4.0], &header, |ui| {
            for r in &rows {
                for c in r {
                    ui.label(c);
                }
                ui.end_row();
            }
        });
        ui.horizontal_wrapped(|ui| {
            field(ui, t.csv_file, &mut self.csv_path, 320.0);
            if ui.enabled_button(self.csv_result.is_none(), t.export_csv) {
                let mut text = header
                    .iter()
                    .map(|h| csv_field(h))
                    .collect::<Vec<_>>()
                    .join(",");
                text.push('\n');
                for r in &rows {
                    text.push_str(&r.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
                    text.push('\n');
                }
                self.csv_result = Some(write_in_background(self.csv_path.clone(), text));
                self.csv_message = None;
            }
            match &self.csv_message {
                Some(Ok(p)) => {
                    ui.label(format!("{} {p}", t.csv_written));
                }
                Some(Err(e)) => error_line(ui, e),
                None => {}
            }
        });
    }

    /// How fresh a station's figures are here: live for this station (and for an item or
    /// department, which mix stations), else the last contact with the nearest peer that carries
    /// the station's data — the station itself, or the station between it and this one.
    fn freshness(&self, cx: &Cx<'_>, code: &str) -> String {
        let t = cx.t;
        let me = &cx.info.station.code;
        if code.is_empty()
            || code == me
            || !matches!(self.by, Some(GroupBy::Township | GroupBy::Village))
        {
            return t.live.to_string();
        }
        let mut at = Some(code.to_string());
        let mut hops = 0;
        while let Some(c) = at.filter(|c| c != me && hops < 8) {
            let last = self
                .peers
                .iter()
                .filter(|(s, _)| *s == c)
                .filter_map(|(_, l)| *l)
                .max();
            if let Some(ms) = last {
                return crate::app::widgets::time(ms);
            }
            if self.peers.iter().any(|(s, _)| *s == c) {
                return t.never.to_string();
            }
            at = cx
                .info
                .stations
                .iter()
                .find(|s| s.code == c)
                .map(|s| s.parent.clone())
                .filter(|p| !p.is_empty());
            hops += 1;
        }
        t.never.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #13: a chart of zeros keeps its value axis at 0..1 (with egui_plot's margin), not
    /// -2..2.
    #[test]
    fn a_chart_of_zeros_starts_its_axis_at_zero() {
        let ctx = egui::Context::default();
        let mut bounds = None;
        for _ in 0..2 {
            let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
                let bars = vec![Bar::new(0.0, 0.0), Bar::new(1.0, 0.0)];
                let shown = bar_plot("zeros", 140.0, 2)
                    .show(ui, |p| p.bar_chart(BarChart::new("zeros", bars)));
                bounds = Some(*shown.transform.bounds());
            });
            out.textures_delta.clear();
        }
        let b = bounds.expect("the plot was drawn");
        assert!(
            b.min()[1] > -0.2 && b.min()[1] <= 0.0,
            "the axis starts at 0: {b:?}"
        );
        assert!(
            b.max()[1] >= 1.0 && b.max()[1] < 1.5,
            "and ends near 1: {b:?}"
        );
    }
}
