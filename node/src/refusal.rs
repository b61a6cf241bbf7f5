//! Why the node refuses what a person asked for: the reasons of [`crate::NodeError::NotAllowed`],
//! of the transition table ([`crate::case::fold::check`]) and of the timeline's flags.
//!
//! Each reason is a variant with its details as data, not a sentence, so that every front end
//! can word it in its own language: `Display` gives the English the command line prints, and the
//! window's translation table words each variant in Chinese. Adding a variant is a compile error
//! in the window until it is translated there too.

use crate::case::status::Status;
use crate::role::Role;
use crate::station::Tier;
use std::fmt;

/// Why an action, an edit or an enrolment step is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Network documents (roster, catalog, calendar, settings) are changed at the city only.
    CityOnly,
    /// The item is accepted and decided at another tier than this station's.
    WrongTier {
        /// The item's code.
        item_code: String,
        /// The item's name.
        item_name: String,
        /// The tier that handles the item.
        item_tier: Tier,
        /// This station's tier.
        here: Tier,
    },
    /// The case is held by another station.
    NotHolder {
        /// The station holding the case.
        holder: String,
        /// The station that tried to act.
        station: String,
    },
    /// The station has never held the case.
    NotOnRoute {
        /// The station that tried to act.
        station: String,
    },
    /// The action does not fit the case's status.
    WrongStatus(Status),
    /// An accepted case is decided (completed or declined), not refused.
    AcceptedIsDecided(Status),
    /// Only a paused case (waiting for materials, or in a special procedure) resumes.
    OnlyPausedResumes(Status),
    /// A case is rated after it is decided.
    RateAfterDecision(Status),
    /// Follow-up calls come after the decision.
    FollowUpAfterDecision(Status),
    /// Accepting with gaps (容缺受理) must list the missing materials.
    GapsNeedMaterials,
    /// The one-time notice (一次性告知) must list every missing material.
    NoticeNeedsMaterials,
    /// 办结 (granting) while materials accepted as missing (容缺受理) are still outstanding: they
    /// are recorded as supplied (补齐) first, or the application is declined (不予许可).
    GapsOutstanding(Vec<String>),
    /// 补齐 names a material that is not an outstanding 容缺 material of the case (or none).
    NotAGap(Vec<String>),
    /// The case is already at the station it would be forwarded to.
    AlreadyAt(String),
    /// The department does not take part in the item's approval.
    DeptNotInItem {
        /// The department named.
        dept: String,
        /// The item's departments.
        departments: Vec<String>,
    },
    /// The department has already decided the other way.
    DeptAlreadyDecided(String),
    /// A department has rejected; the case can only be declined now.
    AlreadyRejected,
    /// These departments have not decided yet.
    DeptsPending(Vec<String>),
    /// The department has already decided the same way (a repeat, not a change).
    DuplicateDecision,
    /// The case has already been rated.
    AlreadyRated,
    /// There is no conflict to settle.
    NoConflict,
    /// The item is retired (停用): no new cases are taken in for it.
    ItemRetired {
        /// The item's code.
        code: String,
        /// The item's name.
        name: String,
    },
    /// The item cannot be deleted because cases use it; it can be retired instead.
    ItemInUse {
        /// The item's code.
        code: String,
        /// How many cases in this store use it.
        cases: u64,
    },
    /// This station may not enrol a node for that station.
    MayNotEnrol {
        /// The enrolling station's tier.
        issuer_tier: Tier,
        /// The enrolling station's code.
        issuer: String,
        /// The tier of the station to enrol for.
        subject_tier: Tier,
        /// The code of the station to enrol for.
        subject: String,
    },
    /// The ticket was not issued by this node.
    TicketUnknown,
    /// The ticket has already been used by another node.
    TicketUsed,
    /// The ticket has expired.
    TicketExpired,
    /// A township revokes only nodes of its own station and its villages.
    TownshipRevokeScope,
    /// A village station revokes no one.
    VillageMayNotRevoke,
    /// The action needs another role than the operator's.
    RoleNeeded {
        /// The roles that may take it.
        needed: Vec<Role>,
        /// The operator's role.
        role: Role,
        /// For a department's sign-off, the department.
        dept: Option<String>,
    },
    /// A reviewer signs for its own department only.
    OtherDepartment {
        /// The department the sign-off was for.
        dept: String,
        /// The reviewer's own department.
        own: String,
    },
    /// The event's account was disabled before the event's time.
    AccountDisabled {
        /// The account's name.
        name: String,
        /// When it was disabled (ms).
        at: i64,
    },
    /// The event's role is not one this version knows.
    UnknownRole(String),
    /// A station's first account must be its administrator.
    FirstAccountAdmin,
    /// Accounts are managed at their own station or a parent station.
    AccountsOfOtherStation(String),
    /// A supervisor works at the city, or at a township for its villages.
    SupervisorTier,
    /// The 督办 answered does not exist on this case, or has been answered.
    NoOpenSupervision,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = |s: &Status| format!("the case is {} ({})", s.as_str(), s.label_zh());
        match self {
            Refusal::CityOnly => f.write_str("only a city station may change network documents"),
            Refusal::WrongTier {
                item_code,
                item_name,
                item_tier,
                here,
            } => write!(
                f,
                "{item_name} ({item_code}) is accepted at a {item_tier} station; this is a {here} \
                 station — forward the case"
            ),
            Refusal::NotHolder { holder, station } => {
                write!(f, "the case is held by station {holder}, not {station}")
            }
            Refusal::NotOnRoute { station } => {
                write!(f, "station {station} has never held this case")
            }
            Refusal::WrongStatus(s) => f.write_str(&status(s)),
            Refusal::AcceptedIsDecided(s) => {
                write!(f, "{}; an accepted case is decided, not refused", status(s))
            }
            Refusal::OnlyPausedResumes(s) => {
                write!(f, "{}; only a paused case resumes", status(s))
            }
            Refusal::RateAfterDecision(s) => {
                write!(f, "{}; a case is rated after it is decided", status(s))
            }
            Refusal::FollowUpAfterDecision(s) => {
                write!(f, "{}; follow-up calls come after the decision", status(s))
            }
            Refusal::GapsNeedMaterials => {
                f.write_str("accepting with gaps needs the missing materials listed")
            }
            Refusal::NoticeNeedsMaterials => {
                f.write_str("the one-time notice must list every missing material")
            }
            Refusal::GapsOutstanding(items) => write!(
                f,
                "materials accepted as missing are still outstanding ({}); record them as supplied or decline",
                items.join(", ")
            ),
            Refusal::NotAGap(items) if items.is_empty() => {
                f.write_str("name the outstanding materials that arrived")
            }
            Refusal::NotAGap(items) => write!(
                f,
                "not an outstanding material accepted as missing: {}",
                items.join(", ")
            ),
            Refusal::AlreadyAt(to) => write!(f, "the case is already at {to}"),
            Refusal::DeptNotInItem { dept, departments } => write!(
                f,
                "department {dept} does not take part in this item (departments: {})",
                if departments.is_empty() {
                    "none".to_string()
                } else {
                    departments.join("、")
                }
            ),
            Refusal::DeptAlreadyDecided(dept) => {
                write!(f, "department {dept} has already decided")
            }
            Refusal::AlreadyRejected => {
                f.write_str("the departments have already decided: rejected")
            }
            Refusal::DeptsPending(depts) => {
                write!(f, "departments {} have not decided yet", depts.join("、"))
            }
            Refusal::DuplicateDecision => {
                f.write_str("this department has already decided the same way")
            }
            Refusal::AlreadyRated => f.write_str("the case has already been rated"),
            Refusal::NoConflict => f.write_str("there is no conflict to settle"),
            Refusal::ItemRetired { code, name } => write!(
                f,
                "{name} ({code}) is retired: no new cases are taken in for it"
            ),
            Refusal::ItemInUse { code, cases } => write!(
                f,
                "{cases} case(s) use item {code}; retire it instead, so that they keep its name \
                 in lists and statistics"
            ),
            Refusal::MayNotEnrol {
                issuer_tier,
                issuer,
                subject_tier,
                subject,
            } => write!(
                f,
                "a {issuer_tier} station ({issuer}) may not enrol a node of {subject_tier} station \
                 {subject}"
            ),
            Refusal::TicketUnknown => f.write_str("this ticket was not issued here"),
            Refusal::TicketUsed => f.write_str("this ticket has already been used"),
            Refusal::TicketExpired => f.write_str("this ticket has expired; ask for a new one"),
            Refusal::TownshipRevokeScope => {
                f.write_str("a township may only revoke nodes of its own station and its villages")
            }
            Refusal::VillageMayNotRevoke => f.write_str("a village station may not revoke nodes"),
            Refusal::RoleNeeded { needed, role, dept } => {
                let names: Vec<String> = needed
                    .iter()
                    .map(|r| format!("{} ({})", r.as_str(), r.label_zh()))
                    .collect();
                let names = names.join(" or ");
                match dept {
                    Some(d) => write!(
                        f,
                        "this needs the role {names} of department {d}; the operator is a {} ({})",
                        role.as_str(),
                        role.label_zh()
                    ),
                    None => write!(
                        f,
                        "this needs the role {names}; the operator is a {} ({})",
                        role.as_str(),
                        role.label_zh()
                    ),
                }
            }
            Refusal::OtherDepartment { dept, own } => write!(
                f,
                "this needs the role reviewer (部门审核员) of department {dept}; the operator \
                 reviews for {own}"
            ),
            Refusal::AccountDisabled { name, at } => write!(
                f,
                "the account of {name} was disabled at {}",
                crate::clock::format_ms(*at)
            ),
            Refusal::UnknownRole(r) => write!(f, "the role {r:?} is unknown to this Yizhan"),
            Refusal::FirstAccountAdmin => {
                f.write_str("a station's first account must be its administrator (admin)")
            }
            Refusal::AccountsOfOtherStation(s) => write!(
                f,
                "the accounts of station {s} are managed there or at a parent station"
            ),
            Refusal::SupervisorTier => {
                f.write_str("supervisors work at the city, or at a township for its villages")
            }
            Refusal::NoOpenSupervision => {
                f.write_str("there is no open 督办 (supervision notice) with that id on this case")
            }
        }
    }
}

/// Tests and callers that only print a refusal can treat it as text.
impl From<Refusal> for String {
    fn from(r: Refusal) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_wording_is_what_the_command_line_printed_before() {
        assert_eq!(
            Refusal::WrongTier {
                item_code: "TS-004".into(),
                item_name: "低保申请".into(),
                item_tier: Tier::Township,
                here: Tier::City,
            }
            .to_string(),
            "低保申请 (TS-004) is accepted at a township station; this is a city station — \
             forward the case"
        );
        assert_eq!(
            Refusal::AcceptedIsDecided(Status::Completed).to_string(),
            "the case is completed (已办结); an accepted case is decided, not refused"
        );
        assert_eq!(
            Refusal::DeptNotInItem {
                dept: "税务局".into(),
                departments: vec![],
            }
            .to_string(),
            "department 税务局 does not take part in this item (departments: none)"
        );
        let s: String = Refusal::NoConflict.into();
        assert_eq!(s, "there is no conflict to settle");
    }
}
