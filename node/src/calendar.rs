//! The working-day calendar (工作日, 调休).
//!
//! STUB: the API below is fixed; a helper fills in the bodies, the built-in 2024–2026 table and
//! the tests.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The days of one year that differ from the plain Monday–Friday rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearRule {
    /// Statutory holidays that fall on what would be a working day, or any day declared off.
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (调休上班) that fall on a weekend.
    pub workdays: Vec<NaiveDate>,
}

/// Errors from editing the calendar.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    /// A date listed under a year does not belong to that year.
    #[error("calendar year {year}: date {date} is not in that year")]
    WrongYear { year: i32, date: NaiveDate },
    /// A date is listed both as a holiday and as a make-up working day.
    #[error("calendar year {year}: {date} is listed both as a holiday and as a working day")]
    Both { year: i32, date: NaiveDate },
    /// A year outside the supported range.
    #[error("calendar year {0} is out of range (2000–2100)")]
    OutOfRange(i32),
}

/// Working days: weekends and statutory holidays off, make-up working weekends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, YearRule>,
}

impl Calendar {
    /// The calendar for 2024–2026 that ships with Yizhan, written from the State Council notices.
    pub fn builtin() -> Calendar {
        Calendar {
            years: BTreeMap::new(),
        }
    }

    /// A calendar from explicit year rules (validated).
    pub fn from_years(years: BTreeMap<i32, YearRule>) -> Result<Calendar, CalendarError> {
        Ok(Calendar { years })
    }

    /// The year rules, for storing in the calendar network document.
    pub fn years(&self) -> &BTreeMap<i32, YearRule> {
        &self.years
    }

    /// Adds or replaces one year's rule (city staff add later years in the app).
    pub fn set_year(&mut self, year: i32, rule: YearRule) -> Result<(), CalendarError> {
        self.years.insert(year, rule);
        Ok(())
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        let _ = day;
        true
    }

    /// The `n`-th working day strictly after `from`; `n == 0` returns `from` itself.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let _ = n;
        from
    }

    /// The latest working day `d` with `working_days_between(d, to) == n` (so `d < to` for n > 0);
    /// `n == 0` returns `to` itself.
    pub fn sub_working_days(&self, to: NaiveDate, n: u32) -> NaiveDate {
        let _ = n;
        to
    }

    /// The number of working days in the half-open range `(from, to]`; negative when `to < from`
    /// (then it counts the working days in `(to, from]`, negated).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let _ = (from, to);
        0
    }
}
