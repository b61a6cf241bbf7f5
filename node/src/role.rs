//! Operator roles (角色): what a person at a station is there to do. A leaf module: the refusals
//! name roles, and the account module and the transition table both read them.

use std::fmt;

/// An operator's role. Stored as its English name (`agent`, `clerk` …) in account documents
/// and in every event's actor stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// 代办员: the village proxy agent, who takes cases in on villagers' behalf.
    Agent,
    /// 窗口人员: a window clerk at a township or city hall.
    Clerk,
    /// 首席代表 / 部门审核员: a department's reviewer, who approves or rejects for that department
    /// only.
    Reviewer,
    /// 电子监察 / 督办: a supervisor (city, or township for its villages) who sends 督办 notices.
    Supervisor,
    /// 管理员: the station's administrator (accounts; at the city also the catalog, calendar and
    /// settings).
    Admin,
}

impl Role {
    /// Every role, in the order the window lists them.
    pub const ALL: [Role; 5] = [
        Role::Agent,
        Role::Clerk,
        Role::Reviewer,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Agent => "代办员",
            Role::Clerk => "窗口人员",
            Role::Reviewer => "部门审核员",
            Role::Supervisor => "督办人员",
            Role::Admin => "管理员",
        }
    }

    /// Parses a stored name (or its Chinese name, for the command line).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim() || r.label_zh() == s.trim())
    }

    /// Whether the role handles cases at a window (intake, acceptance, forwarding, completion).
    /// The administrator of a small station is often its only person, so it handles cases too.
    pub fn handles_cases(self) -> bool {
        matches!(self, Role::Agent | Role::Clerk | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
