//! Operator accounts (操作员账号): who works at a station, in which role, and what each role may do.
//!
//! Each station has two documents:
//!
//! - `acct/<STATION>` ([`AccountsDoc`]): the accounts (login, name, phone, role, department,
//!   whether and when disabled). It syncs within the station's scope, up to its ancestors (the
//!   city sees every account) and down to its descendants (a village can check the township's
//!   and the city's events), never sideways: a village never holds another village's accounts.
//! - `cred/<STATION>` ([`CredentialsDoc`]): the password hashes (argon2id, PHC strings). It
//!   syncs only between nodes of that same station, so a hash never leaves the station.
//!
//! Every event records its actor ([`Actor`]: the account, and its role and department as they
//! were). The transition table checks the recorded role with [`permits`], and the fold checks the
//! account against the [`Directory`] of accounts held here (disabled before the event's time),
//! so two nodes holding the same documents flag the same events.

use crate::case::action::Action;
use crate::refusal::Refusal;
use crate::role::Role;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use autosurgeon::{Hydrate, Reconcile};
use std::collections::{BTreeMap, HashMap};

/// The prefix of the accounts documents' ids (`acct/<STATION>`).
pub const ACCOUNTS_PREFIX: &str = "acct/";
/// The prefix of the credentials documents' ids (`cred/<STATION>`).
pub const CREDENTIALS_PREFIX: &str = "cred/";
/// The schema tag of an accounts document.
pub const ACCOUNTS_SCHEMA: &str = "yizhan/accounts/1";
/// The schema tag of a credentials document.
pub const CREDENTIALS_SCHEMA: &str = "yizhan/credentials/1";

/// The accounts document's id for a station.
pub fn accounts_doc_id(station: &str) -> String {
    format!("{ACCOUNTS_PREFIX}{station}")
}

/// The credentials document's id for a station.
pub fn credentials_doc_id(station: &str) -> String {
    format!("{CREDENTIALS_PREFIX}{station}")
}

/// The station of an accounts document's id, if it is one.
pub fn accounts_station(doc_id: &str) -> Option<&str> {
    doc_id.strip_prefix(ACCOUNTS_PREFIX)
}

/// The station of a credentials document's id, if it is one.
pub fn credentials_station(doc_id: &str) -> Option<&str> {
    doc_id.strip_prefix(CREDENTIALS_PREFIX)
}

/// An account as stored. The role is stored as text so that a role added by a newer Yizhan
/// reads as "no known role" (allowed nothing) instead of making the whole document unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct AccountRecord {
    /// A UUID; events refer to it.
    pub id: String,
    /// The login name, unique within the station.
    pub login: String,
    /// The person's name as shown and printed.
    pub name: String,
    /// The person's work phone (printed on a delegated case's receipt), or empty.
    pub phone: String,
    /// The role's stored name ([`Role::as_str`]).
    pub role: String,
    /// For a reviewer, the department it signs for; otherwise empty.
    pub dept: String,
    /// The station the person works at.
    pub station: String,
    /// When it was created (ms).
    pub created_at: i64,
    /// Who created it (an account name, or `(first run)`).
    pub created_by: String,
    /// Set when the account is disabled; events it makes after this time are flagged.
    pub disabled: Option<Disabled>,
}

/// When and by whom an account was disabled.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Disabled {
    /// When (ms, the disabling node's corrected clock).
    pub at: i64,
    /// Who disabled it (an account name).
    pub by: String,
    /// Why.
    pub reason: String,
}

/// A station's accounts document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct AccountsDoc {
    /// Always [`ACCOUNTS_SCHEMA`].
    pub schema: String,
    /// The station.
    pub station: String,
    /// Accounts by id.
    pub accounts: BTreeMap<String, AccountRecord>,
    /// The station's phone for questions about progress (本站咨询电话), printed on its
    /// receipts (issue #13). It lives here rather than in the roster because this is the one
    /// document the station's own administrator may write that reaches every node of the
    /// station (the roster only takes the city's changes). Missing in documents written before
    /// it existed, which therefore still read (as `None`), and until an administrator sets it.
    #[autosurgeon(missing = "Default::default")]
    pub phone: Option<String>,
}

impl AccountsDoc {
    /// An empty accounts document for a station.
    pub fn new(station: &str) -> AccountsDoc {
        AccountsDoc {
            schema: ACCOUNTS_SCHEMA.into(),
            station: station.into(),
            accounts: BTreeMap::new(),
            phone: None,
        }
    }
}

/// A password hash as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Secret {
    /// The argon2id hash as a PHC string (salt and parameters inside).
    pub phc: String,
    /// When it was set (ms).
    pub set_at: i64,
    /// Who set it (an account name).
    pub set_by: String,
}

/// A station's credentials document: password hashes by account id.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct CredentialsDoc {
    /// Always [`CREDENTIALS_SCHEMA`].
    pub schema: String,
    /// The station.
    pub station: String,
    /// Hashes by account id.
    pub secrets: BTreeMap<String, Secret>,
}

impl CredentialsDoc {
    /// An empty credentials document for a station.
    pub fn new(station: &str) -> CredentialsDoc {
        CredentialsDoc {
            schema: CREDENTIALS_SCHEMA.into(),
            station: station.into(),
            secrets: BTreeMap::new(),
        }
    }
}

/// A new account as typed in.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    /// Login name (ASCII letters, digits, `.`, `-`, `_`).
    pub login: String,
    /// The person's name.
    pub name: String,
    /// Work phone, optional.
    pub phone: String,
    /// The role.
    pub role: Option<Role>,
    /// For a reviewer, the department.
    pub dept: String,
    /// The station (empty for this node's own).
    pub station: String,
}

/// An account as the rest of the node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's id.
    pub id: String,
    /// Login name.
    pub login: String,
    /// The person's name.
    pub name: String,
    /// Work phone, or empty.
    pub phone: String,
    /// The role, if this version knows it.
    pub role: Option<Role>,
    /// The role's stored name, as stored.
    pub role_name: String,
    /// The reviewer's department, or empty.
    pub dept: String,
    /// The station.
    pub station: String,
    /// When it was created (ms).
    pub created_at: i64,
    /// When it was disabled, if it was.
    pub disabled_at: Option<i64>,
    /// Who disabled it and why, if it was.
    pub disabled: Option<Disabled>,
}

impl Account {
    fn from_record(r: &AccountRecord) -> Account {
        Account {
            id: r.id.clone(),
            login: r.login.clone(),
            name: r.name.clone(),
            phone: r.phone.clone(),
            role: Role::parse(&r.role),
            role_name: r.role.clone(),
            dept: r.dept.clone(),
            station: r.station.clone(),
            created_at: r.created_at,
            disabled_at: r.disabled.as_ref().map(|d| d.at),
            disabled: r.disabled.clone(),
        }
    }

    /// Whether the account is enabled.
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// The stamp an event made by this account carries.
    pub fn actor(&self) -> Actor {
        Actor {
            account: self.id.clone(),
            role: self.role_name.clone(),
            dept: self.dept.clone(),
        }
    }
}

/// The actor of an event: the account, and its role and department as they were when the
/// event was made (a later change of role does not rewrite history).
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Actor {
    /// The account's id.
    pub account: String,
    /// The role's stored name.
    pub role: String,
    /// The reviewer's department, or empty.
    pub dept: String,
}

/// Every account held on this node (this station's, its descendants' and its ancestors'), by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    by_id: HashMap<String, Account>,
    /// Each station's consultation phone, from its accounts document, where set.
    phones: HashMap<String, String>,
}

impl Directory {
    /// The directory of some accounts documents.
    pub fn from_docs<'a>(docs: impl IntoIterator<Item = &'a AccountsDoc>) -> Directory {
        let mut d = Directory::default();
        for doc in docs {
            d.put_doc(doc);
        }
        d
    }

    /// Adds or replaces the accounts of one station's document.
    pub fn put_doc(&mut self, doc: &AccountsDoc) {
        self.by_id.retain(|_, a| a.station != doc.station);
        match doc
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(p) => self.phones.insert(doc.station.clone(), p.to_string()),
            None => self.phones.remove(&doc.station),
        };
        for r in doc.accounts.values() {
            // A record filed under another station's document is not that station's account.
            if r.station == doc.station {
                self.by_id.insert(r.id.clone(), Account::from_record(r));
            }
        }
    }

    /// A station's consultation phone (本站咨询电话), if its administrator set one.
    pub fn station_phone(&self, station: &str) -> Option<&str> {
        self.phones.get(station).map(String::as_str)
    }

    /// An account by id.
    pub fn get(&self, id: &str) -> Option<&Account> {
        self.by_id.get(id)
    }

    /// A station's accounts, by login.
    pub fn of_station(&self, station: &str) -> Vec<&Account> {
        let mut v: Vec<&Account> = self
            .by_id
            .values()
            .filter(|a| a.station == station)
            .collect();
        v.sort_by(|a, b| (&a.login, &a.id).cmp(&(&b.login, &b.id)));
        v
    }

    /// A station's enabled account with this login.
    pub fn by_login(&self, station: &str, login: &str) -> Option<&Account> {
        self.of_station(station)
            .into_iter()
            .find(|a| a.login == login && a.enabled())
    }

    /// Every account.
    pub fn all(&self) -> impl Iterator<Item = &Account> {
        self.by_id.values()
    }

    /// The ids of accounts whose disabling differs between two directories.
    pub fn disabling_changed(&self, other: &Directory) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_id
            .keys()
            .chain(other.by_id.keys())
            .filter(|id| {
                self.by_id.get(*id).and_then(|a| a.disabled_at)
                    != other.by_id.get(*id).and_then(|a| a.disabled_at)
            })
            .cloned()
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Checks an event's actor against the accounts held here: an account disabled at or
    /// before the event's time may not act. An account not held here (a village holding a case
    /// that passed through another village) is not checked.
    pub fn check_actor(&self, actor: &Actor, at: i64) -> Result<(), Refusal> {
        match self.by_id.get(&actor.account) {
            Some(a) => match a.disabled_at {
                Some(when) if when <= at => Err(Refusal::AccountDisabled {
                    name: a.name.clone(),
                    at: when,
                }),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }
}

/// The roles that may take `action` (for a department's sign-off, the reviewer of that
/// department). This is the one table of who may do what to a case; the transition table calls
/// it with the role recorded in the event, so every node decides the same.
pub fn permits(actor: &Actor, action: &Action) -> Result<(), Refusal> {
    let Some(role) = Role::parse(&actor.role) else {
        return Err(Refusal::UnknownRole(actor.role.clone()));
    };
    let needed: &[Role] = match action {
        Action::Note { .. } => return Ok(()),
        Action::Approve { dept } | Action::Reject { dept, .. } => {
            if role != Role::Reviewer {
                return Err(Refusal::RoleNeeded {
                    needed: vec![Role::Reviewer],
                    role,
                    dept: Some(dept.clone()),
                });
            }
            if actor.dept != *dept {
                return Err(Refusal::OtherDepartment {
                    dept: dept.clone(),
                    own: actor.dept.clone(),
                });
            }
            return Ok(());
        }
        Action::Supervise { .. } => &[Role::Supervisor],
        Action::Consult { .. } => &[Role::Agent, Role::Clerk, Role::Admin, Role::Reviewer],
        _ => &[Role::Agent, Role::Clerk, Role::Admin],
    };
    if needed.contains(&role) {
        Ok(())
    } else {
        Err(Refusal::RoleNeeded {
            needed: needed.to_vec(),
            role,
            dept: None,
        })
    }
}

/// Hashes a password or PIN with argon2id (the crate's default parameters: 19 MiB, 2 passes),
/// under a fresh random salt.
pub fn hash_secret(secret: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether a password matches a stored hash. A malformed hash never matches.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: &str, dept: &str) -> Actor {
        Actor {
            account: "a1".into(),
            role: role.into(),
            dept: dept.into(),
        }
    }

    /// Issue #13: an accounts document written before the station's phone existed still reads
    /// (no phone), and a phone set in a newer one reaches the directory.
    #[test]
    fn an_accounts_document_without_a_phone_still_reads() {
        #[derive(Reconcile)]
        struct Before {
            schema: String,
            station: String,
            accounts: BTreeMap<String, AccountRecord>,
        }
        let mut am = automerge::AutoCommit::new();
        autosurgeon::reconcile(
            &mut am,
            &Before {
                schema: ACCOUNTS_SCHEMA.into(),
                station: "V01".into(),
                accounts: BTreeMap::new(),
            },
        )
        .unwrap();
        let mut doc: AccountsDoc = autosurgeon::hydrate(&am).unwrap();
        assert_eq!(doc.phone, None);
        assert_eq!(Directory::from_docs([&doc]).station_phone("V01"), None);
        doc.phone = Some("0351-1234567".into());
        autosurgeon::reconcile(&mut am, &doc).unwrap();
        let again: AccountsDoc = autosurgeon::hydrate(&am).unwrap();
        assert_eq!(
            Directory::from_docs([&again]).station_phone("V01"),
            Some("0351-1234567")
        );
    }

    #[test]
    fn a_reviewer_signs_for_its_own_department_only() {
        let market = actor("reviewer", "市场监管局");
        let approve = |d: &str| Action::Approve { dept: d.into() };
        assert_eq!(permits(&market, &approve("市场监管局")), Ok(()));
        assert_eq!(
            permits(&market, &approve("公安局")),
            Err(Refusal::OtherDepartment {
                dept: "公安局".into(),
                own: "市场监管局".into()
            })
        );
        let e = permits(&actor("clerk", ""), &approve("公安局")).expect_err("a clerk");
        assert!(e.to_string().contains("reviewer"), "{e}");
        assert!(permits(&market, &Action::Complete).is_err());
        assert_eq!(permits(&market, &Action::Note { text: "x".into() }), Ok(()));
        assert!(permits(&actor("pilot", ""), &Action::Complete).is_err());
    }

    #[test]
    fn a_hash_verifies_its_secret_only() {
        let phc = hash_secret("口令 1234", &[7; 16]).expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("1234"));
        assert!(verify_secret("口令 1234", &phc));
        assert!(!verify_secret("口令 1235", &phc));
        assert!(!verify_secret("口令 1234", "not a hash"));
    }

    #[test]
    fn a_disabled_account_may_not_act_after_it_was_disabled() {
        let mut doc = AccountsDoc::new("V1");
        doc.accounts.insert(
            "a1".into(),
            AccountRecord {
                id: "a1".into(),
                login: "li".into(),
                name: "李四".into(),
                phone: String::new(),
                role: "agent".into(),
                dept: String::new(),
                station: "V1".into(),
                created_at: 0,
                created_by: "(first run)".into(),
                disabled: Some(Disabled {
                    at: 100,
                    by: "王五".into(),
                    reason: "离职".into(),
                }),
            },
        );
        let dir = Directory::from_docs([&doc]);
        let a = actor("agent", "");
        assert_eq!(dir.check_actor(&a, 99), Ok(()));
        assert!(dir.check_actor(&a, 100).is_err());
        assert_eq!(
            dir.by_login("V1", "li"),
            None,
            "disabled accounts do not sign in"
        );
        assert_eq!(Directory::default().check_actor(&a, 1000), Ok(()));
    }
}
