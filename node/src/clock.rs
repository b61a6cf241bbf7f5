//! Wall-clock time and the local calendar date.
//!
//! Deadlines are counted in Chinese working days, so every timestamp is turned into a calendar
//! date in China Standard Time (UTC+8, no daylight saving). Tests and demos pin the clock with the
//! `YIZHAN_NOW` environment variable (RFC 3339); the binary reads it once and hands the node a
//! [`Clock`], so the core itself never reads the environment.

use crate::error::{NodeError, Result};
use chrono::{DateTime, FixedOffset, NaiveDate, Offset as _, Utc};

/// China Standard Time, UTC+8.
pub fn china() -> FixedOffset {
    // 8 hours is always a valid offset; `east_opt` only fails beyond ±24 h.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant in milliseconds since the Unix epoch (`YIZHAN_NOW`).
    Fixed(i64),
}

impl Clock {
    /// Parses an RFC 3339 time such as `2026-02-13T09:30:00+08:00` into a fixed clock.
    pub fn fixed_from_rfc3339(value: &str) -> Result<Clock> {
        DateTime::parse_from_rfc3339(value.trim())
            .map(|t| Clock::Fixed(t.timestamp_millis()))
            .map_err(|_| NodeError::BadTime {
                value: value.to_string(),
            })
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now_ms(self) -> i64 {
        match self {
            Clock::System => Utc::now().timestamp_millis(),
            Clock::Fixed(ms) => ms,
        }
    }

    /// Today's date in China.
    pub fn today(self) -> NaiveDate {
        china_date(self.now_ms())
    }
}

/// The calendar date in China of a timestamp in milliseconds.
pub fn china_date(ms: i64) -> NaiveDate {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.with_timezone(&china()).date_naive(),
        // Out of chrono's range (hundreds of thousands of years): clamp rather than panic.
        None if ms < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

/// RFC 3339 in China Standard Time, to the second, for display and JSON output.
pub fn format_ms(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t
            .with_timezone(&china())
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_date_crosses_midnight_at_16_utc() {
        let before = Clock::fixed_from_rfc3339("2026-02-13T15:59:59Z").unwrap();
        let after = Clock::fixed_from_rfc3339("2026-02-13T16:00:00Z").unwrap();
        assert_eq!(
            before.today(),
            NaiveDate::from_ymd_opt(2026, 2, 13).unwrap()
        );
        assert_eq!(after.today(), NaiveDate::from_ymd_opt(2026, 2, 14).unwrap());
    }

    #[test]
    fn bad_time_is_named() {
        let err = Clock::fixed_from_rfc3339("yesterday").unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
    }

    #[test]
    fn format_round_trips() {
        let c = Clock::fixed_from_rfc3339("2026-02-13T09:30:00+08:00").unwrap();
        assert_eq!(format_ms(c.now_ms()), "2026-02-13T09:30:00+08:00");
    }
}
