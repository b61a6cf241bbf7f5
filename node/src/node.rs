//! [`Node`]: one installation's station core — its store, identity and the network documents as
//! last read — and the facade over every operation the command line, the window and sync call.
//!
//! Each public method of `Node` is a line that calls the operation module doing the work
//! ([`crate::ops`]: intake, actions, network edits, membership, derived views and the index);
//! queries live in [`crate::query`], [`crate::inbox`] and [`crate::replica`]. What stays here is
//! opening and creating a store, the cache of the network documents and its refresh.
//!
//! Every operation that changes a case runs in one write transaction: load the document, fold its
//! log, check the action against the transition table, append the event, persist the document and
//! update the index, commit. An operation that returns `Ok` has been committed; one that returns
//! `Err` has written nothing.

use crate::account::{Account, Directory, Secret};
use crate::calendar::{Calendar, YearRule};
use crate::case::action::Action;
use crate::case::deadline::{Deadline, Light};
use crate::case::doc::{CaseDoc, read_case};
use crate::case::fold::CaseState;
use crate::catalog::{Catalog, ServiceItem};
use crate::cert::{Cert, Members};
use crate::clock::Clock;
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::network::{CATALOG_ID, CatalogDoc, Roster, Settings, Station};
use crate::refusal::Refusal;
use crate::station::Tier;
use crate::store::Store;
use crate::store::index;
use chrono::NaiveDate;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) use crate::ops::derived::rebuild_index;
pub use crate::ops::derived::{department_decisions, derive, index_row};
pub(crate) use crate::ops::membership::store_cert;

mod open;

use crate::ops::{self, hydrate_doc, random_bytes};

/// Who this node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Hex Ed25519 public key; also the Automerge actor id of every change this node makes.
    pub node_id: String,
    /// The station this node belongs to.
    pub station: String,
    /// This node's number within its station (used in case numbers).
    pub ordinal: u32,
    /// The network's id.
    pub network_id: String,
}

/// The network documents as this process last read them.
#[derive(Debug)]
pub(crate) struct NetCache {
    pub(crate) seqs: Vec<Option<i64>>,
    pub(crate) certs_version: i64,
    pub(crate) members: Members,
    pub(crate) roster: Roster,
    /// Read on first use ([`Node::catalog`]).
    pub(crate) catalog: OnceCell<Catalog>,
    pub(crate) calendar: Calendar,
    pub(crate) settings: Settings,
    /// The notice templates (issue #15), from the settings document.
    pub(crate) templates: crate::notice::Templates,
    /// Every accounts document held here, read into one directory.
    pub(crate) accounts: Directory,
    /// This station's password hashes by account id (never another station's).
    pub(crate) credentials: BTreeMap<String, Secret>,
    /// The highest `seq` of the accounts documents and the `seq` of this station's credentials
    /// document, as read: `refresh` re-reads them when either moves.
    pub(crate) accounts_seqs: (Option<i64>, Option<i64>),
}

/// A new case as typed in at intake.
#[derive(Debug, Clone, Default)]
pub struct NewCase {
    /// Item code from the catalog.
    pub item_code: String,
    /// Applicant name.
    pub applicant_name: String,
    /// Resident ID number, optional.
    pub id_number: String,
    /// Phone, optional.
    pub phone: String,
    /// Address, optional.
    pub address: String,
    /// Taken in by a proxy agent on the applicant's behalf (代办).
    pub delegated: bool,
    /// The letter of entrustment was recorded (代办).
    pub entrustment: bool,
    /// Materials handed over at intake: to the agent (代办), or at the window when the case is
    /// not delegated (kept as the document's `received`).
    pub handed_over: Vec<String>,
    /// Who is doing the intake: a name typed in at a station without accounts. Once the
    /// station has accounts, the signed-in operator's name is recorded instead.
    pub operator: String,
}

/// A case with everything derived from it, as of `today`.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// The document.
    pub doc: CaseDoc,
    /// The folded state.
    pub state: CaseState,
    /// Deadlines.
    pub deadline: Deadline,
    /// The light today.
    pub light: Option<Light>,
    /// Working days left today (negative when overdue).
    pub remaining: Option<i64>,
    /// The date the view was computed for.
    pub today: NaiveDate,
    /// Working days from acceptance to the decision (办理用时), for a decided case.
    pub handling_days: Option<i64>,
}

/// Parameters of `init`.
#[derive(Debug, Clone)]
pub struct InitParams {
    /// The network's name, e.g. 太原市政务服务网.
    pub network_name: String,
    /// The city station's code.
    pub code: String,
    /// The city station's name.
    pub name: String,
}

impl InitParams {
    /// A network named `network_name` whose city station is `code`, called `name`.
    pub fn new(network_name: &str, code: &str, name: &str) -> InitParams {
        InitParams {
            network_name: network_name.to_string(),
            code: code.to_string(),
            name: name.to_string(),
        }
    }
}

impl Node {
    /// Every account held here: this station's, its descendants' and its ancestors'.
    pub fn accounts(&self) -> &Directory {
        &self.net.accounts
    }

    /// Whether an account has a password at this station.
    pub fn has_password(&self, account_id: &str) -> bool {
        self.net.credentials.contains_key(account_id)
    }

    /// Whether this station needs a signed-in operator: some enabled account of the station has
    /// a password here. Until then (a fresh `init` or `join`) the station is in its first run.
    pub fn needs_sign_in(&self) -> bool {
        self.net
            .accounts
            .of_station(&self.identity.station)
            .iter()
            .any(|a| a.enabled() && self.has_password(&a.id))
    }

    /// The signed-in operator, while the account exists and is enabled.
    pub fn signed_in(&self) -> Option<&Account> {
        let s = self.session.as_ref()?;
        self.net.accounts.get(&s.account).filter(|a| a.enabled())
    }

    /// Who acts now: the signed-in operator; `None` in the station's first run (no accounts
    /// yet); an error when the station has accounts and nobody is signed in.
    pub(crate) fn acting(&self) -> Result<Option<Account>> {
        match self.signed_in() {
            Some(a) => Ok(Some(a.clone())),
            None if self.needs_sign_in() => Err(NodeError::SignInRequired),
            None => Ok(None),
        }
    }

    /// Signs an operator of this station in (password or PIN, checked against the stored
    /// argon2id hash). Wrong attempts are counted and, after three, delayed.
    pub fn sign_in(&mut self, login: &str, secret: &str) -> Result<Account> {
        let session = self.open_session(login, secret)?;
        let account = self
            .net
            .accounts
            .get(&session.account)
            .cloned()
            .ok_or(NodeError::SignInFailed)?;
        self.sign_out();
        self.session = Some(session);
        Ok(account)
    }

    /// Signs the operator out (the window's lock and "switch person").
    pub fn sign_out(&mut self) {
        if let Some(s) = self.session.take() {
            self.sessions.remove(&s.token);
        }
    }

    /// Checks a login and password like [`Node::sign_in`], and returns a session without
    /// changing the node's signed-in operator.
    pub fn open_session(&mut self, login: &str, secret: &str) -> Result<Session> {
        let account = ops::accounts::verify(self, login, secret)?;
        let token = u64::from_le_bytes(random_bytes::<8>()?);
        self.sessions.insert(token);
        Ok(Session {
            account: account.id,
            token,
        })
    }

    /// Runs `f` with `session`'s operator signed in, then restores the node's own.
    pub fn with_session<T>(
        &mut self,
        session: &Session,
        f: impl FnOnce(&mut Node) -> T,
    ) -> Result<T> {
        if !self.sessions.contains(&session.token) {
            return Err(NodeError::SignInRequired);
        }
        let own = self.session.replace(session.clone());
        let out = f(self);
        self.session = own;
        Ok(out)
    }

    /// Creates an operator account (an administrator of the station or of a parent station; in
    /// a station's first run, its first administrator). The password, if given, is for an
    /// account of this station only.
    pub fn add_account(
        &mut self,
        new: &crate::account::NewAccount,
        secret: Option<&str>,
    ) -> Result<Account> {
        ops::accounts::add_account(self, new, secret)
    }

    /// Disables an account (an administrator of its station or of a parent station). Events it
    /// makes after this time, offline elsewhere, are flagged when they arrive.
    pub fn disable_account(&mut self, station: &str, login: &str, reason: &str) -> Result<Account> {
        ops::accounts::disable_account(self, station, login, reason)
    }

    /// A station's consultation phone (本站咨询电话), printed on its receipts, if set.
    pub fn station_phone(&self, station: &str) -> Option<&str> {
        self.net.accounts.station_phone(station)
    }

    /// Sets (or with `None` or an empty text clears) a station's consultation phone (an
    /// administrator of the station or of a parent station; `station` empty: this node's). It
    /// must be a number an applicant can dial: a mobile or a landline with its area code.
    pub fn set_station_phone(&mut self, station: &str, phone: Option<&str>) -> Result<()> {
        ops::accounts::set_station_phone(self, station, phone)
    }

    /// Minutes without input after which the window locks (signs its operator out); a local
    /// setting of this computer, never synced. 10 unless set; 0 never locks.
    pub fn lock_minutes(&self) -> Result<u32> {
        Ok(self
            .store
            .meta("window.lock_minutes")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(10))
    }

    /// Sets [`Node::lock_minutes`] (0 to 240).
    pub fn set_lock_minutes(&mut self, minutes: u32) -> Result<()> {
        if minutes > 240 {
            return Err(NodeError::invalid(
                "lock minutes",
                Invalid::Between { min: 0, max: 240 },
            ));
        }
        self.store
            .write(|wtx| wtx.set_meta("window.lock_minutes", &minutes.to_string()))
    }

    /// Sets the password of an account of this station (its administrator, or the person).
    pub fn set_password(&mut self, login: &str, secret: &str) -> Result<()> {
        ops::accounts::set_password(self, login, secret)
    }

    /// This node's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The clock in use.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Changes the clock (tests, demos and benchmarks that replay days of work).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Today's date in China, by the city's clock as estimated here ([`Node::now_ms`]).
    pub fn today(&self) -> NaiveDate {
        crate::clock::china_date(self.now_ms())
    }

    /// The roster.
    pub fn roster(&self) -> &Roster {
        &self.net.roster
    }

    /// The verified membership certificates.
    pub fn members(&self) -> &Members {
        &self.net.members
    }

    /// The certificate of a node that may take part: known, verified and not revoked.
    pub fn member(&self, node_id: &str) -> Result<&Cert> {
        ops::membership::member(self, node_id)
    }

    /// Verifies and stores certificates (from a peer or an enrolment). Returns how many were new;
    /// certificates that do not verify are returned with why and not stored.
    pub fn add_certs(&mut self, certs: Vec<Cert>) -> Result<(usize, Vec<(Cert, NodeError)>)> {
        ops::membership::add_certs(self, certs)
    }

    /// This node's secret key (for its iroh endpoint). It never leaves the node.
    pub fn secret_key(&self) -> Result<[u8; 32]> {
        ops::membership::secret_key(self)
    }

    /// The catalog, read from the store the first time it is asked for after each change.
    pub fn catalog(&self) -> &Catalog {
        self.net.catalog.get_or_init(|| {
            let read = self.store.read_doc_uncached(CATALOG_ID, |d| {
                hydrate_doc::<CatalogDoc>(CATALOG_ID, d).map(|doc| doc.to_catalog())
            });
            match read {
                Ok(Some(catalog)) => catalog,
                // `open` checked that the document exists; one that went missing or does not
                // read since is reported here and reads as an empty catalog, which takes in
                // nothing, rather than failing every command that shows a case.
                Ok(None) => {
                    tracing::error!("the catalog document is missing");
                    Catalog::default()
                }
                Err(e) => {
                    tracing::error!("the catalog does not read: {e}");
                    Catalog::default()
                }
            }
        })
    }

    /// The calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.net.calendar
    }

    /// The network settings.
    pub fn settings(&self) -> &Settings {
        &self.net.settings
    }

    pub(crate) fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The data directory this node's store lives in.
    pub fn data_dir(&self) -> &Path {
        self.store.path().parent().unwrap_or_else(|| Path::new("."))
    }

    pub(crate) fn store_ref(&self) -> &Store {
        &self.store
    }

    /// This node's station.
    pub fn station(&self) -> Result<&Station> {
        self.net
            .roster
            .station(&self.identity.station)
            .ok_or_else(|| NodeError::UnknownStation(self.identity.station.clone()))
    }

    /// Network documents are edited at the city, by its administrator once the city has
    /// accounts.
    pub(crate) fn require_city(&self, action: &'static str) -> Result<()> {
        if self.station()?.tier() != Tier::City {
            return Err(NodeError::not_allowed(action, Refusal::CityOnly));
        }
        match self.acting()? {
            Some(a) if a.role != Some(crate::role::Role::Admin) => Err(NodeError::not_allowed(
                action,
                Refusal::RoleNeeded {
                    needed: vec![crate::role::Role::Admin],
                    role: a.role.unwrap_or(crate::role::Role::Agent),
                    dept: None,
                },
            )),
            _ => Ok(()),
        }
    }

    /// Adds a station to the roster (city only).
    pub fn add_station(&mut self, station: Station) -> Result<()> {
        ops::network_edit::add_station(self, station)
    }

    /// Replaces the catalog (city only).
    pub fn import_catalog(&mut self, catalog: &Catalog) -> Result<()> {
        ops::network_edit::import_catalog(self, catalog)
    }

    /// Adds an item to the catalog (city only). Its code must be new: the code is what cases
    /// refer to, so an existing item is changed with [`Node::update_item`] instead.
    pub fn add_item(&mut self, item: ServiceItem) -> Result<()> {
        ops::network_edit::add_item(self, item)
    }

    /// Replaces an item of the catalog, found by its code (city only), validated as an import
    /// validates a row. Cases already taken in keep the item as it was at their intake (the case
    /// document holds a copy); only new cases follow the new rules.
    pub fn update_item(&mut self, item: ServiceItem) -> Result<()> {
        ops::network_edit::update_item(self, item)
    }

    /// Retires an item (停用) or brings it back (city only). A retired item stays in the catalog,
    /// so that the cases taken in for it keep its name in lists, filters and statistics, but no
    /// new case is taken in for it.
    pub fn set_item_retired(&mut self, code: &str, retired: bool) -> Result<()> {
        ops::network_edit::set_item_retired(self, code, retired)
    }

    /// Deletes an item from the catalog (city only), which is refused while any case in this
    /// store was taken in for it: those cases would lose the item's name in lists and statistics
    /// and could no longer be filtered by it. Such an item is retired instead
    /// ([`Node::set_item_retired`]). Deleting is meant for an item added by mistake.
    pub fn remove_item(&mut self, code: &str) -> Result<()> {
        ops::network_edit::remove_item(self, code)
    }

    /// How many cases in this store were taken in for the item `code` (from the index).
    pub fn item_case_count(&self, code: &str) -> Result<u64> {
        ops::network_edit::item_case_count(self.store.conn(), code)
    }

    /// Replaces the network settings (city only).
    pub fn set_settings(&mut self, settings: Settings) -> Result<()> {
        ops::network_edit::set_settings(self, settings)
    }

    /// The notice templates (issue #15), as this node last read the settings document.
    pub fn notice_templates(&self) -> &crate::notice::Templates {
        &self.net.templates
    }

    /// Changes one kind's notice template (city only; `None` restores the default). A template
    /// naming an unknown placeholder is refused.
    pub fn set_notice_template(
        &mut self,
        kind: crate::notice::NoticeKind,
        text: Option<&str>,
    ) -> Result<()> {
        ops::notices::set_template(self, kind, text)
    }

    /// How this node delivers notices (local to this machine, never synced).
    pub fn sender_config(&self) -> Result<crate::notice::SenderConfig> {
        ops::notices::sender_config(self)
    }

    /// Sets how this node delivers notices. Notices of events written before keep the sender
    /// chosen when they were written.
    pub fn set_sender_config(&mut self, config: &crate::notice::SenderConfig) -> Result<()> {
        ops::notices::set_sender_config(self, config)
    }

    /// This station's public address for the progress page (receipts print a QR code of it),
    /// local to this machine.
    pub fn public_url(&self) -> Result<Option<String>> {
        ops::notices::public_url(self)
    }

    /// Sets (or with `None` clears) the public address; it must be an `http(s)://` URL.
    pub fn set_public_url(&mut self, url: Option<&str>) -> Result<()> {
        ops::notices::set_public_url(self, url)
    }

    /// The address the window serves the progress page on, if it does (local setting).
    pub fn web_listen(&self) -> Result<Option<String>> {
        ops::notices::web_listen(self)
    }

    /// Sets (or with `None` clears) the address the window serves the progress page on.
    pub fn set_web_listen(&mut self, addr: Option<&str>) -> Result<()> {
        ops::notices::set_web_listen(self, addr)
    }

    /// Queues the staff warnings (临期预警, 超期警告) of the cases whose lights are yellow or
    /// red at the stations this node warns for, each once per case, light and person; returns
    /// how many were new. The notice sender calls it on each pass.
    pub fn queue_light_warnings(&mut self) -> Result<usize> {
        ops::notices::queue_light_warnings(self)
    }

    /// Claims the notices due now for one delivery attempt each, at most `limit`: the attempt
    /// is counted and the next try moved by the backoff (`backoff_base_ms` doubled per attempt)
    /// before the caller sends anything.
    pub fn claim_notices(
        &mut self,
        limit: usize,
        backoff_base_ms: u64,
    ) -> Result<Vec<crate::notice::Notice>> {
        ops::notices::claim(self, limit, backoff_base_ms)
    }

    /// Records how a delivery attempt ended.
    pub fn record_notice(&mut self, id: &str, outcome: &crate::notice::Outcome) -> Result<()> {
        ops::notices::record(self, id, outcome)
    }

    /// Puts a failed notice back in the queue; `false` if it was not failed.
    pub fn retry_notice(&mut self, id: &str) -> Result<bool> {
        ops::notices::retry(self, id)
    }

    /// The notices this node holds for a case (only the node that sends them holds them).
    pub fn case_notices(&self, id_or_number: &str) -> Result<Vec<crate::notice::Notice>> {
        ops::notices::for_case(self, id_or_number)
    }

    /// The newest notices held here, optionally of one state.
    pub fn notices(
        &self,
        state: Option<crate::notice::NoticeState>,
        limit: usize,
    ) -> Result<Vec<crate::notice::Notice>> {
        ops::notices::list(self, state, limit)
    }

    /// How many notices are queued, sent and failed here.
    pub fn outbox_counts(&self) -> Result<crate::notice::OutboxCounts> {
        ops::notices::counts(self)
    }

    /// Replaces the calendar (city only) and rebuilds the index, whose due dates (and whether
    /// they are provisional) depend on it, in the same transaction.
    pub fn set_calendar(&mut self, calendar: &Calendar) -> Result<()> {
        ops::network_edit::set_calendar(self, calendar)
    }

    /// Sets one year's holidays and make-up working days (调休上班) (city only), leaving the
    /// other years as they are; a year not in the calendar yet is added. The rule is validated
    /// as [`Calendar::set_year`] validates it (every date in that year, none both a holiday and a
    /// working day); on error nothing is written. The index is rebuilt, since due dates and
    /// lights depend on the calendar.
    pub fn set_calendar_year(&mut self, year: i32, rule: YearRule) -> Result<()> {
        ops::network_edit::set_calendar_year(self, year, rule)
    }

    /// Takes in one case (收件). Returns the view of the committed case.
    pub fn new_case(&mut self, new: &NewCase) -> Result<CaseView> {
        ops::intake::new_case(self, new)
    }

    /// Takes in many cases in one transaction: all or none.
    pub fn new_cases(&mut self, batch: &[NewCase]) -> Result<Vec<CaseView>> {
        ops::intake::new_cases(self, batch)
    }

    /// Resolves a case id or case number to the case id.
    pub fn resolve(&self, id_or_number: &str) -> Result<String> {
        let key = id_or_number.trim();
        let conn = self.store.conn();
        let found: Option<String> = conn
            .query_row(
                "SELECT doc_id FROM cases WHERE doc_id = ?1 UNION ALL SELECT doc_id FROM cases WHERE number = ?1 LIMIT 1",
                [key],
                |r| r.get(0),
            )
            .ok();
        found.ok_or_else(|| NodeError::CaseNotFound(key.to_string()))
    }

    /// A case with everything derived from it.
    pub fn case(&mut self, id_or_number: &str) -> Result<CaseView> {
        self.refresh()?;
        let id = self.resolve(id_or_number)?;
        let doc = self
            .store
            .read_doc(&id, |d| read_case(d, &id))?
            .ok_or_else(|| NodeError::CaseNotFound(id.clone()))?;
        Ok(derive(
            doc,
            &self.net.calendar,
            &self.net.settings,
            &self.net.accounts,
            self.today(),
        ))
    }
}

impl Node {
    /// Applies an action to a case at this node's station. At a station with accounts the
    /// signed-in operator acts (and `operator` is ignored); in a station's first run, `operator`
    /// is the name recorded.
    pub fn act(&mut self, id_or_number: &str, action: &Action, operator: &str) -> Result<CaseView> {
        ops::actions::act(self, id_or_number, action, operator)
    }

    /// Whether `action` would be allowed now on a case at this node's station, checked exactly as
    /// [`Node::act`] checks it (tier, fields, transition table), without writing anything. The
    /// window uses it to disable what the station may not do and to show the node's reason.
    pub fn check_action(&mut self, id_or_number: &str, action: &Action) -> Result<()> {
        ops::actions::check_action(self, id_or_number, action)
    }

    /// Applies many actions in one transaction, in order: all or none. Several actions on the
    /// same case see each other.
    pub fn act_many(
        &mut self,
        actions: &[(String, Action)],
        operator: &str,
    ) -> Result<Vec<CaseView>> {
        ops::actions::act_many(self, actions, operator)
    }

    /// Rebuilds the whole index from the documents, in one transaction. Returns the number of
    /// cases indexed.
    pub fn reindex(&mut self) -> Result<usize> {
        self.refresh()?;
        let today = self.today();
        let net = &self.net;
        self.store.write(|wtx| {
            rebuild_index(
                wtx,
                &net.calendar,
                &net.settings,
                &net.accounts,
                &net.roster,
                today,
            )
        })
    }

    /// Addresses where this node's `serve` listens, as last recorded (for tickets).
    pub fn listen_addrs(&self) -> Result<Vec<String>> {
        ops::membership::listen_addrs(self)
    }

    /// Records where `serve` listens.
    pub fn set_listen_addrs(&mut self, addrs: &[String]) -> Result<()> {
        ops::membership::set_listen_addrs(self, addrs)
    }

    /// Revokes a node (city only). The revocation travels with the roster and every node refuses
    /// the revoked node from then on.
    pub fn revoke(&mut self, node_id: &str, reason: &str) -> Result<()> {
        ops::membership::revoke(self, node_id, reason)
    }

    /// The node-wide change sequence: the number of document writes so far.
    pub fn seq(&self) -> Result<i64> {
        self.store.seq()
    }

    /// Every index row as text, for comparing a rebuilt index with the live one.
    pub fn index_dump(&self) -> Result<Vec<String>> {
        index::dump(self.store.conn())
    }
}

/// One installation's station core.
#[derive(Debug)]
pub struct Node {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) identity: Identity,
    pub(crate) net: NetCache,
    /// The signed-in operator, for every call that does not name a session.
    pub(crate) session: Option<Session>,
    /// The tokens of every session opened on this node and not closed.
    pub(crate) sessions: std::collections::HashSet<u64>,
}

/// A signed-in operator on one node: what [`Node::sign_in`] keeps as the node's operator, and
/// what [`Node::open_session`] hands out for [`Node::with_session`] (a demo county's stream of
/// work acts as its reviewers while the window shows its clerk). Only the node makes one, after
/// checking the password; it is valid on that node until it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    account: String,
    token: u64,
}

impl Session {
    /// The account's id.
    pub fn account(&self) -> &str {
        &self.account
    }
}
