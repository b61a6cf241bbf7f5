use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// The slow, obviously right reference: look the day up in the rules, else Monday–Friday.
fn naive_is_working(cal: &Calendar, day: NaiveDate) -> bool {
    match cal.years().get(&day.year()) {
        Some(rule) if rule.holidays.contains(&day) => false,
        Some(rule) if rule.workdays.contains(&day) => true,
        _ => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
    }
}

fn naive_between(cal: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
    let (lo, hi, sign) = if from <= to {
        (from, to, 1)
    } else {
        (to, from, -1)
    };
    let count = lo
        .iter_days()
        .skip(1)
        .take_while(|day| *day <= hi)
        .filter(|day| naive_is_working(cal, *day))
        .count();
    sign * i64::try_from(count).unwrap()
}

fn naive_add(cal: &Calendar, from: NaiveDate, n: u32) -> NaiveDate {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        day = day.succ_opt().unwrap();
        if naive_is_working(cal, day) {
            left -= 1;
        }
    }
    day
}

#[test]
fn builtin_table_parses() {
    let table = parse_table(BUILTIN_JSON).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        table.calendar.years().keys().copied().collect::<Vec<_>>(),
        [2024, 2025, 2026]
    );
    assert_eq!(Calendar::builtin(), table.calendar);
    for year in 2024..=2026 {
        let notice = Calendar::builtin_notice(year).unwrap();
        assert!(notice.title.contains(&format!("{year}年")));
        assert_eq!(notice.issued.year(), year - 1);
        assert!(notice.source.starts_with("https://www.gov.cn/"));
    }
    assert_eq!(
        Calendar::builtin_notice(2025).unwrap().number.as_deref(),
        Some("国办发明电〔2024〕12号")
    );
    assert_eq!(Calendar::builtin_notice(2027), None);
}

#[test]
fn bad_tables_are_rejected() {
    let year = |holidays: &str, workdays: &str| {
        format!(
            r#"[{{"year":2026,"notice":"t","number":null,"issued":"2025-11-04","source":"s",
                 "holidays":[{holidays}],"workdays":[{workdays}]}}]"#
        )
    };
    let ok = year(
        r#"{"name":"元旦","from":"2026-01-01","to":"2026-01-03"}"#,
        "",
    );
    assert!(parse_table(&ok).is_ok());
    for bad in [
        // Reversed range.
        year(
            r#"{"name":"元旦","from":"2026-01-03","to":"2026-01-01"}"#,
            "",
        ),
        // Date outside its year.
        year(
            r#"{"name":"元旦","from":"2025-12-31","to":"2026-01-01"}"#,
            "",
        ),
        // Both off and working.
        year(
            r#"{"name":"元旦","from":"2026-01-01","to":"2026-01-03"}"#,
            r#"{"name":"元旦","date":"2026-01-03"}"#,
        ),
        // Unnamed day.
        year(r#"{"name":" ","from":"2026-01-01","to":"2026-01-01"}"#, ""),
        // Misspelt field.
        year(
            r#"{"name":"元旦","form":"2026-01-01","to":"2026-01-01"}"#,
            "",
        ),
    ] {
        assert!(parse_table(&bad).is_err(), "{bad}");
    }
    assert!(parse_table(&format!("[{0},{0}]", &ok[1..ok.len() - 1])).is_err());
}

#[test]
fn worked_example_promised_case_over_spring_festival_2026() {
    let cal = Calendar::builtin();
    let accepted = d(2026, 2, 13);
    assert_eq!(accepted.weekday(), Weekday::Fri);
    let due = cal.add_working_days(accepted, 3);
    assert_eq!(due, d(2026, 2, 25));
    assert_eq!(cal.working_days_between(accepted, due), 3);
    assert_eq!(cal.sub_working_days(due, 3), accepted);
    assert_eq!(cal.add_working_days(accepted, 0), accepted);
    assert_eq!(cal.add_working_days(accepted, 1), d(2026, 2, 14));
    assert_eq!(cal.add_working_days(accepted, 2), d(2026, 2, 24));
}

#[test]
fn notice_facts() {
    let cal = Calendar::builtin();
    let off = |from: NaiveDate, to: NaiveDate| {
        for day in from.iter_days().take_while(|day| *day <= to) {
            assert!(!cal.is_working_day(day), "{day} should be off");
        }
    };
    let on = |day: NaiveDate| assert!(cal.is_working_day(day), "{day} should be on");
    // 2026.
    off(d(2026, 1, 1), d(2026, 1, 3));
    on(d(2026, 1, 4));
    off(d(2026, 2, 15), d(2026, 2, 23));
    on(d(2026, 2, 14));
    on(d(2026, 2, 28));
    off(d(2026, 10, 1), d(2026, 10, 7));
    on(d(2026, 9, 20));
    on(d(2026, 10, 10));
    // 2025.
    off(d(2025, 1, 28), d(2025, 2, 4));
    on(d(2025, 1, 26));
    on(d(2025, 2, 8));
    off(d(2025, 10, 1), d(2025, 10, 8));
    // 2024.
    off(d(2024, 2, 10), d(2024, 2, 17));
    on(d(2024, 2, 4));
    on(d(2024, 2, 18));
    on(d(2024, 5, 11));
    // Names for display.
    assert_eq!(Calendar::builtin_day_name(d(2026, 2, 14)), Some("春节"));
    assert_eq!(Calendar::builtin_day_name(d(2026, 2, 18)), Some("春节"));
    assert_eq!(Calendar::builtin_day_name(d(2026, 3, 18)), None);
    // Years outside the table follow Monday–Friday, including real holidays there.
    assert!(!cal.covers(2023));
    assert!(cal.covers(2026));
    on(d(2023, 10, 2));
    on(d(2027, 1, 1));
    assert!(!cal.is_working_day(d(2027, 1, 2)));
}

#[derive(Deserialize)]
struct OfficialYear {
    year: i32,
    days: Vec<OfficialDay>,
}

#[derive(Deserialize)]
struct OfficialDay {
    name: String,
    date: NaiveDate,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

#[test]
fn matches_official_data() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/holidays-cn"
    ));
    if !dir.is_dir() {
        eprintln!(
            "calendar::tests::matches_official_data skipped: {} is absent (the shared data \
             folder is expected as a sibling of the repository checkout)",
            dir.display()
        );
        return;
    }
    let cal = Calendar::builtin();
    for year in 2024..=2026 {
        let path = dir.join(format!("{year}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let official: OfficialYear = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        assert_eq!(official.year, year);

        let mut listed = BTreeSet::new();
        for day in &official.days {
            assert_eq!(day.date.year(), year);
            assert_eq!(
                cal.is_working_day(day.date),
                !day.is_off_day,
                "{} ({})",
                day.date,
                day.name
            );
            assert_eq!(
                Calendar::builtin_day_name(day.date),
                Some(day.name.as_str()),
                "{}",
                day.date
            );
            listed.insert(day.date);
        }
        for day in d(year, 1, 1)
            .iter_days()
            .take_while(|day| day.year() == year)
        {
            if listed.contains(&day) {
                continue;
            }
            let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            assert_eq!(cal.is_working_day(day), weekday, "{day}");
            assert_eq!(Calendar::builtin_day_name(day), None, "{day}");
        }
    }
}

#[test]
fn validation_errors() {
    let rule = |holidays: &[NaiveDate], workdays: &[NaiveDate]| YearRule {
        holidays: holidays.to_vec(),
        workdays: workdays.to_vec(),
    };
    let wrong_year = Calendar::from_years(BTreeMap::from([(
        2027,
        rule(&[d(2027, 1, 1), d(2028, 1, 1)], &[]),
    )]));
    assert_eq!(
        wrong_year,
        Err(CalendarError::WrongYear {
            year: 2027,
            date: d(2028, 1, 1)
        })
    );
    let both = Calendar::from_years(BTreeMap::from([(
        2027,
        rule(&[d(2027, 2, 6)], &[d(2027, 2, 6)]),
    )]));
    assert_eq!(
        both,
        Err(CalendarError::Both {
            year: 2027,
            date: d(2027, 2, 6)
        })
    );
    for year in [1999, 2101, i32::MIN, i32::MAX] {
        let result = Calendar::from_years(BTreeMap::from([(year, YearRule::default())]));
        assert_eq!(result, Err(CalendarError::OutOfRange(year)));
    }
    assert!(
        CalendarError::OutOfRange(1999)
            .to_string()
            .contains("2000–2100")
    );

    let mut cal = Calendar::builtin();
    let before = cal.clone();
    assert_eq!(
        cal.set_year(2027, rule(&[d(2026, 12, 31)], &[])),
        Err(CalendarError::WrongYear {
            year: 2027,
            date: d(2026, 12, 31)
        })
    );
    assert_eq!(
        cal.set_year(2101, YearRule::default()),
        Err(CalendarError::OutOfRange(2101))
    );
    assert_eq!(cal, before, "a rejected edit leaves the calendar unchanged");

    // A valid edit is stored in canonical form and takes effect.
    let friday = d(2027, 1, 1);
    cal.set_year(2027, rule(&[friday, friday], &[d(2027, 1, 2)]))
        .unwrap();
    assert!(cal.covers(2027));
    assert_eq!(cal.years()[&2027], rule(&[friday], &[d(2027, 1, 2)]));
    assert!(!cal.is_working_day(friday));
    assert!(cal.is_working_day(d(2027, 1, 2)));
    assert_ne!(cal, before);
    assert_eq!(
        Calendar::from_years(cal.years().clone()).unwrap(),
        cal,
        "equal rules make equal calendars"
    );
}

#[test]
fn far_dates_do_not_panic() {
    let cal = Calendar::builtin();
    for day in [
        d(1900, 1, 1),
        d(2200, 6, 30),
        NaiveDate::MIN,
        NaiveDate::MAX,
    ] {
        let _ = cal.is_working_day(day);
        let _ = cal.add_working_days(day, 10);
        let _ = cal.sub_working_days(day, 10);
        let _ = cal.working_days_between(day, d(2026, 1, 1));
    }
    assert_eq!(cal.add_working_days(NaiveDate::MAX, 1), NaiveDate::MAX);
    assert_eq!(cal.sub_working_days(NaiveDate::MIN, 1), NaiveDate::MIN);
    // About 4.3 billion working days is some 16 million years: beyond what chrono represents.
    assert_eq!(
        cal.add_working_days(d(2026, 1, 1), u32::MAX),
        NaiveDate::MAX
    );
    assert_eq!(
        cal.sub_working_days(d(2026, 1, 1), u32::MAX),
        NaiveDate::MIN
    );
    assert!(cal.working_days_between(NaiveDate::MIN, NaiveDate::MAX) > 0);
    // 1900-01-01 was a Monday; 2200-06-30 is a Monday too.
    assert_eq!(cal.add_working_days(d(1899, 12, 29), 1), d(1900, 1, 1));
    assert_eq!(cal.sub_working_days(d(2200, 6, 30), 1), d(2200, 6, 27));
    assert_eq!(cal.working_days_between(d(1900, 1, 1), d(1900, 1, 8)), 5);
}

#[test]
fn plain_count_matches_weekdays() {
    let start = d(1999, 12, 1);
    for day in start.iter_days().take(800) {
        let x = day_number(day);
        let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        assert_eq!(plain(x) - plain(x - 1) == 1, weekday, "{day}");
        assert_eq!(plain(plain_inverse(plain(x))), plain(x));
        if weekday {
            assert_eq!(plain_inverse(plain(x)), x, "{day}");
        }
    }
}

#[test]
fn spans_reaching_a_year_without_a_rule_are_not_covered() {
    let cal = Calendar::builtin();
    assert!(cal.covers_span(d(2026, 12, 28), d(2026, 12, 31)));
    assert!(cal.covers_span(d(2024, 1, 1), d(2026, 12, 31)));
    assert!(!cal.covers_span(d(2026, 12, 28), d(2027, 1, 4)));
    assert!(!cal.covers_span(d(2027, 1, 4), d(2026, 12, 28)));
    assert_eq!(
        cal.first_uncovered(d(2025, 6, 1), d(2028, 1, 1)),
        Some(2027)
    );
    assert_eq!(
        cal.first_uncovered(d(2023, 6, 1), d(2024, 1, 1)),
        Some(2023)
    );
}

#[test]
fn empty_calendar_is_plain() {
    let cal = Calendar::from_years(BTreeMap::new()).unwrap();
    assert_eq!(cal.add_working_days(d(2026, 2, 13), 3), d(2026, 2, 18));
    assert_eq!(cal.sub_working_days(d(2026, 2, 18), 3), d(2026, 2, 13));
    assert_eq!(cal.working_days_between(d(2026, 2, 13), d(2026, 2, 18)), 3);
}

/// Dates from 2023-01-01 through 2028-12-31.
fn date_2023_2028() -> impl Strategy<Value = NaiveDate> {
    (0u64..2192).prop_map(|offset| d(2023, 1, 1) + chrono::Days::new(offset))
}

/// A random calendar for some of the years 2020..2030, with scattered days and long runs.
fn random_calendar() -> impl Strategy<Value = Calendar> {
    let block = (2020i32..2030, 0u64..365, 0u64..40, any::<bool>());
    proptest::collection::vec(block, 0..12).prop_map(|blocks| {
        let mut years: BTreeMap<i32, YearRule> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for (year, start, len, working) in blocks {
            let rule = years.entry(year).or_default();
            let first = d(year, 1, 1) + chrono::Days::new(start);
            for day in first.iter_days().take_while(|day| day.year() == year) {
                if day >= first + chrono::Days::new(len) || !seen.insert(day) {
                    break;
                }
                if working {
                    rule.workdays.push(day);
                } else {
                    rule.holidays.push(day);
                }
            }
        }
        Calendar::from_years(years).unwrap()
    })
}

/// Checks every invariant the docs promise for one start day and count.
fn check_invariants(cal: &Calendar, day: NaiveDate, n: u32) {
    let end = cal.add_working_days(day, n);
    assert_eq!(cal.working_days_between(day, end), i64::from(n));
    assert_eq!(cal.working_days_between(end, day), -i64::from(n));
    assert_eq!(end, naive_add(cal, day, n));
    let back = cal.sub_working_days(end, n);
    assert_eq!(cal.working_days_between(back, end), i64::from(n));
    if n == 0 {
        assert_eq!(end, day);
        assert_eq!(back, day);
        return;
    }
    assert!(end > day);
    assert!(cal.is_working_day(end));
    // The earliest day with that count: the day before it has one fewer.
    assert_eq!(
        cal.working_days_between(day, end.pred_opt().unwrap()),
        i64::from(n) - 1
    );
    // Going back lands on the last working day at or before `day`.
    assert!(cal.is_working_day(back));
    assert!(back <= day);
    assert_eq!(cal.working_days_between(back, day), 0);
    assert_eq!(back == day, cal.is_working_day(day));
    // And going forward again from there returns to `end`, a working day.
    assert_eq!(cal.add_working_days(back, n), end);
    assert_eq!(cal.sub_working_days(end, n), back);
}

proptest! {
    #[test]
    fn add_sub_between_are_consistent(day in date_2023_2028(), n in 0u32..60) {
        check_invariants(&Calendar::builtin(), day, n);
    }

    #[test]
    fn sub_then_add_returns_to_working_day(day in date_2023_2028(), n in 1u32..60) {
        let cal = Calendar::builtin();
        let start = cal.sub_working_days(day, n);
        prop_assert!(cal.is_working_day(start));
        prop_assert_eq!(cal.working_days_between(start, day), i64::from(n));
        let again = cal.add_working_days(start, n);
        prop_assert!(again <= day);
        prop_assert_eq!(cal.working_days_between(again, day), 0);
        prop_assert_eq!(again == day, cal.is_working_day(day));
    }

    #[test]
    fn between_matches_naive_count(a in date_2023_2028(), b in date_2023_2028()) {
        let cal = Calendar::builtin();
        prop_assert_eq!(cal.working_days_between(a, b), naive_between(&cal, a, b));
    }

    #[test]
    fn random_calendars_match_naive(
        cal in random_calendar(),
        offset in 0u64..5844,
        other in 0u64..5844,
        n in 0u32..400,
    ) {
        // Dates from 2018 through 2033, around and across the random rules.
        let day = d(2018, 1, 1) + chrono::Days::new(offset);
        let other = d(2018, 1, 1) + chrono::Days::new(other);
        prop_assert_eq!(cal.is_working_day(day), naive_is_working(&cal, day));
        prop_assert_eq!(cal.working_days_between(day, other), naive_between(&cal, day, other));
        check_invariants(&cal, day, n);
    }
}
