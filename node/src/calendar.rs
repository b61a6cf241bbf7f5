//! The working-day calendar (工作日, 调休).
//!
//! # Model
//!
//! A *working day* is a day on which stations count time against a case's deadline. By default
//! Monday to Friday are working days and Saturday and Sunday are not. For each year it knows, the
//! calendar holds a [`YearRule`] with two exceptions to that default:
//!
//! - *holidays*: days declared off by the State Council notice. They are stored as declared, so a
//!   range such as 春节 2026-02-15..=2026-02-23 includes its weekend days; a holiday that falls on
//!   a weekend changes nothing, one that falls on a weekday takes that day off.
//! - *make-up working days* (调休上班): weekend days declared to be working days, for example
//!   Saturday 2026-02-14 and Saturday 2026-02-28 around the 2026 Spring Festival.
//!
//! Years without a rule follow the plain Monday–Friday rule, so dates far in the past or future
//! (1900, 2200, even [`NaiveDate::MIN`] and [`NaiveDate::MAX`]) work and never panic.
//!
//! # Counting
//!
//! Counting is half-open: [`Calendar::working_days_between`] counts the working days in
//! `(from, to]`, the day of `from` itself excluded. This matches the rule that the clock starts
//! on the working day after acceptance: a 承诺件 with 3 promised days accepted on Friday
//! 2026-02-13 is due on [`Calendar::add_working_days`]`(2026-02-13, 3)`, which is Wednesday
//! 2026-02-25 (Saturday 2026-02-14 is a make-up working day, 2026-02-15..=2026-02-23 are off).
//!
//! # Why prefix sums
//!
//! Index rebuilds compute deadlines for millions of cases, so the operations must not walk day by
//! day. Think of a function `W(d)`: the number of working days up to and including `d`, counted
//! from a fixed origin. Then `working_days_between(from, to) = W(to) - W(from)`, and adding `n`
//! working days to `from` means finding the first day `d` with `W(d) >= W(from) + n`.
//!
//! - Under the plain Monday–Friday rule `W` has a closed form (five working days per seven-day
//!   week) and so does its inverse.
//! - For the span of years that have rules (at most 2000..=2100), the calendar precomputes a
//!   dense prefix-sum array: one `u32` per day holding the number of working days from the first
//!   covered day up to that day. `W` is then one array lookup, and its inverse is a binary search.
//! - After the covered span `W` is the closed form plus a constant offset (the net effect of all
//!   the rules), and before the span it is the closed form itself.
//!
//! `working_days_between` and `is_working_day` are therefore O(1), and `add_working_days` and
//! `sub_working_days` are O(1) outside the covered span and O(log days) inside it.
//!
//! # The built-in table
//!
//! [`Calendar::builtin`] reads `node/data/calendar-cn.json`, which is embedded in the binary and
//! written by hand from the State Council (国务院办公厅) notices for 2024, 2025 and 2026. Its
//! format is the project's own: one object per year with the notice's title, number (when known),
//! issue date and source address, the holiday ranges (`name`, `from`, `to`, inclusive) and the
//! make-up working days (`name`, `date`).

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The first year a [`YearRule`] may be given for.
pub const FIRST_YEAR: i32 = 2000;
/// The last year a [`YearRule`] may be given for.
pub const LAST_YEAR: i32 = 2100;

/// The days of one year that differ from the plain Monday–Friday rule.
///
/// The calendar stores rules in canonical form: both lists sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearRule {
    /// Statutory holidays that fall on what would be a working day, or any day declared off.
    /// Weekend days inside a declared holiday range may be listed; they change nothing.
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (调休上班) that fall on a weekend. A weekday listed here changes
    /// nothing.
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

/// The State Council notice a year of the built-in table was written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The notice's title, e.g. 国务院办公厅关于2026年部分节假日安排的通知.
    pub title: String,
    /// The document number (文号), e.g. 国办发明电〔2024〕12号, when the table records it.
    pub number: Option<String>,
    /// The date the notice was issued.
    pub issued: NaiveDate,
    /// Where the notice is published.
    pub source: String,
}

/// Working days: weekends and statutory holidays off, make-up working weekends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, YearRule>,
    /// Prefix sums derived from `years`; shared between clones because it never changes after it
    /// is built (editing the calendar builds a new one).
    index: Arc<Index>,
}

impl Calendar {
    /// The calendar for 2024–2026 that ships with Yizhan, written from the State Council notices.
    ///
    /// The table is parsed once per process and then cloned, which is cheap.
    pub fn builtin() -> Calendar {
        builtin_table().calendar.clone()
    }

    /// The State Council notice the built-in table's rule for `year` was written from.
    pub fn builtin_notice(year: i32) -> Option<&'static Notice> {
        builtin_table().notices.get(&year)
    }

    /// The festival a day of the built-in table belongs to, for display: the holiday's name for a
    /// declared holiday, and the name of the holiday it makes up for on a make-up working day
    /// (e.g. 春节 for 2026-02-14). `None` for days the built-in table does not mention. This looks
    /// only at the shipped table, not at rules city staff have since edited.
    pub fn builtin_day_name(day: NaiveDate) -> Option<&'static str> {
        builtin_table().names.get(&day).map(String::as_str)
    }

    /// A calendar from explicit year rules (validated).
    ///
    /// Every year must be within 2000..=2100, every date must lie in the year it is listed under,
    /// and no date may be both a holiday and a make-up working day. The rules are stored sorted
    /// and without duplicates.
    pub fn from_years(years: BTreeMap<i32, YearRule>) -> Result<Calendar, CalendarError> {
        let years = years
            .into_iter()
            .map(|(year, rule)| Ok((year, normalize(year, rule)?)))
            .collect::<Result<BTreeMap<_, _>, CalendarError>>()?;
        let index = Arc::new(Index::build(&years));
        Ok(Calendar { years, index })
    }

    /// The year rules, for storing in the calendar network document.
    pub fn years(&self) -> &BTreeMap<i32, YearRule> {
        &self.years
    }

    /// Whether the calendar has a rule for `year`; years without one follow the plain
    /// Monday–Friday rule.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Whether the calendar has a rule for every year from `from`'s to `to`'s (inclusive, in
    /// either order). A count of working days over a span that reaches into a year without a rule
    /// skipped only weekends there, so a due date computed over it is provisional (暂定) until the
    /// city adds that year.
    pub fn covers_span(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.first_uncovered(from, to).is_none()
    }

    /// The first year from `from`'s to `to`'s (inclusive, in either order) that has no rule, if
    /// any.
    pub fn first_uncovered(&self, from: NaiveDate, to: NaiveDate) -> Option<i32> {
        let (a, b) = (from.year().min(to.year()), from.year().max(to.year()));
        (a..=b).find(|year| !self.covers(*year))
    }

    /// Adds or replaces one year's rule (city staff add later years in the app).
    ///
    /// The rule is validated as in [`Calendar::from_years`]; on error the calendar is unchanged.
    pub fn set_year(&mut self, year: i32, rule: YearRule) -> Result<(), CalendarError> {
        let rule = normalize(year, rule)?;
        self.years.insert(year, rule);
        self.index = Arc::new(Index::build(&self.years));
        Ok(())
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        let x = day_number(day);
        self.index.rank(x) - self.index.rank(x - 1) == 1
    }

    /// The `n`-th working day strictly after `from`; `n == 0` returns `from` itself.
    ///
    /// For `n > 0` the result `d` is the earliest day with `working_days_between(from, d) == n`,
    /// and it is a working day. A result beyond [`NaiveDate::MAX`] saturates to it.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return from;
        }
        let target = self.index.rank(day_number(from)) + i64::from(n);
        date_from_number(self.index.unrank(target))
    }

    /// The latest working day `d` with `working_days_between(d, to) == n` (so `d < to` for n > 0);
    /// `n == 0` returns `to` itself.
    ///
    /// For `n > 0` there is exactly one working day with that property, and
    /// `add_working_days(sub_working_days(to, n), n)` is `to` when `to` is a working day, or
    /// otherwise the last working day before `to`. A result before [`NaiveDate::MIN`] saturates
    /// to it.
    pub fn sub_working_days(&self, to: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return to;
        }
        let target = self.index.rank(day_number(to)) - i64::from(n);
        date_from_number(self.index.unrank(target))
    }

    /// The number of working days in the half-open range `(from, to]`; negative when `to < from`
    /// (then it counts the working days in `(to, from]`, negated).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        self.index.rank(day_number(to)) - self.index.rank(day_number(from))
    }
}

/// Validates one year's rule and brings it into canonical form (sorted, no duplicates).
fn normalize(year: i32, mut rule: YearRule) -> Result<YearRule, CalendarError> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(CalendarError::OutOfRange(year));
    }
    for list in [&mut rule.holidays, &mut rule.workdays] {
        list.sort_unstable();
        list.dedup();
        if let Some(&date) = list.iter().find(|date| date.year() != year) {
            return Err(CalendarError::WrongYear { year, date });
        }
    }
    if let Some(&date) = rule
        .workdays
        .iter()
        .find(|date| rule.holidays.binary_search(date).is_ok())
    {
        return Err(CalendarError::Both { year, date });
    }
    Ok(rule)
}

/// A day as a plain integer: chrono's day number counted from 0001-01-01 (day 1, a Monday).
fn day_number(day: NaiveDate) -> i64 {
    i64::from(day.num_days_from_ce())
}

/// The inverse of [`day_number`], saturating at [`NaiveDate::MIN`] and [`NaiveDate::MAX`].
fn date_from_number(x: i64) -> NaiveDate {
    i32::try_from(x)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(if x > 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        })
}

/// The plain Monday–Friday count: the number of weekdays among days `1..=x`, extended to all
/// integers so that `plain(b) - plain(a)` is the number of weekdays in `(a, b]`.
///
/// Day `x` falls on weekday `(x - 1) mod 7`, counting Monday as 0, so this counts the integers
/// `k` in `0..x` with `k mod 7 < 5`.
fn plain(x: i64) -> i64 {
    5 * x.div_euclid(7) + x.rem_euclid(7).min(5)
}

/// The smallest day `x` with `plain(x) >= t`; that day is the `t`-th weekday.
fn plain_inverse(t: i64) -> i64 {
    let (weeks, rest) = (t.div_euclid(5), t.rem_euclid(5));
    if rest == 0 {
        // The last weekday of the previous week: its Friday.
        7 * weeks - 2
    } else {
        7 * weeks + rest
    }
}

/// Prefix sums of working days over the years that have rules.
///
/// `rank(x)` is the number of working days in `(origin, x]` for a fixed origin (the same one as
/// [`plain`]); it increases by one on each working day and stays put on every other day.
#[derive(Clone, PartialEq, Eq)]
struct Index {
    /// Day number of the first covered day (1 January of the first year with a rule).
    first: i64,
    /// `plain(first - 1)`, which equals `rank(first - 1)` because no rule applies before `first`.
    base: i64,
    /// `counts[i]` is the number of working days in `[first, first + i]`. Empty when the calendar
    /// has no rules.
    counts: Vec<u32>,
    /// `rank(x) - plain(x)` for every day after the covered span: the net effect of all rules.
    tail: i64,
}

impl Index {
    /// The index of a calendar without rules: the plain Monday–Friday count everywhere.
    fn plain() -> Index {
        Index {
            first: 0,
            base: 0,
            counts: Vec::new(),
            tail: 0,
        }
    }

    /// Builds the prefix sums from validated year rules.
    fn build(years: &BTreeMap<i32, YearRule>) -> Index {
        let (Some(&first_year), Some(&last_year)) = (years.keys().next(), years.keys().next_back())
        else {
            return Index::plain();
        };
        let span = NaiveDate::from_ymd_opt(first_year, 1, 1)
            .zip(NaiveDate::from_ymd_opt(last_year, 12, 31));
        let Some((first_day, last_day)) = span else {
            // Unreachable: validated years are within 2000..=2100.
            return Index::plain();
        };
        let first = day_number(first_day);
        let len = usize::try_from(day_number(last_day) - first + 1).unwrap_or(0);

        let mut overrides: Vec<Option<bool>> = vec![None; len];
        for rule in years.values() {
            let marked = rule.holidays.iter().map(|&day| (day, false));
            let marked = marked.chain(rule.workdays.iter().map(|&day| (day, true)));
            for (day, working) in marked {
                let slot = usize::try_from(day_number(day) - first)
                    .ok()
                    .and_then(|i| overrides.get_mut(i));
                if let Some(slot) = slot {
                    *slot = Some(working);
                }
            }
        }

        let mut counts = Vec::with_capacity(len);
        let mut count = 0u32;
        for (day, working) in first_day.iter_days().zip(overrides) {
            let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            if working.unwrap_or(weekday) {
                count += 1;
            }
            counts.push(count);
        }
        let base = plain(first - 1);
        let last = first + i64::try_from(counts.len()).unwrap_or(0) - 1;
        let tail = base + i64::from(count) - plain(last);
        Index {
            first,
            base,
            counts,
            tail,
        }
    }

    /// The number of working days in `(origin, x]`.
    fn rank(&self, x: i64) -> i64 {
        match usize::try_from(x - self.first) {
            // Before the covered span (or no rules at all): the plain rule.
            Err(_) => plain(x),
            Ok(i) => match self.counts.get(i) {
                Some(&count) => self.base + i64::from(count),
                // After the covered span: the plain rule shifted by the rules' net effect.
                None => plain(x) + self.tail,
            },
        }
    }

    /// The smallest day `x` with `rank(x) >= t`. Because `rank` grows by at most one per day,
    /// `rank(x) == t` and `x` is a working day: the `t`-th one after the origin.
    fn unrank(&self, t: i64) -> i64 {
        let Some(&last_count) = self.counts.last() else {
            return plain_inverse(t);
        };
        let candidate = plain_inverse(t);
        if candidate < self.first {
            // `rank` is the plain count before the span, so the plain answer stands.
            return candidate;
        }
        // Every day before `first` has rank below `t`, so the answer is in or after the span.
        let needed = t - self.base;
        if needed <= i64::from(last_count) {
            let i = self
                .counts
                .partition_point(|&count| i64::from(count) < needed);
            return self.first + i64::try_from(i).unwrap_or(0);
        }
        let last = self.first + i64::try_from(self.counts.len()).unwrap_or(0) - 1;
        plain_inverse(t - self.tail).max(last + 1)
    }
}

impl fmt::Debug for Index {
    // The prefix sums are tens of thousands of numbers derived from the rules; show the span only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.first + i64::try_from(self.counts.len()).unwrap_or(0) - 1;
        let mut out = f.debug_struct("Index");
        if !self.counts.is_empty() {
            out.field("first", &date_from_number(self.first))
                .field("last", &date_from_number(last))
                .field("tail", &self.tail);
        }
        out.finish_non_exhaustive()
    }
}

/// The built-in table, embedded at compile time.
const BUILTIN_JSON: &str = include_str!("../data/calendar-cn.json");

/// The built-in table, parsed.
#[derive(Debug)]
struct Builtin {
    calendar: Calendar,
    notices: BTreeMap<i32, Notice>,
    /// The festival name of every day the table mentions.
    names: BTreeMap<NaiveDate, String>,
}

/// One year of the table file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableYear {
    year: i32,
    notice: String,
    number: Option<String>,
    issued: NaiveDate,
    source: String,
    holidays: Vec<TableHoliday>,
    workdays: Vec<TableWorkday>,
}

/// A declared holiday range, both ends included.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableHoliday {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
}

/// A declared make-up working day.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableWorkday {
    name: String,
    date: NaiveDate,
}

/// The built-in table, parsed on first use.
fn builtin_table() -> &'static Builtin {
    static BUILTIN: OnceLock<Builtin> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        // The table is compile-time data; `tests::builtin_table_parses` proves it is valid, so
        // this cannot fail at run time.
        parse_table(BUILTIN_JSON).expect("the embedded node/data/calendar-cn.json is valid")
    })
}

/// Parses and checks a table in the project's calendar format.
fn parse_table(json: &str) -> Result<Builtin, String> {
    let table: Vec<TableYear> =
        serde_json::from_str(json).map_err(|e| format!("calendar table: {e}"))?;
    let mut years = BTreeMap::new();
    let mut notices = BTreeMap::new();
    let mut names = BTreeMap::new();
    for entry in table {
        let year = entry.year;
        let mut rule = YearRule::default();
        let mut name_day = |day: NaiveDate, name: &str| {
            if name.trim().is_empty() {
                return Err(format!("calendar table {year}: {day} has no name"));
            }
            if names.insert(day, name.to_owned()).is_some() {
                return Err(format!("calendar table {year}: {day} is listed twice"));
            }
            Ok(())
        };
        for holiday in &entry.holidays {
            if holiday.from > holiday.to {
                return Err(format!(
                    "calendar table {year}: {} ends before it starts",
                    holiday.name
                ));
            }
            for day in holiday
                .from
                .iter_days()
                .take_while(|day| *day <= holiday.to)
            {
                name_day(day, &holiday.name)?;
                rule.holidays.push(day);
            }
        }
        for workday in &entry.workdays {
            name_day(workday.date, &workday.name)?;
            rule.workdays.push(workday.date);
        }
        if years.insert(year, rule).is_some() {
            return Err(format!("calendar table: year {year} is listed twice"));
        }
        let notice = Notice {
            title: entry.notice,
            number: entry.number,
            issued: entry.issued,
            source: entry.source,
        };
        notices.insert(year, notice);
    }
    let calendar = Calendar::from_years(years).map_err(|e| e.to_string())?;
    Ok(Builtin {
        calendar,
        notices,
        names,
    })
}

#[cfg(test)]
mod tests;
