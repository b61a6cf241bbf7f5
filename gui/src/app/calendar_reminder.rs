//! The city's reminder that next year's working-day calendar is missing (issue #10).
//!
//! The State Council announces a year's holidays late in the year before, and until the city
//! enters them every due date counted into that year is provisional (weekends only). From
//! 1 November, by the node's clock (which `YIZHAN_NOW` pins), a city station whose calendar does
//! not cover next year shows a banner above every screen with a button to the calendar settings.
//! Only city stations see it: only the city can edit the calendar.

use super::{Command, Cx, SettingsTab, StationInfo};
use chrono::Datelike as _;
use eframe::egui;
use yizhan_node::station::Tier;

/// The month from which the reminder shows (November).
const FROM_MONTH: u32 = 11;

/// The year whose calendar the city should add now, if any: next year, from 1 November, when the
/// calendar has no rule for it, at a city station.
pub fn missing_year(info: &StationInfo) -> Option<i32> {
    let next = info.today.year() + 1;
    (info.tier == Tier::City && info.today.month() >= FROM_MONTH && !info.calendar.covers(next))
        .then_some(next)
}

/// Draws the banner when [`missing_year`] says so; its button opens the calendar settings.
pub fn ui(ui: &mut egui::Ui, cx: &mut Cx<'_>) {
    let Some(year) = missing_year(cx.info) else {
        return;
    };
    let t = cx.t;
    egui::Frame::group(ui.style())
        .fill(ui.visuals().warn_fg_color.gamma_multiply(0.15))
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, t.calendar_reminder(year));
                if ui.button(t.calendar_reminder_open).clicked() {
                    cx.commands
                        .push(Command::OpenSettings(SettingsTab::Calendar));
                }
            });
        });
    ui.add_space(4.0);
}
