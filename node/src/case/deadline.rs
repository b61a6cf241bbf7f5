//! Working-day deadlines and supervision lights (电子监察 红黄绿灯).
//!
//! The clock starts the working day after acceptance and counts working days from the
//! [`Calendar`]. A request for materials (补正) or a special procedure (特别程序) pauses it: the
//! working days in `(pause, resume]` do not count. A 即办件 is due on the day it is accepted.
//!
//! [`Deadline::compute`] depends only on the folded state, the item, the calendar and the network
//! settings, never on today's date; the light for a given day is then a comparison of that day with
//! three dates (`yellow_on`, `due_on`, `legal_due_on`). The SQLite index stores exactly those
//! dates, so a list filtered by light in SQL and the light shown from the fold always agree.
//!
//! A due date is *provisional* (暂定) when counting its working days reached into a year the
//! calendar has no rule for: there only weekends were skipped, so a statutory holiday in that year
//! may still move it. The flags are derived like the dates (from the calendar, not from today), so
//! every node holding the same documents and calendar agrees on them, and they clear themselves
//! when the city adds the year and the index is recomputed.
//!
//! A light is shown while the case is being handled: live while the clock runs, frozen at the day
//! the clock stopped while it is paused. Not-yet-accepted and finished cases have no light; a
//! finished case is on time or late instead.

use super::fold::{CaseState, Status};
use crate::calendar::Calendar;
use crate::catalog::CaseKind;
use crate::clock::china_date;
use crate::network::Settings;
use chrono::NaiveDate;

/// A supervision light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Light {
    /// 绿灯: within the limit.
    Green,
    /// 黄灯: close to the promised limit.
    Yellow,
    /// 红灯: past the promised limit.
    Red,
    /// 严重超期: past the legal limit.
    Severe,
}

/// Every light, in order of severity.
pub const ALL_LIGHTS: [Light; 4] = [Light::Green, Light::Yellow, Light::Red, Light::Severe];

impl Light {
    /// The stored / command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Light::Green => "green",
            Light::Yellow => "yellow",
            Light::Red => "red",
            Light::Severe => "severe",
        }
    }

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Light::Green => "绿灯",
            Light::Yellow => "黄灯",
            Light::Red => "红灯",
            Light::Severe => "严重超期",
        }
    }

    /// The integer stored in the index (0 green … 3 severe).
    pub fn code(self) -> i64 {
        match self {
            Light::Green => 0,
            Light::Yellow => 1,
            Light::Red => 2,
            Light::Severe => 3,
        }
    }

    /// Inverse of [`Light::code`].
    pub fn from_code(code: i64) -> Option<Light> {
        ALL_LIGHTS.get(usize::try_from(code).ok()?).copied()
    }

    /// Parses the stored name or the Chinese name.
    pub fn parse(s: &str) -> Option<Light> {
        ALL_LIGHTS
            .into_iter()
            .find(|l| l.as_str() == s.trim() || l.label_zh() == s.trim())
    }
}

/// The state of a case's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Not accepted (yet): no clock.
    NotStarted,
    /// Counting.
    Running,
    /// Paused for materials or a special procedure.
    Paused,
    /// Stopped by completion.
    Stopped,
}

impl ClockState {
    /// The integer stored in the index.
    pub fn code(self) -> i64 {
        match self {
            ClockState::NotStarted => 0,
            ClockState::Running => 1,
            ClockState::Paused => 2,
            ClockState::Stopped => 3,
        }
    }
}

/// A case's deadlines, independent of today's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The clock.
    pub clock: ClockState,
    /// The day of acceptance.
    pub accepted_on: Option<NaiveDate>,
    /// The last working day within the promised limit (extended by completed pauses).
    pub due_on: Option<NaiveDate>,
    /// The first day the light is yellow.
    pub yellow_on: Option<NaiveDate>,
    /// The last working day within the legal limit.
    pub legal_due_on: Option<NaiveDate>,
    /// Working days not counted because of pauses that have ended.
    pub paused_days: i64,
    /// The day the clock stopped (paused or completed), if it is not running.
    pub stopped_on: Option<NaiveDate>,
    /// The light at `stopped_on`, for a paused clock.
    pub frozen_light: Option<Light>,
    /// For a completed case: whether it was completed within the promised limit.
    pub on_time: Option<bool>,
    /// An open follow-up's deadline (整改时限).
    pub follow_up_due: Option<NaiveDate>,
    /// Whether `due_on` is provisional: counting it (from acceptance, or through a completed
    /// pause) reached into a year without a calendar rule.
    pub due_provisional: bool,
    /// Whether `legal_due_on` is provisional, in the same sense. Implied by `due_provisional`,
    /// since the legal limit is never shorter than the promised one.
    pub legal_provisional: bool,
    /// The first year without a calendar rule that a provisional due date was counted into, for
    /// messages ("2027年工作日历尚未录入"); `None` when nothing is provisional.
    pub uncovered_year: Option<i32>,
}

fn light_at(
    day: NaiveDate,
    yellow_on: NaiveDate,
    due_on: NaiveDate,
    legal_due_on: NaiveDate,
) -> Light {
    if day > legal_due_on {
        Light::Severe
    } else if day > due_on {
        Light::Red
    } else if day >= yellow_on {
        Light::Yellow
    } else {
        Light::Green
    }
}

impl Deadline {
    /// Computes a case's deadlines from its folded state.
    pub fn compute(
        state: &CaseState,
        kind: CaseKind,
        promised_days: u32,
        legal_days: u32,
        calendar: &Calendar,
        settings: &Settings,
    ) -> Deadline {
        let follow_up_due = state
            .follow_up
            .as_ref()
            .filter(|f| f.closed_at.is_none())
            .map(|f| calendar.add_working_days(china_date(f.opened_at), settings.follow_up_days));
        let Some(accepted_at) = state.accepted_at else {
            return Deadline {
                clock: ClockState::NotStarted,
                accepted_on: None,
                due_on: None,
                yellow_on: None,
                legal_due_on: None,
                paused_days: 0,
                stopped_on: None,
                frozen_light: None,
                on_time: None,
                follow_up_due,
                due_provisional: false,
                legal_provisional: false,
                uncovered_year: None,
            };
        };
        let accepted_on = china_date(accepted_at);
        let paused_days: i64 = state
            .pauses
            .iter()
            .filter_map(|p| {
                p.end.map(|end| {
                    calendar
                        .working_days_between(china_date(p.start), china_date(end))
                        .max(0)
                })
            })
            .sum();
        let extra = u32::try_from(paused_days).unwrap_or(u32::MAX / 4);
        let promised = if kind == CaseKind::Instant {
            0
        } else {
            promised_days
        };
        let legal = legal_days.max(promised);
        // A limit of zero working days (即办件) means the day of acceptance, or the next working
        // day when the case was accepted on a day off.
        let due_after = |n: u32| {
            if n == 0 && !calendar.is_working_day(accepted_on) {
                calendar.add_working_days(accepted_on, 1)
            } else {
                calendar.add_working_days(accepted_on, n)
            }
        };
        let due_on = due_after(promised.saturating_add(extra));
        let legal_due_on = due_after(legal.saturating_add(extra));
        // The days counted: from the day of acceptance (whose own working-day status decides a
        // 即办件) to each due date, and every completed pause, whose working days extend both.
        let pause_gap = state
            .pauses
            .iter()
            .filter_map(|p| {
                let end = p.end?;
                calendar.first_uncovered(china_date(p.start), china_date(end))
            })
            .min();
        let gap = |due: NaiveDate| {
            calendar
                .first_uncovered(accepted_on, due)
                .into_iter()
                .chain(pause_gap)
                .min()
        };
        // The legal span contains the promised one, so its first gap is the first of all.
        let uncovered_year = gap(legal_due_on);
        let due_provisional = gap(due_on).is_some();
        let legal_provisional = uncovered_year.is_some();
        let threshold = settings.yellow_threshold(promised);
        let yellow_on = calendar.sub_working_days(due_on, threshold);
        let open_pause = state.pauses.last().filter(|p| p.end.is_none());
        let (clock, stopped_on) = match (state.status, state.stopped_at, open_pause) {
            (Status::Completed | Status::Delivered, Some(stop), _) => {
                (ClockState::Stopped, Some(china_date(stop)))
            }
            (_, _, Some(p)) => (ClockState::Paused, Some(china_date(p.start))),
            _ => (ClockState::Running, None),
        };
        let frozen_light = match clock {
            ClockState::Paused => stopped_on.map(|d| light_at(d, yellow_on, due_on, legal_due_on)),
            _ => None,
        };
        let on_time = match clock {
            ClockState::Stopped => stopped_on.map(|d| d <= due_on),
            _ => None,
        };
        Deadline {
            clock,
            accepted_on: Some(accepted_on),
            due_on: Some(due_on),
            yellow_on: Some(yellow_on),
            legal_due_on: Some(legal_due_on),
            paused_days,
            stopped_on,
            frozen_light,
            on_time,
            follow_up_due,
            due_provisional,
            legal_provisional,
            uncovered_year,
        }
    }

    /// Whether any of the due dates (promised or legal) is provisional.
    pub fn provisional(&self) -> bool {
        self.due_provisional || self.legal_provisional
    }

    /// The supervision light on `today`: live while running, frozen while paused, none otherwise.
    pub fn light(&self, today: NaiveDate) -> Option<Light> {
        match self.clock {
            ClockState::Running => match (self.yellow_on, self.due_on, self.legal_due_on) {
                (Some(y), Some(d), Some(l)) => Some(light_at(today, y, d, l)),
                _ => None,
            },
            ClockState::Paused => self.frozen_light,
            ClockState::NotStarted | ClockState::Stopped => None,
        }
    }

    /// Working days left within the promised limit on `today` (negative when overdue); for a
    /// paused or stopped clock, as of the day it stopped.
    pub fn remaining(&self, calendar: &Calendar, today: NaiveDate) -> Option<i64> {
        let due = self.due_on?;
        let day = match self.clock {
            ClockState::NotStarted => return None,
            ClockState::Running => today,
            ClockState::Paused | ClockState::Stopped => self.stopped_on?,
        };
        Some(calendar.working_days_between(day, due))
    }

    /// Whether an open follow-up is past its deadline on `today`.
    pub fn follow_up_overdue(&self, today: NaiveDate) -> bool {
        self.follow_up_due.is_some_and(|d| today > d)
    }
}
