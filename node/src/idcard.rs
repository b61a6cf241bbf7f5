//! Resident identity card numbers (GB 11643-1999).
//!
//! An 18-character number is six digits of region code, eight digits of birth date (`YYYYMMDD`),
//! three digits of sequence and one ISO 7064 MOD 11-2 check character (`0`–`9` or `X`).
//! Validation is pure: it does not look at the clock, so the same number validates the same way
//! on every node.

use chrono::NaiveDate;

/// The number of characters in a resident ID number.
const ID_LEN: usize = 18;
/// The weights of the first 17 digits in the check digit sum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each value of the weighted sum modulo 11.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// The earliest accepted birth year.
const MIN_YEAR: i32 = 1900;
/// The latest accepted birth year (a fixed bound keeps validation independent of the clock).
const MAX_YEAR: i32 = 2100;

/// Why an ID number is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Not 18 characters.
    #[error("ID number must have 18 characters, found {0}")]
    Length(usize),
    /// A character that is not a digit (or X in the last place).
    #[error("ID number has an invalid character at position {0}")]
    Character(usize),
    /// The birth date (characters 7–14) is not a real date.
    #[error("ID number has an invalid birth date")]
    BirthDate,
    /// The check digit does not match.
    #[error("ID number is invalid: its check digit does not match the rest of the number")]
    CheckDigit { expected: char },
}

/// Validates an 18-character resident ID number, including its check digit.
///
/// Errors name positions from 1. Problems are reported in this order: length, characters, birth
/// date, check digit. A lower-case `x` is accepted as the check character.
pub fn validate_id_number(s: &str) -> Result<(), IdNumberError> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != ID_LEN {
        return Err(IdNumberError::Length(chars.len()));
    }
    if let Some(i) = chars[..ID_LEN - 1].iter().position(|c| !c.is_ascii_digit()) {
        return Err(IdNumberError::Character(i + 1));
    }
    let last = chars[ID_LEN - 1].to_ascii_uppercase();
    if !(last.is_ascii_digit() || last == 'X') {
        return Err(IdNumberError::Character(ID_LEN));
    }
    // All characters are ASCII from here on, so byte offsets equal character positions.
    if birth_date(s).is_none() {
        return Err(IdNumberError::BirthDate);
    }
    let expected = check_digit(&s[..ID_LEN - 1]).ok_or(IdNumberError::Character(1))?;
    if last != expected {
        return Err(IdNumberError::CheckDigit { expected });
    }
    Ok(())
}

/// The GB 11643 check character (`0`–`9` or `X`) for the first 17 digits of an ID number.
///
/// Returns `None` unless `first17` is exactly 17 ASCII digits.
pub fn check_digit(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != ID_LEN - 1 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    // The index is below 11, so it is always in range.
    CHECK_CHARS.get((sum % 11) as usize).copied()
}

/// The birth date written in characters 7–14 of an ID number, if it is a real date in
/// 1900–2100.
///
/// Only the date is checked; use [`validate_id_number`] for the whole number.
pub fn birth_date(s: &str) -> Option<NaiveDate> {
    let digits: String = s.chars().skip(6).take(8).collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits[0..4].parse().ok()?;
    let month: u32 = digits[4..6].parse().ok()?;
    let day: u32 = digits[6..8].parse().ok()?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// The number in its stored form: surrounding whitespace removed and a lower-case `x` made
/// upper-case.
///
/// This does not validate; call [`validate_id_number`] first.
pub fn normalize_id_number(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

/// The number masked for display and logs (`1101**********123X`).
///
/// The first 4 and last 4 characters are kept and the rest replaced by `*`; a string shorter
/// than 9 characters is masked completely. Characters, not bytes, are counted.
pub fn mask_id_number(s: &str) -> String {
    let n = s.chars().count();
    if n < 9 {
        return "*".repeat(n);
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 4 { c } else { '*' })
        .collect()
}

/// Masks a phone number for display and output (personal data: DESIGN.md section 7), the one
/// rule every output uses: a mobile number (11 characters or more) keeps its first 3 and last 4,
/// as Chinese receipts print them (`138****5678`); a shorter number keeps only its last 4, and
/// only when at least 4 others are hidden (`****4567` for a local number of 8); anything shorter
/// is masked completely. At least 4 characters are always hidden. Characters, not bytes, are
/// counted.
pub fn mask_phone(s: &str) -> String {
    let n = s.chars().count();
    let keep = |i: usize, head: usize| i < head || i >= n - 4;
    let head = match n {
        11.. => 3,
        8..=10 => 0,
        _ => return "*".repeat(n),
    };
    s.chars()
        .enumerate()
        .map(|(i, c)| if keep(i, head) { c } else { '*' })
        .collect()
}

/// Whether a phone number is one a clerk can call back: an 11-digit mobile number (1, then 3–9,
/// then nine digits) or a landline with its area code (0, then 9 to 11 more digits: a 3- or
/// 4-digit area code and a 7- or 8-digit local number), optionally written with spaces, hyphens
/// and a leading +86. A bare local number (7 or 8 digits) is refused: without its area code it
/// cannot be dialled from another county.
pub fn is_valid_phone(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix("+86").unwrap_or(s);
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
    {
        return false;
    }
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    match digits.as_slice() {
        [1, second, rest @ ..] => (3..=9).contains(second) && rest.len() == 9,
        [0, rest @ ..] => (9..=11).contains(&rest.len()) && rest.first() != Some(&0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mobiles_and_landlines_with_area_code_are_phones_and_bare_local_numbers_are_not() {
        for ok in [
            "13812345678",
            "+86 138 1234 5678",
            "0351-1234567",
            "0351-12345678",
            "010-12345678",
            "03511234567",
        ] {
            assert!(is_valid_phone(ok), "{ok}");
        }
        for bad in [
            "1234567",
            "12345678",
            "5551234",
            "1381234567",
            "12812345678",
            "138123456789",
            "00351-1234567",
            "0351-12345",
            "138-abcd-5678",
            "",
        ] {
            assert!(!is_valid_phone(bad), "{bad}");
        }
    }

    #[test]
    fn phones_are_masked_by_one_rule_that_always_hides_four() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("03511234567"), "035****4567");
        assert_eq!(mask_phone("12345678"), "****5678");
        assert_eq!(mask_phone("8123456"), "*******");
        assert_eq!(mask_phone(""), "");
        for n in 0..20 {
            let phone: String = "1234567890123456789".chars().cycle().take(n).collect();
            let masked = mask_phone(&phone);
            assert_eq!(masked.chars().count(), n);
            let hidden = masked.chars().filter(|c| *c == '*').count();
            assert!(hidden >= 4.min(n), "{phone} → {masked}");
            if n < 8 {
                assert_eq!(hidden, n, "{phone} → {masked}");
            }
        }
    }

    /// A valid number built from its first 17 digits.
    fn valid(first17: &str) -> String {
        let check = check_digit(first17).expect("17 digits");
        format!("{first17}{check}")
    }

    #[test]
    fn well_known_example_is_valid() {
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert_eq!(validate_id_number("11010519491231002X"), Ok(()));
    }

    #[test]
    fn computed_numbers_are_valid() {
        for first17 in [
            "44030419900307123",
            "51010020001229456",
            "14010519850615001",
            "37018120240229888",
            "61010319000101000",
        ] {
            let id = valid(first17);
            assert_eq!(validate_id_number(&id), Ok(()), "{id}");
        }
    }

    #[test]
    fn lower_case_x_is_accepted() {
        assert_eq!(validate_id_number("11010519491231002x"), Ok(()));
        assert_eq!(
            normalize_id_number(" 11010519491231002x "),
            "11010519491231002X"
        );
    }

    #[test]
    fn wrong_check_digit_is_refused() {
        assert_eq!(
            validate_id_number("110105194912310021"),
            Err(IdNumberError::CheckDigit { expected: 'X' })
        );
        let id = valid("44030419900307123");
        let wrong = if id.ends_with('0') { '1' } else { '0' };
        let bad = format!("{}{wrong}", &id[..17]);
        assert!(matches!(
            validate_id_number(&bad),
            Err(IdNumberError::CheckDigit { .. })
        ));
    }

    /// One table of malformed numbers and the error each gets: a wrong length (counted in
    /// characters, not bytes) or the first bad character's position (from 1). Multi-byte input
    /// must not panic.
    #[test]
    fn bad_lengths_and_characters_are_refused_with_the_length_or_position() {
        use IdNumberError::{Character, Length};
        for (id, error) in [
            ("", Length(0)),
            ("11010519491231002", Length(17)),
            ("11010519491231002X1", Length(19)),
            // The old 15-digit numbers are not accepted.
            ("110105491231002", Length(15)),
            ("A1010519491231002X", Character(1)),
            ("1101051949123100X2", Character(17)),
            ("11010519491231002Y", Character(18)),
            ("110105 9491231002X", Character(7)),
            // 18 characters, of which some are multi-byte.
            ("11010519491231002乂", Character(18)),
            ("一一010519491231002X", Character(1)),
            // 18 bytes but fewer characters.
            ("一二三四五六", Length(6)),
            ("１１０１０５１９４９１２３１００２Ｘ", Character(1)),
        ] {
            assert_eq!(validate_id_number(id), Err(error), "{id}");
        }
        assert_eq!(birth_date("一二三四五六七八九十一二三四五六七八"), None);
        assert_eq!(mask_id_number("一二三四五六七八九十"), "一二三四**七八九十");
    }

    #[test]
    fn bad_birth_dates_are_refused() {
        for date in [
            "19491331", // month 13
            "19490001", // month 0
            "20230230", // 30 February
            "20230229", // 29 February in a common year
            "19000229", // 1900 was not a leap year
            "19491200", // day 0
            "18991231", // before 1900
            "21010101", // after 2100
        ] {
            let id = valid(&format!("110105{date}002"));
            assert_eq!(
                validate_id_number(&id),
                Err(IdNumberError::BirthDate),
                "{id}"
            );
        }
        let leap = valid("11010520000229002");
        assert_eq!(validate_id_number(&leap), Ok(()));
        assert_eq!(birth_date(&leap), NaiveDate::from_ymd_opt(2000, 2, 29));
    }

    #[test]
    fn check_digit_needs_17_digits() {
        assert_eq!(check_digit("1101051949123100"), None);
        assert_eq!(check_digit("110105194912310021"), None);
        assert_eq!(check_digit("1101051949123100A"), None);
        assert_eq!(check_digit("１１０１０５１９４９１２３１００２"), None);
    }

    #[test]
    fn masking_keeps_four_characters_at_each_end() {
        assert_eq!(mask_id_number("11010519491231002X"), "1101**********002X");
        assert_eq!(mask_id_number("123456789"), "1234*6789");
        assert_eq!(mask_id_number("12345678"), "********");
        assert_eq!(mask_id_number("abc"), "***");
        assert_eq!(mask_id_number(""), "");
    }

    /// The first 17 digits of a number with a real birth date.
    fn first17() -> impl Strategy<Value = String> {
        (
            0u32..1_000_000,
            1900i32..=2100,
            1u32..=12,
            1u32..=31,
            0u32..1000,
        )
            .prop_filter("a real date", |(_, y, m, d, _)| {
                NaiveDate::from_ymd_opt(*y, *m, *d).is_some()
            })
            .prop_map(|(region, y, m, d, seq)| format!("{region:06}{y:04}{m:02}{d:02}{seq:03}"))
    }

    proptest! {
        #[test]
        fn computed_check_digit_validates(first in first17(), other in 0usize..11) {
            let check = check_digit(&first).expect("17 digits");
            let id = format!("{first}{check}");
            prop_assert_eq!(validate_id_number(&id), Ok(()));
            prop_assert_eq!(validate_id_number(&id.to_ascii_lowercase()), Ok(()));

            let replacement = CHECK_CHARS[other];
            if replacement != check {
                let bad = format!("{first}{replacement}");
                prop_assert_eq!(
                    validate_id_number(&bad),
                    Err(IdNumberError::CheckDigit { expected: check })
                );
            }
        }
    }
}
