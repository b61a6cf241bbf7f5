//! Search keys: what a clerk types to find a case, indexed without copying personal data.
//!
//! A villager comes back with an ID card, a phone number or a name, rarely with the case number.
//! Each case gets a small set of *terms*, every one a string a clerk could type:
//!
//! - the resident ID number, whole and its last 4, 5 and 6 characters;
//! - the phone number's digits, whole (and, for `+86`/`86` numbers, the 11-digit national
//!   number) and their last 4;
//! - every character and every pair of adjacent characters of the applicant's name (Chinese
//!   names are 2–4 characters, so `秀英` finds `王秀英` and `王` finds every 王);
//! - the case number whole, and every run of its `-`-separated segments that ends at the counter
//!   (`140100-261122-1-001` gives `261122-1-001`, `1-001` and `001`).
//!
//! Terms are normalized ([`normalize`]: surrounding whitespace removed, ASCII letters upper-case)
//! and stored only as a 47-bit hash ([`key`]) in `search_keys`, so the index holds no ID number
//! or phone a reader of the table could see, and every key costs the same six bytes. A search
//! looks its normalized query up as one term. A query longer than a name pair that is a part of a
//! name (`王秀英`, `欧阳秀英`) is found through its rarest pair, and the name is then checked to
//! contain the whole query (`query.rs`).
//!
//! Two different terms share a key with probability about 2⁻⁴⁷ per pair; at a million cases
//! (about five million distinct terms) a query finds a stranger's case about once in thirty
//! million searches. That is the price of not storing the terms themselves.

use crate::case::doc::Applicant;
use sha2::{Digest, Sha256};

/// Characters in the longest indexed name part (pairs; longer parts are checked on the name).
pub const NAME_GRAM: usize = 2;

/// Suffix lengths of the ID number that are indexed.
const ID_SUFFIXES: [usize; 3] = [4, 5, 6];

/// Digits of the phone suffix that is indexed.
const PHONE_SUFFIX: usize = 4;

/// A term as it is indexed and looked up: surrounding whitespace removed and ASCII letters made
/// upper-case (so a typed `x` finds an ID ending in `X`, and Latin names match in any case).
pub fn normalize(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

/// The stored key of a normalized term: the first 47 bits of a SHA-256 over a domain prefix and
/// the term, so that it is stable across builds and fits SQLite's six-byte integers.
pub fn key(term: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(b"yizhan-search-1\0");
    h.update(term.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // Shifting right by 17 leaves 47 bits, always a non-negative i64.
    i64::try_from(u64::from_be_bytes(first) >> 17).unwrap_or(0)
}

/// The last `n` characters of `s`, when it is longer than `n`.
fn suffix(s: &str, n: usize) -> Option<String> {
    let count = s.chars().count();
    (count > n).then(|| s.chars().skip(count - n).collect())
}

/// The digits of a phone number (separators such as spaces, `-` and `+` dropped).
fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Every character and pair of adjacent characters of a name, skipping whitespace.
pub fn name_grams(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    for n in 1..=NAME_GRAM {
        for w in chars.windows(n) {
            if w.iter().all(|c| !c.is_whitespace()) {
                out.push(w.iter().collect());
            }
        }
    }
    out
}

/// Every term of a case, normalized, sorted and without repeats.
pub fn case_terms(number: &str, applicant: &Applicant) -> Vec<String> {
    let mut terms = Vec::new();
    let id = normalize(&applicant.id_number);
    if !id.is_empty() {
        terms.extend(ID_SUFFIXES.iter().filter_map(|&n| suffix(&id, n)));
        terms.push(id);
    }
    let phone = digits(&applicant.phone);
    if !phone.is_empty() {
        terms.extend(suffix(&phone, PHONE_SUFFIX));
        // A number stored with the country code is also found by the national number.
        if phone.len() == 13 && phone.starts_with("86") {
            terms.extend(suffix(&phone, 11));
        }
        terms.push(phone);
    }
    terms.extend(name_grams(&normalize(&applicant.name)));
    let number = normalize(number);
    let segments: Vec<&str> = number.split('-').collect();
    for start in 1..segments.len() {
        let tail = segments[start..].join("-");
        if !tail.is_empty() {
            terms.push(tail);
        }
    }
    if !number.is_empty() {
        terms.push(number);
    }
    terms.sort();
    terms.dedup();
    terms
}

/// The keys of a case (see [`case_terms`]), sorted and without repeats.
pub fn case_keys(number: &str, applicant: &Applicant) -> Vec<i64> {
    let mut keys: Vec<i64> = case_terms(number, applicant)
        .iter()
        .map(|t| key(t))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A fingerprint of a case's keys and creation time, stored in its `cases` row, so that an
/// index update can tell whether the case's `search_keys` rows are still right without reading
/// them. Never 0, which marks a row whose keys were never written (a store just upgraded).
pub fn signature(created_at: i64, keys: &[i64]) -> i64 {
    let mut h = Sha256::new();
    h.update(b"yizhan-search-sig-1\0");
    h.update(created_at.to_be_bytes());
    for k in keys {
        h.update(k.to_be_bytes());
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let sig = i64::from_be_bytes(first);
    if sig == 0 { 1 } else { sig }
}

/// The exact terms a normalized query is looked up as: itself and, when it looks like a phone
/// number typed with separators (`138 1234 5678`, `+86-138…`), its digits.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut out = vec![q.to_string()];
    let phone_like = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+'));
    let d = digits(q);
    // Seven digits at least: a case number part such as `1-001` is not a phone number.
    if phone_like && d.len() >= 7 && d != q {
        if d.len() == 13 && d.starts_with("86") {
            out.extend(suffix(&d, 11));
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(name: &str, id: &str, phone: &str) -> Applicant {
        Applicant {
            name: name.into(),
            id_number: id.into(),
            phone: phone.into(),
            address: String::new(),
        }
    }

    #[test]
    fn terms_cover_what_a_clerk_types() {
        let t = case_terms(
            "140100-261122-1-001",
            &applicant("王秀英", "11010519491231002x", "138 1234 5678"),
        );
        for want in [
            "11010519491231002X",
            "002X",
            "1002X",
            "31002X",
            "13812345678",
            "5678",
            "王",
            "秀",
            "英",
            "王秀",
            "秀英",
            "140100-261122-1-001",
            "261122-1-001",
            "1-001",
            "001",
        ] {
            assert!(t.iter().any(|x| x == want), "missing {want}");
        }
        // Nothing else: no name triple, no station code alone, no date alone.
        assert_eq!(t.len(), 15, "{t:?}");
    }

    #[test]
    fn keys_are_stable_small_and_distinct() {
        // Stored keys must not change between builds: a changed key function needs a migration.
        assert_eq!(key("秀英"), key("秀英"));
        assert_ne!(key("1234"), key("1235"));
        for t in ["", "1234", "王", "11010519491231002X"] {
            let k = key(t);
            assert!((0..1 << 47).contains(&k), "{t}: {k}");
        }
    }

    #[test]
    fn phone_queries_with_separators_also_look_up_their_digits() {
        assert_eq!(query_terms("1234"), vec!["1234"]);
        assert_eq!(query_terms("1-001"), vec!["1-001"]);
        assert_eq!(
            query_terms("138 1234 5678"),
            vec!["138 1234 5678", "13812345678"]
        );
        assert_eq!(
            query_terms("+86 138 1234 5678"),
            vec!["+86 138 1234 5678", "13812345678", "8613812345678"]
        );
    }

    #[test]
    fn country_code_numbers_are_found_by_the_national_number() {
        let t = case_terms(
            "C01-260101-1-001",
            &applicant("李四", "", "+86 13812345678"),
        );
        assert!(t.iter().any(|x| x == "13812345678"));
        assert!(t.iter().any(|x| x == "8613812345678"));
    }
}
