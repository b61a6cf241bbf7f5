//! What is wrong with a value a person typed in: the problems of
//! [`crate::NodeError::InvalidInput`].
//!
//! Like [`crate::refusal::Refusal`], each problem is a variant with its details (bounds, lengths,
//! the offending value) as data rather than a finished sentence, so that every front end can word
//! it in its own language: `Display` gives the English the command line prints, and the window's
//! translation table words each variant in Chinese. Adding a variant is a compile error in the
//! window until it is translated there too.

use crate::idcard::IdNumberError;
use crate::station::Tier;
use std::fmt;

/// What is wrong with one input field; the field itself is named beside it, in
/// [`crate::NodeError::InvalidInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The value is empty.
    Empty,
    /// The station name is empty.
    StationNameEmpty,
    /// The network name is empty.
    NetworkNameEmpty,
    /// A number outside its range (both bounds included).
    Between {
        /// The smallest accepted value.
        min: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// A number of working days outside its range (both bounds included).
    WorkingDaysBetween {
        /// The smallest accepted value.
        min: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// A code is empty or too long.
    Length {
        /// The fewest characters accepted.
        min: usize,
        /// The most characters accepted.
        max: usize,
    },
    /// A code has characters other than ASCII letters, digits, `-` and `_`.
    CodeCharacters(String),
    /// A text is longer than its limit.
    TooLong {
        /// The most characters accepted.
        max: usize,
    },
    /// A text contains control characters (other than a line break).
    ControlCharacters,
    /// A phone number is neither an 11-digit mobile number nor a landline with its area code
    /// ([`crate::idcard::is_valid_phone`]).
    Phone,
    /// The resident ID number does not validate.
    IdNumber(IdNumberError),
    /// A letter of entrustment was given for a case that is not delegated.
    NotDelegated,
    /// A batch of one created no case (a bug rather than a person's mistake, but reported as one).
    NothingCreated,
    /// A rating level outside 1 (非常满意) to 5 (非常不满意).
    RatingLevel,
    /// A refusal or rejection without a reason.
    ReasonNeeded,
    /// The roster already has a station with this code.
    StationExists(String),
    /// The tier is not one of village, township or city.
    UnknownTier(String),
    /// A second city station; a network has exactly one.
    SecondCity,
    /// The parent station is not of the tier right above the new station's.
    WrongParent {
        /// The new station's tier.
        tier: Tier,
        /// The tier its parent must have.
        expected: Tier,
        /// The parent named.
        parent: String,
        /// The parent's actual tier.
        parent_tier: Tier,
    },
    /// An invitation names an existing station with another tier or parent than the roster's.
    StationExistsAs {
        /// The station's code.
        code: String,
        /// Its tier as stored in the roster.
        tier: String,
        /// Its parent's code as stored (empty for the city).
        parent: String,
    },
    /// Not 64 hex digits.
    NotANodeId,
    /// Not `IP:PORT`.
    NotAnAddress,
    /// Not an `http://` or `https://` URL.
    NotAUrl,
    /// A notice template names a placeholder that does not exist (issue #15).
    UnknownPlaceholder(String),
    /// A node tried to revoke itself.
    RevokeSelf,
    /// The node (its short id) is not a member of this network.
    NotAMember(String),
    /// The node id is this node's own.
    ThisNode,
    /// The station already has an enabled account with this login.
    LoginTaken(String),
    /// A login has characters other than ASCII letters, digits, `.`, `-` and `_`.
    LoginCharacters(String),
    /// The role is not one of agent, clerk, reviewer, supervisor or admin.
    UnknownRole(String),
    /// A reviewer needs the department it signs for.
    DeptNeeded,
    /// A password or PIN shorter or longer than accepted.
    SecretLength {
        /// The fewest characters accepted.
        min: usize,
        /// The most characters accepted.
        max: usize,
    },
    /// The station has no account with this login.
    UnknownAccount(String),
    /// An operator may not disable their own account (the station would lose its administrator
    /// by mistake).
    DisableSelf,
    /// Passwords are set at the account's own station (they never leave it).
    PasswordElsewhere(String),
}

impl std::error::Error for Invalid {}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Empty => f.write_str("is empty"),
            Invalid::StationNameEmpty => f.write_str("station name is empty"),
            Invalid::NetworkNameEmpty => f.write_str("network name is empty"),
            Invalid::Between { min, max } => write!(f, "must be between {min} and {max}"),
            Invalid::WorkingDaysBetween { min, max } => {
                write!(f, "must be between {min} and {max} working days")
            }
            Invalid::Length { min, max } => write!(f, "must have {min} to {max} characters"),
            Invalid::CodeCharacters(code) => {
                write!(f, "{code:?} may only contain letters, digits, '-' and '_'")
            }
            Invalid::TooLong { max } => write!(f, "is longer than {max} characters"),
            Invalid::ControlCharacters => f.write_str("contains control characters"),
            Invalid::Phone => f.write_str(
                "must be an 11-digit mobile number or a landline with its area code (e.g. 0351-7654321)",
            ),
            Invalid::IdNumber(e) => write!(f, "{e}"),
            Invalid::NotDelegated => {
                f.write_str("a letter of entrustment needs a delegated case")
            }
            Invalid::NothingCreated => f.write_str("nothing was created"),
            Invalid::RatingLevel => f.write_str("must be 1 (非常满意) to 5 (非常不满意)"),
            Invalid::ReasonNeeded => f.write_str("a refusal or rejection must say why"),
            Invalid::StationExists(code) => write!(f, "station {code} already exists"),
            Invalid::UnknownTier(tier) => {
                write!(f, "{tier:?} is not village, township or city")
            }
            Invalid::SecondCity => f.write_str("a network has one city station"),
            Invalid::WrongParent {
                tier,
                expected,
                parent,
                parent_tier,
            } => write!(
                f,
                "a {tier} station's parent must be a {expected}, but {parent} is a {parent_tier}"
            ),
            Invalid::StationExistsAs { code, tier, parent } => write!(
                f,
                "station {code} exists as a {tier} under {}; invite with the same tier and parent",
                if parent.is_empty() { "-" } else { parent }
            ),
            Invalid::NotANodeId => f.write_str("is not a node id (64 hex digits)"),
            Invalid::NotAnAddress => {
                f.write_str("is not an address (expected IP:PORT, e.g. 0.0.0.0:7227)")
            }
            Invalid::NotAUrl => f.write_str("is not a URL (expected http:// or https://)"),
            Invalid::UnknownPlaceholder(p) => write!(
                f,
                "names the unknown placeholder {p} (known: {})",
                crate::notice::PLACEHOLDERS.join(" ")
            ),
            Invalid::RevokeSelf => f.write_str("a node cannot revoke itself"),
            Invalid::NotAMember(node) => write!(f, "{node} is not a member of this network"),
            Invalid::ThisNode => f.write_str("is this node itself"),
            Invalid::LoginTaken(l) => write!(f, "the station already has an account {l:?}"),
            Invalid::LoginCharacters(l) => write!(
                f,
                "{l:?} may only contain letters, digits, '.', '-' and '_'"
            ),
            Invalid::UnknownRole(r) => write!(
                f,
                "{r:?} is not agent, clerk, reviewer, supervisor or admin"
            ),
            Invalid::DeptNeeded => f.write_str("a reviewer needs the department it signs for"),
            Invalid::SecretLength { min, max } => {
                write!(f, "must have {min} to {max} characters")
            }
            Invalid::UnknownAccount(l) => write!(f, "no account {l:?} at this station"),
            Invalid::DisableSelf => f.write_str("an operator cannot disable their own account"),
            Invalid::PasswordElsewhere(s) => write!(
                f,
                "passwords of station {s} are set at that station; they never leave it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeError;

    /// The command line prints these messages, and scripts and people may rely on them: the
    /// move from free text to variants must not change a word.
    #[test]
    fn english_wording_is_what_the_command_line_printed_before() {
        let cases: Vec<(&'static str, Invalid, &str)> = vec![
            (
                "yellow_percent",
                Invalid::Between { min: 1, max: 100 },
                "invalid yellow_percent: must be between 1 and 100",
            ),
            (
                "follow_up_days",
                Invalid::WorkingDaysBetween { min: 1, max: 365 },
                "invalid follow_up_days: must be between 1 and 365 working days",
            ),
            (
                "code",
                Invalid::Length { min: 1, max: 32 },
                "invalid code: must have 1 to 32 characters",
            ),
            (
                "code",
                Invalid::CodeCharacters("V 01".into()),
                "invalid code: \"V 01\" may only contain letters, digits, '-' and '_'",
            ),
            (
                "address",
                Invalid::TooLong { max: 200 },
                "invalid address: is longer than 200 characters",
            ),
            (
                "phone",
                Invalid::Phone,
                "invalid phone: must be an 11-digit mobile number or a landline with its area code (e.g. 0351-7654321)",
            ),
            (
                "ID number",
                Invalid::IdNumber(IdNumberError::Length(17)),
                "invalid ID number: ID number must have 18 characters, found 17",
            ),
            (
                "level",
                Invalid::RatingLevel,
                "invalid level: must be 1 (非常满意) to 5 (非常不满意)",
            ),
            (
                "parent",
                Invalid::WrongParent {
                    tier: Tier::Village,
                    expected: Tier::Township,
                    parent: "C01".into(),
                    parent_tier: Tier::City,
                },
                "invalid parent: a village station's parent must be a township, but C01 is a city",
            ),
            (
                "code",
                Invalid::StationExistsAs {
                    code: "C01".into(),
                    tier: "city".into(),
                    parent: String::new(),
                },
                "invalid code: station C01 exists as a city under -; invite with the same tier \
                 and parent",
            ),
            (
                "tier",
                Invalid::UnknownTier("county".into()),
                "invalid tier: \"county\" is not village, township or city",
            ),
            (
                "node id",
                Invalid::NotAMember("0123abcd".into()),
                "invalid node id: 0123abcd is not a member of this network",
            ),
        ];
        for (field, problem, english) in cases {
            assert_eq!(NodeError::invalid(field, problem).to_string(), english);
        }
    }
}
