//! The calendar (日历) beside a date field, in the window's language (issue #13).
//!
//! egui_extras has a date picker, but its month names, weekdays and buttons are English only, and
//! it writes the date only after its own Save button. This one is a month grid in a pop-up under
//! a 日历 button: it opens on the field's date (or today while the field is empty or unreadable),
//! 上月/下月 page through months, and clicking a day writes it into the field as YYYY-MM-DD and
//! closes the pop-up. The text field stays the one source of the date, so typing and picking can
//! never disagree.

use super::i18n::Tr;
use super::widgets::parse_date;
use chrono::{Datelike, Months, NaiveDate, Weekday};
use eframe::egui;

/// The 日历 button and its pop-up for the date in `text`. Returns whether a day was picked this
/// frame (the field was written).
pub fn date_picker(
    ui: &mut egui::Ui,
    id_salt: &str,
    text: &mut String,
    today: NaiveDate,
    t: &Tr,
) -> bool {
    let button = ui.button(t.calendar_button).on_hover_text(t.pick_date);
    let month_id = ui.make_persistent_id(("date-picker-month", id_salt));
    let typed = parse_date(text);
    if button.clicked() {
        ui.data_mut(|d| d.insert_temp(month_id, first_of_month(typed.unwrap_or(today))));
    }
    let mut picked = None;
    egui::Popup::from_toggle_button_response(&button)
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside)
        .show(|ui| {
            let mut month = ui
                .data(|d| d.get_temp::<NaiveDate>(month_id))
                .unwrap_or_else(|| first_of_month(typed.unwrap_or(today)));
            ui.horizontal(|ui| {
                if ui.button(t.prev_month).clicked()
                    && let Some(m) = month.checked_sub_months(Months::new(1))
                {
                    month = m;
                }
                ui.strong(t.month_title(month.year(), month.month()));
                if ui.button(t.next_month).clicked()
                    && let Some(m) = month.checked_add_months(Months::new(1))
                {
                    month = m;
                }
            });
            egui::Grid::new(month_id.with("grid"))
                .spacing([4.0, 4.0])
                .show(ui, |ui| {
                    for wd in WEEK {
                        ui.weak(t.weekday_short(wd));
                    }
                    ui.end_row();
                    for (i, day) in month_grid(month).into_iter().enumerate() {
                        match day {
                            Some(day) => {
                                let label = egui::RichText::new(format!("{:>2}", day.day()));
                                let label = if day == today { label.strong() } else { label };
                                if ui
                                    .selectable_label(typed == Some(day), label)
                                    .on_hover_text(day.format("%Y-%m-%d").to_string())
                                    .clicked()
                                {
                                    picked = Some(day);
                                }
                            }
                            None => {
                                ui.label("");
                            }
                        }
                        if i % 7 == 6 {
                            ui.end_row();
                        }
                    }
                });
            if ui.button(t.today_button).clicked() {
                picked = Some(today);
            }
            ui.data_mut(|d| d.insert_temp(month_id, month));
        });
    match picked {
        Some(day) => {
            *text = day.format("%Y-%m-%d").to_string();
            egui::Popup::close_id(ui.ctx(), egui::Popup::default_response_id(&button));
            true
        }
        None => false,
    }
}

/// The week as the calendar shows it: Monday first, as Chinese calendars do.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The cells of `month`'s grid, row by row from Monday: `None` before the first and after the
/// last day, so that the cell count is a whole number of weeks.
fn month_grid(month: NaiveDate) -> Vec<Option<NaiveDate>> {
    let first = first_of_month(month);
    let mut cells: Vec<Option<NaiveDate>> =
        vec![None; first.weekday().num_days_from_monday() as usize];
    cells.extend(
        first
            .iter_days()
            .take_while(|d| d.month() == first.month())
            .map(Some),
    );
    while !cells.len().is_multiple_of(7) {
        cells.push(None);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    /// December 2026 starts on a Tuesday and has 31 days: one blank Monday, five rows.
    #[test]
    fn a_months_grid_starts_on_its_weekday_and_fills_whole_weeks() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let cells = month_grid(d(2026, 12, 17));
        assert_eq!(cells.len(), 35);
        assert_eq!(cells[0], None);
        assert_eq!(cells[1], Some(d(2026, 12, 1)));
        assert_eq!(cells[31], Some(d(2026, 12, 31)));
        assert_eq!(cells[32..], [None, None, None]);
        // February 2027 starts on a Monday and has exactly four weeks.
        let feb = month_grid(d(2027, 2, 1));
        assert_eq!(feb.len(), 28);
        assert!(feb.iter().all(Option::is_some));
    }
}
