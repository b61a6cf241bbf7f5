//! The consolidated dashboard (city: everything; township: its villages; village: itself):
//! totals, lights, on-time and satisfaction rates, groups by township / village / department /
//! item with a chart, the overdue and severe list, and CSV export of the group table.
//!
//! Statistics come from `Node::stats` (counter tables, tens of milliseconds at a million cases) and
//! are fetched again when the data version moves. A from/to date pair narrows them to the cases
//! taken in between (`Node::stats_between`, which counts the case table itself because the
//! counters carry no dates); the figures are fetched again when a valid pair changes. The CSV file is written on a short-lived thread
//! so that the UI thread never touches the disk.

use super::date_picker::date_picker;
use super::list::parse_date;
use super::task::Task;
use super::widgets::{error_line, field, light_color, light_dot, light_tag};
use super::{Command, Cx};
use chrono::NaiveDate;
use eframe::egui;
use egui_plot::{Bar, BarChart, Plot};
use std::sync::mpsc::Receiver;
use yizhan_node::case::Light;
use yizhan_node::case::deadline::ALL_LIGHTS;

/// How often the peers' last contacts are read again while the dashboard is shown.
const PEERS_EVERY_MS: i64 = 5_000;
use yizhan_node::query::{CaseFilter, CaseRow, GroupBy, RankBy, RankRow, Sort, Stats};
use yizhan_node::station::Tier;

/// The dashboard panel.
#[derive(Debug, Default)]
pub struct DashboardPanel {
    by: Option<GroupBy>,
    /// The date fields as typed (`YYYY-MM-DD`, empty = open).
    from: String,
    to: String,
    /// The last valid range typed; the figures shown are for it.
    range: DateRange,
    fetched_for: Option<(Option<GroupBy>, DateRange, u64)>,
    stats: Option<Stats>,
    stats_task: Task<Stats>,
    overdue: Vec<CaseRow>,
    overdue_task: Task<Vec<CaseRow>>,
    /// The ranking (排名) by operator and by department, for the same area and range.
    ranking: (Vec<RankRow>, Vec<RankRow>),
    ranking_task: Task<(Vec<RankRow>, Vec<RankRow>)>,
    /// Known peers (station code, last contact), for the freshness of each station's figures.
    peers: Vec<(String, Option<i64>)>,
    peers_task: Task<Vec<(String, Option<i64>)>>,
    /// When the peers were last read (the node's clock, ms).
    peers_read_at: Option<i64>,
    error: Option<String>,
    csv_path: String,
    csv_result: Option<Receiver<Result<String, String>>>,
    csv_message: Option<Result<String, String>>,
}

/// Created from, created to (both inclusive; `None` is open).
type DateRange = (Option<NaiveDate>, Option<NaiveDate>);

/// The range the two fields describe, or why they describe none.
fn parse_range(from: &str, to: &str) -> Result<DateRange, RangeError> {
    let from = parse_date(from).map_err(|()| RangeError::Format)?;
    let to = parse_date(to).map_err(|()| RangeError::Format)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(RangeError::Reversed);
    }
    Ok((from, to))
}

/// Why the date fields describe no range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeError {
    /// A field is not `YYYY-MM-DD`.
    Format,
    /// The start is after the end.
    Reversed,
}

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

fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

impl DashboardPanel {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.ranking_task.busy()
            || self.stats_task.busy()
            || self.overdue_task.busy()
            || self.peers_task.busy()
            || self.csv_result.is_some()
    }

    fn default_by(tier: Tier) -> GroupBy {
        match tier {
            Tier::City => GroupBy::Township,
            Tier::Township => GroupBy::Village,
            Tier::Village => GroupBy::Item,
        }
    }

    fn poll(&mut self, cx: &Cx<'_>) {
        fn read_peers(
            n: &mut yizhan_node::Node,
        ) -> yizhan_node::Result<Vec<(String, Option<i64>)>> {
            Ok(n.peers()?
                .into_iter()
                .map(|p| (p.station, p.last_contact))
                .collect())
        }
        if let Some((_, r)) = self.stats_task.poll() {
            match r {
                Ok(s) => self.stats = Some(s),
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.overdue_task.poll() {
            match r {
                Ok(rows) => self.overdue = rows,
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.peers_task.poll() {
            match r {
                Ok(p) => self.peers = p,
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.ranking_task.poll() {
            match r {
                Ok(rows) => self.ranking = rows,
                Err(e) => self.error = Some(cx.t.node_error(&e)),
            }
        }
        if let Some(rx) = &self.csv_result
            && let Ok(r) = rx.try_recv()
        {
            self.csv_message = Some(r);
            self.csv_result = None;
        }
        // Freshness moves without the data moving (a live link's heartbeat is a completed
        // exchange): the peers are read again every few seconds on their own.
        let now = cx.info.clock.now_ms();
        if self
            .peers_read_at
            .is_none_or(|at| now - at >= PEERS_EVERY_MS)
            && !self.peers_task.busy()
        {
            self.peers_read_at = Some(now);
            self.peers_task.start(0, cx.handle.submit(read_peers));
        }
        let by = *self.by.get_or_insert(Self::default_by(cx.info.tier));
        let range = self.range;
        let key = (Some(by), range, cx.version);
        if self.fetched_for == Some(key) || self.stats_task.busy() {
            return;
        }
        self.fetched_for = Some(key);
        let area = (cx.info.tier != Tier::City).then(|| cx.info.station.code.clone());
        let a = area.clone();
        let (from, to) = range;
        self.stats_task.start(
            0,
            cx.handle
                .submit(move |n| n.stats_between(Some(by), a.as_deref(), from, to)),
        );
        self.peers_read_at = Some(now);
        self.peers_task.start(0, cx.handle.submit(read_peers));
        let a = area.clone();
        self.ranking_task.start(
            0,
            cx.handle.submit(move |n| {
                Ok((
                    n.ranking(RankBy::Operator, a.as_deref(), from, to)?,
                    n.ranking(RankBy::Dept, a.as_deref(), from, to)?,
                ))
            }),
        );
        self.overdue_task.start(
            0,
            cx.handle.submit(move |n| {
                let mut rows = Vec::new();
                for light in [Light::Severe, Light::Red] {
                    rows.extend(n.list(&CaseFilter {
                        light: Some(light),
                        area: area.clone(),
                        created_from: from,
                        created_to: to,
                        sort: Sort::Due,
                        limit: 100,
                        ..CaseFilter::default()
                    })?);
                }
                Ok(rows)
            }),
        );
    }

    /// Draws the dashboard.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        self.poll(cx);
        let t = cx.t;
        if self.csv_path.is_empty() {
            self.csv_path = default_csv_path(cx.info.today);
        }
        ui.horizontal_wrapped(|ui| {
            ui.heading(t.screen_dashboard);
            ui.label(
                egui::RichText::new(if cx.info.tier == Tier::City {
                    t.whole_network.to_string()
                } else {
                    cx.info.station.name.clone()
                })
                .weak(),
            );
            if let Some(s) = &self.stats {
                ui.weak(format!("{} {}", t.as_of, s.today));
            }
            if ui.button(t.refresh).clicked() {
                cx.commands.push(Command::Refresh);
            }
        });
        self.range_fields(ui, cx);
        if let Some(e) = &self.error {
            error_line(ui, e);
        }
        let Some(stats) = self.stats.clone() else {
            ui.spinner();
            return;
        };
        egui::ScrollArea::vertical()
            .id_salt("dashboard")
            .show(ui, |ui| {
                self.totals(ui, cx, &stats);
                ui.separator();
                self.groups(ui, cx, &stats);
                ui.separator();
                self.ranking(ui, cx);
                ui.separator();
                self.overdue_list(ui, cx);
            });
    }

    /// The from/to date fields. A valid pair that differs from the one shown becomes the range
    /// to fetch; the fetch itself starts in the next frame's poll, which is asked for at once.
    fn range_fields(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>) {
        let t = cx.t;
        ui.horizontal_wrapped(|ui| {
            field(ui, t.created_from, &mut self.from, 90.0).on_hover_text(t.date_hint);
            date_picker(ui, "range-from", &mut self.from, cx.info.today, t);
            field(ui, t.created_to, &mut self.to, 90.0).on_hover_text(t.date_hint);
            date_picker(ui, "range-to", &mut self.to, cx.info.today, t);
            match parse_range(&self.from, &self.to) {
                Ok(range) => {
                    if range != self.range {
                        self.range = range;
                        ui.ctx().request_repaint();
                    }
                    if range != (None, None) {
                        ui.weak(t.range_counted);
                    }
                }
                Err(RangeError::Format) => error_line(ui, t.date_hint),
                Err(RangeError::Reversed) => error_line(ui, t.range_from_after_to),
            }
        });
    }

    fn totals(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>, stats: &Stats) {
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

    fn groups(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>, stats: &Stats) {
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
        egui::Grid::new("groups-table")
            .striped(true)
            .num_columns(header.len())
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for h in &header {
                    ui.strong(*h);
                }
                ui.end_row();
                for r in &rows {
                    for c in r {
                        ui.label(c);
                    }
                    ui.end_row();
                }
            });
        ui.horizontal_wrapped(|ui| {
            field(ui, t.csv_file, &mut self.csv_path, 320.0);
            if ui
                .add_enabled(self.csv_result.is_none(), egui::Button::new(t.export_csv))
                .clicked()
            {
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
                return super::widgets::time(ms);
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

    /// The monthly ranking the centers publish (排名): per person who decided cases, and per
    /// department, the on-time rate, the average handling days and the satisfaction.
    fn ranking(&mut self, ui: &mut egui::Ui, cx: &Cx<'_>) {
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
            egui::Grid::new(("ranking", people))
                .striped(true)
                .num_columns(8)
                .spacing([12.0, 4.0])
                .show(ui, |ui| {
                    for h in [
                        t.ranking_place,
                        if people { t.account_name } else { t.dept },
                        if people { t.account_station } else { "" },
                        t.ranking_decided,
                        t.on_time_rate,
                        t.ranking_days,
                        t.ranking_rated,
                        t.satisfaction,
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
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
                });
        }
    }

    fn overdue_list(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        ui.heading(t.overdue_list);
        if self.overdue.is_empty() {
            ui.weak(t.none_overdue);
            return;
        }
        let mut open = None;
        egui::Grid::new("overdue")
            .striped(true)
            .num_columns(8)
            .spacing([12.0, 4.0])
            .show(ui, |ui| {
                for h in [
                    "",
                    t.col_number,
                    t.col_applicant,
                    t.col_item,
                    t.col_holder,
                    t.col_due,
                    t.col_days_overdue,
                    t.col_supervision,
                ] {
                    ui.strong(h);
                }
                ui.end_row();
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
            });
        if let Some(id) = open {
            cx.commands.push(Command::OpenCase(id));
        }
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

fn default_csv_path(today: NaiveDate) -> String {
    let dir = std::env::var_os("HOME").map_or_else(|| std::path::PathBuf::from("."), Into::into);
    dir.join(format!("yizhan-stats-{}.csv", today.format("%Y%m%d")))
        .display()
        .to_string()
}

/// Writes `text` (with a byte-order mark, so that spreadsheet programs read the Chinese right) on
/// its own thread; the answer is the path written or the error.
fn write_in_background(path: String, text: String) -> Receiver<Result<String, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("yizhan-csv".into())
        .spawn(move || {
            let mut bytes = "\u{feff}".as_bytes().to_vec();
            bytes.extend_from_slice(text.as_bytes());
            let r = std::fs::write(&path, bytes)
                .map(|()| path.clone())
                .map_err(|e| format!("{path}: {e}"));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        let (tx2, rx2) = std::sync::mpsc::channel();
        let _ = tx2.send(Err(e.to_string()));
        return rx2;
    }
    rx
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

    #[test]
    fn date_fields_give_a_range_or_say_why_not() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(parse_range("", ""), Ok((None, None)));
        assert_eq!(parse_range(" 2026-03-01 ", ""), Ok((d("2026-03-01"), None)));
        assert_eq!(
            parse_range("2026-03-01", "2026-03-01"),
            Ok((d("2026-03-01"), d("2026-03-01")))
        );
        assert_eq!(parse_range("2026-3-1x", ""), Err(RangeError::Format));
        // Issue #13: the ways a clerk writes a date.
        assert_eq!(
            parse_range("2026/12/06", "2026-12-6"),
            Ok((d("2026-12-06"), d("2026-12-06")))
        );
        assert_eq!(parse_range("", "2026-02-30"), Err(RangeError::Format));
        assert_eq!(
            parse_range("2026-03-02", "2026-03-01"),
            Err(RangeError::Reversed)
        );
    }
}
