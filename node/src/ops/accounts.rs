//! Operator accounts: creating, disabling, passwords and signing in (issue #12).
//!
//! The accounts of a station live in its `acct/<STATION>` document, the password hashes in its
//! `cred/<STATION>` document (see [`crate::account`]). Each edit loads the document inside the
//! write transaction and changes only its own entry, like the network edits. Who may edit:
//!
//! - a station with no usable account yet (none with a password here) is in its first run: anyone
//!   at the station may create its first account, which must be an administrator with a password;
//! - from then on a signed-in administrator of the station or of a parent station creates and
//!   disables accounts; a password is set at the account's own station only (by its
//!   administrator, or by the person for their own account), since hashes never leave it.
//!
//! Signing in compares the password with the stored argon2id hash. Wrong attempts are counted per
//! login in the store (so that restarting the command line does not reset them): from the fourth
//! one on, the next attempt is refused until a delay has passed that doubles each time.

use crate::account::{ACCOUNTS_SCHEMA, Account, NewAccount};
use crate::account::{
    AccountRecord, AccountsDoc, CredentialsDoc, Directory, Disabled, Secret, accounts_doc_id,
    credentials_doc_id, hash_secret, verify_secret,
};
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::node::Node;
use crate::ops::derived::rederive;
use crate::ops::{check_text, hydrate_doc, new_uuid, random_bytes, reconcile_err};
use crate::refusal::Refusal;
use crate::role::Role;
use crate::store::index;
use crate::store::{DocType, WriteTx};
use autosurgeon::{Hydrate, Reconcile, reconcile};
use rusqlite::{OptionalExtension as _, params};

/// Wrong attempts allowed before the next attempt is delayed.
const FREE_ATTEMPTS: i64 = 3;
/// The longest delay between attempts.
const MAX_DELAY_SECS: i64 = 300;
/// Password or PIN length, in characters.
const SECRET_MIN: usize = 4;
const SECRET_MAX: usize = 128;

fn validate_login(login: &str) -> Result<()> {
    if login.is_empty() || login.chars().count() > 32 {
        return Err(NodeError::invalid(
            "login",
            Invalid::Length { min: 1, max: 32 },
        ));
    }
    if !login
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(NodeError::invalid(
            "login",
            Invalid::LoginCharacters(login.to_string()),
        ));
    }
    Ok(())
}

fn validate_secret(secret: &str) -> Result<()> {
    let n = secret.chars().count();
    if !(SECRET_MIN..=SECRET_MAX).contains(&n) {
        return Err(NodeError::invalid(
            "password",
            Invalid::SecretLength {
                min: SECRET_MIN,
                max: SECRET_MAX,
            },
        ));
    }
    Ok(())
}

/// Loads a per-station document inside the transaction (or starts it), lets `edit` change it,
/// and writes it back as one change.
fn edit_station_doc<T: Hydrate + Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    doc_type: DocType,
    fresh: impl FnOnce() -> T,
    edit: impl FnOnce(&mut T) -> Result<()>,
) -> Result<T> {
    let existing = wtx.take_doc(doc_id)?;
    let before = existing.as_ref().map(automerge::Automerge::get_heads);
    let mut doc = existing.unwrap_or_else(|| wtx.new_doc());
    let mut value: T = match before {
        Some(_) => hydrate_doc(doc_id, &doc)?,
        None => fresh(),
    };
    edit(&mut value)?;
    let mut tx = doc.transaction();
    reconcile(&mut tx, &value).map_err(reconcile_err)?;
    tx.commit();
    wtx.put_doc(doc_id, doc_type, doc, before.as_deref())?;
    Ok(value)
}

/// [`edit_station_doc`] on the accounts document of `station`.
fn edit_accounts(
    wtx: &mut WriteTx<'_>,
    station: &str,
    edit: impl FnOnce(&mut AccountsDoc) -> Result<()>,
) -> Result<AccountsDoc> {
    edit_station_doc(
        wtx,
        &accounts_doc_id(station),
        DocType::Accounts,
        || AccountsDoc::new(station),
        edit,
    )
}

/// Who is asking for an account edit: a signed-in administrator of `station` or of a parent
/// station. `Ok(None)` in a station's first run (no usable account yet).
fn require_admin_for(node: &Node, station: &str) -> Result<Option<Account>> {
    let me = node.identity.station.clone();
    if node.roster().station(station).is_none() {
        return Err(NodeError::UnknownStation(station.to_string()));
    }
    if !node.roster().is_within(station, &me) {
        return Err(NodeError::not_allowed(
            "operator",
            Refusal::AccountsOfOtherStation(station.to_string()),
        ));
    }
    match node.acting()? {
        Some(a) if a.role == Some(Role::Admin) => Ok(Some(a)),
        Some(a) => Err(NodeError::not_allowed(
            "operator",
            Refusal::RoleNeeded {
                needed: vec![Role::Admin],
                role: a.role.unwrap_or(Role::Agent),
                dept: None,
            },
        )),
        None => Ok(None),
    }
}

/// Implements [`Node::add_account`].
pub(crate) fn add_account(
    node: &mut Node,
    new: &NewAccount,
    secret: Option<&str>,
) -> Result<Account> {
    node.refresh()?;
    let station = if new.station.trim().is_empty() {
        node.identity.station.clone()
    } else {
        new.station.trim().to_string()
    };
    let login = new.login.trim().to_string();
    validate_login(&login)?;
    let name = new.name.trim().to_string();
    if name.is_empty() {
        return Err(NodeError::invalid("person name", Invalid::Empty));
    }
    check_text("person name", &name, 32)?;
    let phone = new.phone.trim().to_string();
    if !phone.is_empty() {
        crate::ops::intake::validate_phone(&phone)?;
    }
    let role = new
        .role
        .ok_or_else(|| NodeError::invalid("role", Invalid::UnknownRole(String::new())))?;
    let dept = new.dept.trim().to_string();
    check_text("department", &dept, 32)?;
    if role == Role::Reviewer && dept.is_empty() {
        return Err(NodeError::invalid("department", Invalid::DeptNeeded));
    }
    if let Some(s) = secret {
        validate_secret(s)?;
        if station != node.identity.station {
            return Err(NodeError::invalid(
                "password",
                Invalid::PasswordElsewhere(station.clone()),
            ));
        }
    }
    let by = require_admin_for(node, &station)?;
    if by.is_none() && (role != Role::Admin || secret.is_none() || station != node.identity.station)
    {
        return Err(NodeError::not_allowed(
            "operator add",
            Refusal::FirstAccountAdmin,
        ));
    }
    if node.net.accounts.by_login(&station, &login).is_some() {
        return Err(NodeError::invalid("login", Invalid::LoginTaken(login)));
    }
    let hash = match secret {
        Some(s) => Some(hash_secret(s, &random_bytes::<16>()?).map_err(NodeError::Hash)?),
        None => None,
    };
    let now = node.now_ms();
    let by_name = by
        .as_ref()
        .map_or_else(|| "(first run)".to_string(), |a| a.name.clone());
    let record = AccountRecord {
        id: new_uuid()?,
        login: login.clone(),
        name,
        phone,
        role: role.as_str().to_string(),
        dept: if role == Role::Reviewer {
            dept
        } else {
            String::new()
        },
        station: station.clone(),
        created_at: now,
        created_by: by_name.clone(),
        disabled: None,
    };
    let id = record.id.clone();
    node.store.write(|wtx| {
        edit_accounts(wtx, &station, |doc| {
            // Checked again against the document as stored: another node of the station
            // may have taken the login since this node last read the accounts.
            if doc
                .accounts
                .values()
                .any(|a| a.login == login && a.disabled.is_none())
            {
                return Err(NodeError::invalid(
                    "login",
                    Invalid::LoginTaken(login.clone()),
                ));
            }
            doc.accounts.insert(record.id.clone(), record);
            Ok(())
        })?;
        if let Some(phc) = hash {
            put_secret(wtx, &station, &id, phc, now, &by_name)?;
        }
        Ok(())
    })?;
    node.refresh()?;
    node.net
        .accounts
        .get(&id)
        .cloned()
        .ok_or_else(|| NodeError::invalid("login", Invalid::UnknownAccount(new.login.clone())))
}

fn put_secret(
    wtx: &mut WriteTx<'_>,
    station: &str,
    account: &str,
    phc: String,
    now: i64,
    by: &str,
) -> Result<()> {
    edit_station_doc(
        wtx,
        &credentials_doc_id(station),
        DocType::Credentials,
        || CredentialsDoc::new(station),
        |doc: &mut CredentialsDoc| {
            doc.secrets.insert(
                account.to_string(),
                Secret {
                    phc,
                    set_at: now,
                    set_by: by.to_string(),
                },
            );
            Ok(())
        },
    )
    .map(|_| ())
}

/// Finds an account of `station` by login (enabled or not) or by id.
fn find(dir: &Directory, station: &str, login: &str) -> Result<Account> {
    let all = dir.of_station(station);
    all.iter()
        .find(|a| a.login == login && a.enabled())
        .or_else(|| all.iter().find(|a| a.login == login || a.id == login))
        .map(|a| (*a).clone())
        .ok_or_else(|| NodeError::invalid("login", Invalid::UnknownAccount(login.to_string())))
}

/// Implements [`Node::disable_account`].
pub(crate) fn disable_account(
    node: &mut Node,
    station: &str,
    login: &str,
    reason: &str,
) -> Result<Account> {
    node.refresh()?;
    let station = if station.is_empty() {
        node.identity.station.clone()
    } else {
        station.to_string()
    };
    check_text("reason", reason, 200)?;
    let by = require_admin_for(node, &station)?;
    let target = find(&node.net.accounts, &station, login)?;
    if by.as_ref().is_some_and(|b| b.id == target.id) {
        return Err(NodeError::invalid("login", Invalid::DisableSelf));
    }
    let now = node.now_ms();
    let by_name = by.map_or_else(|| "(first run)".to_string(), |a| a.name);
    let old = node.net.accounts.clone();
    let (calendar, settings, roster) = (
        node.net.calendar.clone(),
        node.net.settings,
        node.net.roster.clone(),
    );
    let today = node.today();
    node.store.write(|wtx| {
        let doc = edit_accounts(wtx, &station, |doc| {
            let rec = doc.accounts.get_mut(&target.id).ok_or_else(|| {
                NodeError::invalid("login", Invalid::UnknownAccount(login.to_string()))
            })?;
            if rec.disabled.is_none() {
                rec.disabled = Some(Disabled {
                    at: now,
                    by: by_name.clone(),
                    reason: reason.trim().to_string(),
                });
            }
            Ok(())
        })?;
        let mut new = old.clone();
        new.put_doc(&doc);
        rederive_changed(wtx, &old, &new, (&calendar, &settings, &roster), today)
    })?;
    node.refresh()?;
    find(&node.net.accounts, &station, &target.id)
}

/// Implements [`Node::set_station_phone`].
pub(crate) fn set_station_phone(node: &mut Node, station: &str, phone: Option<&str>) -> Result<()> {
    node.refresh()?;
    let station = if station.is_empty() {
        node.identity.station.clone()
    } else {
        station.to_string()
    };
    require_admin_for(node, &station)?;
    let phone = phone.map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = phone {
        // The number is printed for applicants to call: the same rule as an applicant's phone.
        crate::ops::intake::validate_phone(p)?;
    }
    let phone = phone.map(str::to_string);
    node.store.write(|wtx| {
        edit_accounts(wtx, &station, |doc| {
            doc.phone = phone;
            Ok(())
        })
        .map(|_| ())
    })?;
    node.refresh()
}

/// Re-derives, inside the transaction, the cases of the accounts whose disabling differs
/// between two directories.
pub(crate) fn rederive_changed(
    wtx: &mut WriteTx<'_>,
    old: &Directory,
    new: &Directory,
    net: (
        &crate::calendar::Calendar,
        &crate::network::Settings,
        &crate::network::Roster,
    ),
    today: chrono::NaiveDate,
) -> Result<()> {
    let changed = old.disabling_changed(new);
    if changed.is_empty() {
        return Ok(());
    }
    let ids = index::cases_of_actors(wtx.sql(), &changed)?;
    rederive(wtx, &ids, (net.0, net.1, new, net.2), today)
}

/// Implements [`Node::set_password`].
pub(crate) fn set_password(node: &mut Node, login: &str, secret: &str) -> Result<()> {
    node.refresh()?;
    validate_secret(secret)?;
    let station = node.identity.station.clone();
    let target = find(&node.net.accounts, &station, login)?;
    let by = match node.acting()? {
        Some(a) if a.id == target.id || a.role == Some(Role::Admin) => a.name,
        Some(a) => {
            return Err(NodeError::not_allowed(
                "operator password",
                Refusal::RoleNeeded {
                    needed: vec![Role::Admin],
                    role: a.role.unwrap_or(Role::Agent),
                    dept: None,
                },
            ));
        }
        None => "(first run)".to_string(),
    };
    let phc = hash_secret(secret, &random_bytes::<16>()?).map_err(NodeError::Hash)?;
    let now = node.now_ms();
    node.store
        .write(|wtx| put_secret(wtx, &station, &target.id, phc, now, &by))?;
    node.refresh()
}

/// Checks a login and password (for [`Node::sign_in`] and [`Node::open_session`]): the
/// account, or the failure counted.
pub(crate) fn verify(node: &mut Node, login: &str, secret: &str) -> Result<Account> {
    node.refresh()?;
    let station = node.identity.station.clone();
    let login = login.trim().to_string();
    let now = node.clock.now_ms();
    let prior: Option<(i64, i64)> = node
        .store
        .conn()
        .query_row(
            "SELECT failures, last_at FROM sign_in_failures WHERE station = ?1 AND login = ?2",
            params![station, login],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((failures, last_at)) = prior
        && failures >= FREE_ATTEMPTS
    {
        let delay_ms = delay_secs(failures) * 1000;
        let wait_ms = last_at + delay_ms - now;
        if wait_ms > 0 {
            return Err(NodeError::SignInDelayed {
                login,
                seconds: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
            });
        }
    }
    let account = node.net.accounts.by_login(&station, &login).cloned();
    let ok = account.as_ref().is_some_and(|a| {
        node.net
            .credentials
            .get(&a.id)
            .is_some_and(|s| verify_secret(secret, &s.phc))
    });
    match (ok, account) {
        (true, Some(a)) => {
            node.store.write(|wtx| {
                wtx.sql().execute(
                    "DELETE FROM sign_in_failures WHERE station = ?1 AND login = ?2",
                    params![station, login],
                )?;
                Ok(())
            })?;
            tracing::info!(login = %a.login, "operator signed in");
            Ok(a)
        }
        _ => {
            node.store.write(|wtx| {
                wtx.sql().execute(
                    "INSERT INTO sign_in_failures (station, login, failures, last_at)
                     VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT DO UPDATE SET failures = failures + 1, last_at = excluded.last_at",
                    params![station, login, now],
                )?;
                Ok(())
            })?;
            tracing::info!(login = %login, "a sign-in failed");
            Err(NodeError::SignInFailed)
        }
    }
}

/// The delay before the next attempt after `failures` wrong ones: 1 s after the fourth, then
/// doubling, at most [`MAX_DELAY_SECS`].
fn delay_secs(failures: i64) -> i64 {
    let over = (failures - FREE_ATTEMPTS).clamp(0, 20);
    (1_i64 << over).min(MAX_DELAY_SECS)
}

/// Reads every accounts document held here, and this station's credentials.
pub(crate) fn load(
    store: &mut crate::store::Store,
    station: &str,
) -> Result<(Directory, std::collections::BTreeMap<String, Secret>)> {
    let (ids, _) = store.docs_of_type(DocType::Accounts)?;
    let mut docs = Vec::with_capacity(ids.len());
    for id in ids {
        match store.read_doc(&id, |d| hydrate_doc::<AccountsDoc>(&id, d)) {
            Ok(Some(doc))
                if doc.schema == ACCOUNTS_SCHEMA
                    && Some(doc.station.as_str()) == crate::account::accounts_station(&id) =>
            {
                docs.push(doc);
            }
            Ok(_) => tracing::warn!(doc = %id, "ignoring an accounts document of another shape"),
            Err(e) => tracing::warn!(doc = %id, "ignoring an unreadable accounts document: {e}"),
        }
    }
    let cred_id = credentials_doc_id(station);
    let secrets = match store.read_doc(&cred_id, |d| hydrate_doc::<CredentialsDoc>(&cred_id, d)) {
        Ok(Some(doc)) if doc.station == station => doc.secrets,
        Ok(_) => Default::default(),
        Err(e) => {
            tracing::warn!("ignoring an unreadable credentials document: {e}");
            Default::default()
        }
    };
    Ok((Directory::from_docs(&docs), secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_three_free_attempts_and_is_capped() {
        assert_eq!(delay_secs(3), 1);
        assert_eq!(delay_secs(4), 2);
        assert_eq!(delay_secs(6), 8);
        assert_eq!(delay_secs(40), MAX_DELAY_SECS);
    }

    #[test]
    fn logins_are_plain_ascii() {
        assert!(validate_login("li.si-01").is_ok());
        assert!(validate_login("李四").is_err());
        assert!(validate_login("").is_err());
        assert!(validate_secret("123").is_err());
        assert!(validate_secret("1234").is_ok());
    }
}
