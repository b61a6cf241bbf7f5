//! The applicant's look-up of a case's progress (办件查询, `ProgressQuery`, issue #15).
//!
//! A query terminal in the hall, the township's LAN or the city's public site asks with a case
//! number and a check: the last four digits of the applicant's phone or ID number. The answer is
//! [`Progress`], a view made for the public: the item, the station holding the case, the status
//! in plain words, the timeline without staff names, internal notes, supervision or consults, the
//! due date (and whether it is provisional), what is missing and where to pick up the result; of
//! the applicant only a masked name. Personal data never leaves this module: the check is
//! compared here and the answer has no field that could carry an ID number or a phone.
//!
//! An unknown number and a wrong check both give `None`, so that whoever serves the answer can
//! only ever say "not found" for both (the HTTP page does; it also rate-limits failures).

use crate::case::Action;
use crate::case::action::ACTION_KINDS;
use crate::case::doc::Applicant;
use crate::case::status::Status;
use crate::clock::format_ms;
use crate::error::{NodeError, Result};
use crate::node::{CaseView, Node};
use chrono::NaiveDate;
use rusqlite::OptionalExtension;
use serde::Serialize;

/// The characters a check has: the last four of a phone (digits) or of an ID number (digits and
/// the check character `X`).
pub const CHECK_LEN: usize = 4;

/// A case as the applicant may see it. Nothing in it is personal data beyond the masked name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The case number asked for.
    pub number: String,
    /// The service item's name (事项).
    pub item: String,
    /// The applicant's name, masked (`王*明`).
    pub applicant: String,
    /// The status's stored name (`accepted`, …), for scripts.
    pub status: &'static str,
    /// The status in plain Chinese words for the applicant.
    pub status_text: String,
    /// The name of the station holding the case now.
    pub station: String,
    /// The promised due date (承诺办结日期), once the clock has started.
    pub due_on: Option<NaiveDate>,
    /// Whether the due date is provisional (counted into a year without a calendar).
    pub due_provisional: bool,
    /// Materials asked for and not yet supplied (一次性告知), and those accepted as missing.
    pub missing: Vec<String>,
    /// Where the applicant picks up the result: the station where the case was taken in.
    pub pickup: String,
    /// Whether the case is finished with (decided or delivered).
    pub closed: bool,
    /// The public timeline, oldest first.
    pub timeline: Vec<Step>,
}

/// One public step of the timeline: no staff name, no internal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// When, China time (`2026-03-02 09:00`).
    pub at: String,
    /// What happened, in Chinese (`受理`, `一次性告知补正` …).
    pub what: String,
    /// The station where it happened (its name).
    pub station: String,
    /// What the applicant needs to know about it (the missing materials, the reason given to
    /// the applicant, where the case went), or empty.
    pub detail: String,
}

/// Whether `check` is the last four of the applicant's phone (digits only) or ID number. A
/// case without either cannot be looked up.
pub fn check_matches(applicant: &Applicant, check: &str) -> bool {
    let check = check.trim().to_ascii_uppercase();
    if check.chars().count() != CHECK_LEN {
        return false;
    }
    let phone: String = applicant
        .phone
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let id = applicant.id_number.trim().to_ascii_uppercase();
    let tail = |s: &str| -> Option<String> {
        let n = s.chars().count();
        (n >= CHECK_LEN).then(|| s.chars().skip(n - CHECK_LEN).collect())
    };
    [tail(&phone), tail(&id)]
        .into_iter()
        .flatten()
        .any(|t| same(&t, &check))
}

/// Compares without stopping at the first difference, so that the time taken says nothing about
/// how many leading characters were right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A name masked for the public: the first character kept, and the last of a name of three or
/// more (`王*明`, `欧阳**锋`, `李*`).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// The status in the words a person at a query terminal understands.
pub fn status_text(status: Status) -> &'static str {
    match status {
        Status::Submitted => "已收件，等待受理",
        Status::AwaitingMaterials => "需要补充材料（见下方清单），补齐后继续办理",
        Status::Accepted => "已受理，正在办理",
        Status::Suspended => "进入特别程序（如听证、专家评审），办理时限暂停",
        Status::Refused => "不予受理",
        Status::Completed => "已办结，可以领取结果",
        Status::Delivered => "结果已送达",
    }
}

/// The action kinds an applicant does not see: notes, consults between stations, supervision
/// and its replies, conflict settlements. Every other action kind is public; naming the internal
/// ones rather than the public ones keeps this list from repeating [`ACTION_KINDS`].
const INTERNAL_KINDS: &[&str] = &[
    "consult",
    "note",
    "settle",
    "supervise",
    "reply_supervision",
];

/// Whether an applicant sees events of this kind (events that are not actions never show).
fn is_public(kind: &str) -> bool {
    ACTION_KINDS.contains(&kind) && !INTERNAL_KINDS.contains(&kind)
}

/// The public view of a case as held here.
pub fn progress(view: &CaseView, station_name: &dyn Fn(&str) -> String) -> Progress {
    let doc = &view.doc;
    let state = &view.state;
    let mut timeline = vec![Step {
        at: format_ms(doc.created_at),
        what: if doc.delegation.is_some() {
            "代办登记（收件）".to_string()
        } else {
            "收件".to_string()
        },
        station: station_name(&doc.origin),
        detail: String::new(),
    }];
    for e in state
        .timeline
        .iter()
        .filter(|e| e.applied && is_public(&e.kind))
    {
        let field = |k: &str| e.fields.get(k).cloned().unwrap_or_default();
        let detail = match e.kind.as_str() {
            "request_materials" | "accept_with_gaps" => format!("需补充：{}", field("missing")),
            "refuse" | "decline" | "suspend" => field("reason"),
            "reject" => format!("{}：{}", field("dept"), field("reason")),
            "forward" => format!("转至{}", station_name(&field("to"))),
            "approve" => field("dept"),
            "return_originals" | "supply_gaps" => field("items"),
            _ => String::new(),
        };
        timeline.push(Step {
            at: format_ms(e.at),
            what: Action::label_zh(&e.kind).to_string(),
            station: station_name(&e.station),
            detail,
        });
    }
    let mut missing = state.missing.clone();
    for g in &state.gaps {
        if !missing.contains(g) {
            missing.push(g.clone());
        }
    }
    Progress {
        number: doc.number.clone(),
        item: doc.item.name.clone(),
        applicant: mask_name(&doc.applicant.name),
        status: state.status.as_str(),
        status_text: status_text(state.status).to_string(),
        station: station_name(&state.holder),
        due_on: view.deadline.due_on,
        due_provisional: view.deadline.due_provisional,
        missing,
        pickup: station_name(&doc.origin),
        closed: state.status.is_closed(),
        timeline,
    }
}

impl Node {
    /// 办件查询: the public progress of the case numbered `number` if `check` is the last four
    /// of its applicant's phone or ID number; `None` for an unknown number and for a wrong check
    /// alike. Only case numbers are looked up (not document ids).
    pub fn progress(&mut self, number: &str, check: &str) -> Result<Option<Progress>> {
        let number = number.trim();
        if number.is_empty() || number.chars().count() > 64 {
            return Ok(None);
        }
        let found: Option<String> = self
            .store
            .conn()
            .query_row(
                "SELECT doc_id FROM cases WHERE number = ?1 LIMIT 1",
                [number],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = found else {
            return Ok(None);
        };
        let view = match self.case(&id) {
            Ok(v) => v,
            Err(NodeError::CaseNotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !check_matches(&view.doc.applicant, check) {
            return Ok(None);
        }
        let roster = self.roster();
        let name = |code: &str| {
            roster
                .stations
                .get(code)
                .map_or_else(|| code.to_string(), |s| s.name.clone())
        };
        Ok(Some(progress(&view, &name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(id: &str, phone: &str) -> Applicant {
        Applicant {
            name: "王小明".into(),
            id_number: id.into(),
            phone: phone.into(),
            address: String::new(),
        }
    }

    #[test]
    fn the_check_is_the_last_four_of_the_phone_or_the_id_number() {
        let a = applicant("11010519491231002X", "138-0013-8000");
        assert!(check_matches(&a, "8000"));
        assert!(check_matches(&a, "002x"));
        assert!(check_matches(&a, " 002X "));
        assert!(!check_matches(&a, "0000"));
        assert!(!check_matches(&a, "800"));
        assert!(!check_matches(&a, "38000"));
        assert!(!check_matches(&a, ""));
        // Without a phone or an ID number nothing matches.
        assert!(!check_matches(&applicant("", ""), "0000"));
        assert!(!check_matches(&applicant("", "12"), "12"));
    }

    #[test]
    fn names_are_masked_keeping_the_first_and_last_character() {
        assert_eq!(mask_name("王小明"), "王*明");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_name("欧阳小锋"), "欧**锋");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_name(""), "");
    }
}
