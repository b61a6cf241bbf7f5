//! The calendar part of the settings: each year's holidays and make-up working days (调休上班),
//! dates added and removed, new years added (city only), and a working-day check computed with
//! the unsaved changes beside the saved calendar, so that a clerk sees what a change does to due
//! dates before saving it.
//!
//! Changes are kept per year as drafts until saved; a year is saved alone
//! ([`NetworkEdit::SetYear`]), so that saving one year never overwrites another year someone
//! else changed meanwhile. The node validates the year again (dates in that year, none both a
//! holiday and a working day) and travels it to every node with the calendar document.

use super::i18n::Tr;
use super::widgets::{error_line, field, outcome_line};
use super::{Command, Cx, NetworkEdit};
use crate::app::ui_ext::UiExt as _;
use chrono::{Datelike, NaiveDate, Weekday};
use eframe::egui;
use std::collections::BTreeMap;
use yizhan_node::calendar::{Calendar, FIRST_YEAR, LAST_YEAR, YearRule};

/// Which list a date is added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum DayKind {
    /// A day off.
    #[default]
    Holiday,
    /// A make-up working day on a weekend.
    Workday,
}

/// The calendar editor.
#[derive(Debug, Default)]
pub struct CalendarEditor {
    year: Option<i32>,
    /// Unsaved rules by year (sorted, without duplicates); a draft equal to the saved rule is
    /// dropped, so a year listed here really has changes.
    drafts: BTreeMap<i32, YearRule>,
    new_year: String,
    date: String,
    add_as: DayKind,
    preview_from: String,
    preview_days: String,
    /// The calendar with the drafts applied, and what it was built from.
    preview: Option<PreviewCache>,
    /// The node's answer to the last save: what was done, or why it was refused.
    result: Option<Result<String, String>>,
}

/// The calendar with the drafts applied, rebuilt only when the drafts or the saved calendar
/// change.
#[derive(Debug)]
struct PreviewCache {
    drafts: BTreeMap<i32, YearRule>,
    saved: Calendar,
    with_drafts: Result<Calendar, String>,
}

impl CalendarEditor {
    /// The node's answer to saving `year`.
    pub fn done(&mut self, year: i32, result: Result<String, String>) {
        // On success the draft goes once the saved calendar shows it (see `drop_saved_drafts`),
        // so that the list never flashes the old dates while the station's view is reloaded.
        self.year = Some(year);
        self.result = Some(result);
    }

    /// Draws the editor.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        let saved = &cx.info.calendar;
        self.drop_saved_drafts(saved);
        if self.year.is_none() {
            let this_year = cx.info.today.year();
            self.year = if saved.covers(this_year) {
                Some(this_year)
            } else {
                saved.years().keys().next_back().copied()
            };
        }
        if self.preview_from.is_empty() {
            self.preview_from = cx.info.today.format("%Y-%m-%d").to_string();
            self.preview_days = "5".into();
        }
        super::widgets::side_list("settings-calendar-years", 250.0, 180.0)
            .show(ui, |ui| self.years_list(ui, cx, city));
        super::widgets::scrolling_form(ui, "calendar-year", |ui| {
            if let Some(year) = self.year {
                self.year_ui(ui, cx, city, year);
            }
            ui.separator();
            self.preview_ui(ui, cx);
            ui.add_space(6.0);
            ui.add(egui::Label::new(egui::RichText::new(t.cal_builtin_note).weak()).wrap());
        });
    }

    /// Forgets drafts that no longer differ from the saved calendar (saved, or undone by hand).
    fn drop_saved_drafts(&mut self, saved: &Calendar) {
        self.drafts
            .retain(|year, rule| saved.years().get(year) != Some(&*rule));
    }

    /// The rule shown for `year`: its draft, or what is saved.
    fn rule(&self, saved: &Calendar, year: i32) -> YearRule {
        self.drafts
            .get(&year)
            .or_else(|| saved.years().get(&year))
            .cloned()
            .unwrap_or_default()
    }

    fn years_list(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool) {
        let t = cx.t;
        ui.strong(t.calendar_years);
        ui.separator();
        let saved = &cx.info.calendar;
        let mut years: Vec<i32> = saved.years().keys().copied().collect();
        years.extend(self.drafts.keys().copied());
        years.sort_unstable();
        years.dedup();
        for year in years {
            let rule = self.rule(saved, year);
            let mut text = format!(
                "{year}{}{} {} · {} {}",
                t.doc_sep,
                t.holidays,
                rule.holidays.len(),
                t.makeup_days,
                rule.workdays.len()
            );
            if self.drafts.contains_key(&year) {
                text.push_str(t.cal_unsaved);
            }
            if ui.selectable_label(self.year == Some(year), text).clicked() {
                self.year = Some(year);
                self.result = None;
            }
        }
        ui.separator();
        ui.add_enabled_ui(city, |ui| {
            // `Err(None)`: nothing typed yet; `Err(Some(why))`: not a year that can be added.
            let text = self.new_year.trim();
            let checked = match text.parse::<i32>() {
                _ if text.is_empty() => Err(None),
                Ok(y) if !(FIRST_YEAR..=LAST_YEAR).contains(&y) => Err(Some(t.cal_year_invalid)),
                Err(_) => Err(Some(t.cal_year_invalid)),
                Ok(y) if saved.covers(y) || self.drafts.contains_key(&y) => {
                    Err(Some(t.cal_year_exists))
                }
                Ok(y) => Ok(y),
            };
            ui.horizontal(|ui| {
                field(ui, t.cal_year, &mut self.new_year, 60.0);
                if ui.enabled_button(checked.is_ok(), t.cal_add_year)
                    && let Ok(y) = checked
                {
                    self.drafts.insert(y, YearRule::default());
                    self.year = Some(y);
                    self.new_year.clear();
                    self.result = None;
                }
            });
            if let Err(Some(why)) = checked {
                error_line(ui, why);
            }
        });
    }

    fn year_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>, city: bool, year: i32) {
        let t = cx.t;
        let saved = &cx.info.calendar;
        let mut rule = self.rule(saved, year);
        ui.heading(format!("{year}{}", t.cal_year_suffix));
        if let Some(notice) = Calendar::builtin_notice(year) {
            ui.add(egui::Label::new(egui::RichText::new(&notice.title).weak()).wrap());
        }
        if !city {
            ui.weak(t.city_only_edit);
        }
        let mut changed = false;
        ui.add_enabled_ui(city, |ui| {
            for (kind, heading) in [
                (DayKind::Holiday, t.cal_holidays_heading),
                (DayKind::Workday, t.cal_workdays_heading),
            ] {
                let list = match kind {
                    DayKind::Holiday => &mut rule.holidays,
                    DayKind::Workday => &mut rule.workdays,
                };
                ui.strong(format!("{heading}{}{}{}", t.paren_l, list.len(), t.paren_r));
                let mut remove = None;
                ui.horizontal_wrapped(|ui| {
                    if list.is_empty() {
                        ui.weak(t.cal_none);
                    }
                    for (i, d) in list.iter().enumerate() {
                        let text = format!("{} ✕", d.format("%m-%d"));
                        let hover = format!(
                            "{} {} · {}",
                            d.format("%Y-%m-%d"),
                            t.weekday(d.weekday()),
                            t.cal_remove_hint
                        );
                        if ui.small_button(text).on_hover_text(hover).clicked() {
                            remove = Some(i);
                        }
                    }
                });
                if let Some(i) = remove {
                    list.remove(i);
                    changed = true;
                }
                ui.add_space(4.0);
            }
            ui.horizontal_wrapped(|ui| {
                field(ui, t.cal_date, &mut self.date, 100.0).on_hover_text(t.date_hint);
                ui.radio_value(&mut self.add_as, DayKind::Holiday, t.cal_as_holiday);
                ui.radio_value(&mut self.add_as, DayKind::Workday, t.cal_as_workday);
                let checked = check_date(t, &self.date, year, self.add_as, &rule);
                if ui.enabled_button(checked.is_ok(), t.cal_add_date)
                    && let Ok(day) = checked
                {
                    let list = match self.add_as {
                        DayKind::Holiday => &mut rule.holidays,
                        DayKind::Workday => &mut rule.workdays,
                    };
                    list.push(day);
                    list.sort_unstable();
                    self.date.clear();
                    changed = true;
                }
            });
            if let Err(Some(why)) = check_date(t, &self.date, year, self.add_as, &rule) {
                error_line(ui, &why);
            }
        });
        if changed {
            self.drafts.insert(year, rule);
            self.result = None;
        }
        let unsaved = self.drafts.contains_key(&year);
        ui.add_space(4.0);
        ui.add_enabled_ui(city && !cx.writing, |ui| {
            ui.horizontal(|ui| {
                if ui.enabled_button(unsaved, t.cal_save)
                    && let Some(rule) = self.drafts.get(&year)
                {
                    self.result = None;
                    cx.commands.push(Command::EditNetwork(NetworkEdit::SetYear {
                        year,
                        rule: rule.clone(),
                    }));
                }
                if ui.enabled_button(unsaved, t.discard) {
                    self.drafts.remove(&year);
                    if !saved.covers(year) {
                        self.year = None;
                    }
                }
                if unsaved {
                    ui.colored_label(ui.visuals().warn_fg_color, t.cal_unsaved_note);
                }
            });
        });
        outcome_line(ui, self.result.as_ref(), String::clone);
    }

    /// The working-day check: the n-th working day after a date, with the unsaved changes and
    /// as saved.
    fn preview_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let t = cx.t;
        let saved = &cx.info.calendar;
        ui.strong(t.cal_preview);
        ui.horizontal_wrapped(|ui| {
            field(ui, t.cal_from, &mut self.preview_from, 100.0).on_hover_text(t.date_hint);
            field(ui, t.cal_days, &mut self.preview_days, 50.0);
        });
        let from = NaiveDate::parse_from_str(self.preview_from.trim(), "%Y-%m-%d");
        let days = self
            .preview_days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 365);
        let (Ok(from), Some(days)) = (from, days) else {
            error_line(ui, t.cal_preview_invalid);
            return;
        };
        let stale = self
            .preview
            .as_ref()
            .is_none_or(|p| p.drafts != self.drafts || p.saved != *saved);
        if stale {
            let mut with_drafts = saved.clone();
            let applied = self
                .drafts
                .iter()
                .try_for_each(|(y, r)| with_drafts.set_year(*y, r.clone()))
                .map_err(|e| t.calendar_error(&e));
            self.preview = Some(PreviewCache {
                drafts: self.drafts.clone(),
                saved: saved.clone(),
                with_drafts: applied.map(|()| with_drafts),
            });
        }
        let Some(preview) = &self.preview else { return };
        let show = |cal: &Calendar| {
            let due = cal.add_working_days(from, days);
            format!(
                "{}{}{}{}",
                due.format("%Y-%m-%d"),
                t.paren_l,
                t.weekday(due.weekday()),
                t.paren_r
            )
        };
        if !self.drafts.is_empty() {
            match &preview.with_drafts {
                Ok(cal) => {
                    ui.label(format!("{}{}{}", t.cal_with_changes, t.doc_sep, show(cal)));
                }
                Err(e) => error_line(ui, e),
            }
        }
        ui.label(format!("{}{}{}", t.cal_as_saved, t.doc_sep, show(saved)));
    }
}

/// Checks a typed date for the year's list: `Ok` with the date when it can be added,
/// `Err(None)` when nothing is typed, `Err(Some(why))` otherwise.
fn check_date(
    t: &Tr,
    text: &str,
    year: i32,
    kind: DayKind,
    rule: &YearRule,
) -> Result<NaiveDate, Option<String>> {
    let text = text.trim();
    if text.is_empty() {
        return Err(None);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Some(t.cal_date_format.to_string()))?;
    if day.year() != year {
        return Err(Some(t.cal_date_year.to_string()));
    }
    if rule.holidays.contains(&day) {
        return Err(Some(t.cal_already_holiday.to_string()));
    }
    if rule.workdays.contains(&day) {
        return Err(Some(t.cal_already_workday.to_string()));
    }
    if kind == DayKind::Workday && !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        return Err(Some(format!(
            "{}{}{}{}",
            t.cal_makeup_weekday,
            t.paren_l,
            t.weekday(day.weekday()),
            t.paren_r
        )));
    }
    Ok(day)
}
