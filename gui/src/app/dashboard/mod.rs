//! The consolidated dashboard (city: everything; township: its villages; village: itself):
//! totals, lights, on-time and satisfaction rates, groups by township / village / department /
//! item with a chart, the overdue and severe list, and CSV export of the group table.
//!
//! Statistics come from `Node::stats` (counter tables, tens of milliseconds at a million cases) and
//! are fetched again when the data version moves. A from/to date pair narrows them to the cases
//! taken in between (`Node::stats_between`, which counts the case table itself because the
//! counters carry no dates); the figures are fetched again when a valid pair changes. The CSV
//! file is written on a short-lived thread so that the UI thread never touches the disk.
//!
//! This module fetches and lays the screen out; [`tables`] draws the figures and the group table
//! with its export, [`lists`] the ranking and the overdue list.

mod lists;
mod tables;

use super::date_picker::date_picker;
use super::list::parse_date;
use super::task::{Task, in_background};
use super::widgets::{error_line, field};
use super::{Command, Cx};
use chrono::NaiveDate;
use eframe::egui;
use std::sync::mpsc::Receiver;
use yizhan_node::case::Light;
use yizhan_node::query::{CaseFilter, CaseRow, GroupBy, RankBy, RankRow, Sort, Stats};
use yizhan_node::station::Tier;

/// How often the peers' last contacts are read again while the dashboard is shown.
const PEERS_EVERY_MS: i64 = 5_000;

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
    in_background("yizhan-csv", move || {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend_from_slice(text.as_bytes());
        std::fs::write(&path, bytes)
            .map(|()| path.clone())
            .map_err(|e| format!("{path}: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
