//! [`Node`]: one installation's station core — its store, identity, network documents and the
//! operations the command line, the window and sync call.
//!
//! Every operation that changes a case runs in one write transaction: load the document, fold its
//! log, check the action against the transition table, append the event, persist the document and
//! update the index, commit. An operation that returns `Ok` has been committed; one that returns
//! `Err` has written nothing.

use crate::calendar::{Calendar, YearRule};
use crate::case::action::Action;
use crate::case::deadline::{Deadline, Light};
use crate::case::doc::{
    Applicant, CASE_SCHEMA, CaseDoc, Delegation, ItemSnapshot, append_event, read_case,
};
use crate::case::fold::{self, CaseState};
use crate::catalog::{
    CaseKind, Catalog, CatalogError, MAX_ITEMS, RowError, RowProblem, ServiceItem,
};
use crate::cert::{Cert, CertBody, Members};
use crate::clock::{Clock, china_date};
use crate::error::{NodeError, Result};
use crate::failpoint;
use crate::idcard::validate_id_number;
use crate::invalid::Invalid;
use crate::network::{
    CALENDAR_ID, CATALOG_ID, CalendarDoc, CatalogDoc, Member, NETWORK_DOC_IDS, ROSTER_ID, Roster,
    SETTINGS_ID, Settings, SettingsDoc, Station, YearDoc, validate_code,
};
use crate::refusal::Refusal;
use crate::station::Tier;
use crate::store::index::{self, IndexRow};
use crate::store::{DocType, Store, WriteTx, Written};
use automerge::Automerge;
use autosurgeon::{Hydrate, Reconcile, hydrate, reconcile};
use chrono::NaiveDate;
use std::cell::OnceCell;
use std::path::Path;

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
struct NetCache {
    seqs: Vec<Option<i64>>,
    certs_version: i64,
    members: Members,
    roster: Roster,
    /// Read on first use ([`Node::catalog`]).
    catalog: OnceCell<Catalog>,
    calendar: Calendar,
    settings: Settings,
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
    /// Materials handed over to the agent (代办).
    pub handed_over: Vec<String>,
    /// Who is doing the intake.
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

fn reconcile_err(e: autosurgeon::ReconcileError) -> NodeError {
    NodeError::CorruptDocument {
        doc: "(writing)".into(),
        reason: e.to_string(),
    }
}

fn hydrate_doc<T: Hydrate>(doc_id: &str, doc: &Automerge) -> Result<T> {
    hydrate(doc).map_err(|e| NodeError::CorruptDocument {
        doc: doc_id.to_string(),
        reason: e.to_string(),
    })
}

fn write_new<T: Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    doc_type: DocType,
    value: &T,
) -> Result<Written> {
    let mut doc = wtx.new_doc();
    let mut tx = doc.transaction();
    reconcile(&mut tx, value).map_err(reconcile_err)?;
    tx.commit();
    wtx.put_doc(doc_id, doc_type, doc, None)
}

/// Loads the network document `doc_id` inside the write transaction, lets `edit` change its
/// stored form, and persists the change. Reading the document here, not from the node's memory,
/// is what keeps concurrent changes: the edit sees everything committed before it, and the
/// reconcile writes only what the edit changed.
fn edit_network<T: Hydrate + Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    edit: impl FnOnce(&mut T) -> Result<()>,
) -> Result<T> {
    edit_network_with(wtx, doc_id, |_, value| edit(value))
}

/// [`edit_network`] for an edit that also reads the transaction (the index, another document).
fn edit_network_with<T: Hydrate + Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    edit: impl FnOnce(&WriteTx<'_>, &mut T) -> Result<()>,
) -> Result<T> {
    let mut doc = wtx
        .take_doc(doc_id)?
        .ok_or_else(|| NodeError::CorruptDocument {
            doc: doc_id.to_string(),
            reason: "the network document is missing".into(),
        })?;
    let mut value: T = hydrate_doc(doc_id, &doc)?;
    edit(wtx, &mut value)?;
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    reconcile(&mut tx, &value).map_err(reconcile_err)?;
    tx.commit();
    wtx.put_doc(doc_id, DocType::Network, doc, Some(&before))?;
    Ok(value)
}

/// Reads a network document inside the write transaction, without changing it.
fn read_network<T: Hydrate>(wtx: &WriteTx<'_>, doc_id: &str) -> Result<T> {
    wtx.with_doc_uncached(doc_id, |d| hydrate_doc(doc_id, d))
}

/// Adds to a roster the stations known only from certificates (enrolled by a township while the
/// city was out of reach), as every view of the roster does.
fn adopt_stations(roster: &mut Roster, members: &Members) {
    for st in members.stations() {
        roster
            .stations
            .entry(st.code.clone())
            .or_insert_with(|| st.clone());
    }
}

/// Validates one item as an import validates a row and stores it in the catalog document.
fn put_checked(doc: &mut CatalogDoc, item: &ServiceItem) -> Result<()> {
    let problems = Catalog::check_item(item);
    if !problems.is_empty() {
        return Err(CatalogError::Rows(problems).into());
    }
    doc.put_item(item);
    Ok(())
}

fn item_case_count(conn: &rusqlite::Connection, code: &str) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM cases WHERE item_code = ?1",
        [code],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Rebuilds the index inside the transaction from the calendar, settings and roster as stored
/// in it (after this transaction's own writes).
fn reindex_in(wtx: &mut WriteTx<'_>, members: &Members, today: NaiveDate) -> Result<()> {
    let (calendar, _) = read_network::<CalendarDoc>(wtx, CALENDAR_ID)?.to_calendar();
    let settings = read_network::<SettingsDoc>(wtx, SETTINGS_ID)?.settings;
    let mut roster: Roster = read_network(wtx, ROSTER_ID)?;
    adopt_stations(&mut roster, members);
    rebuild_index(wtx, &calendar, &settings, &roster, today).map(|_| ())
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| NodeError::Io {
        path: "(system random source)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(b)
}

fn new_uuid() -> Result<String> {
    Ok(uuid::Builder::from_random_bytes(random_bytes::<16>()?)
        .into_uuid()
        .to_string())
}

fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    if value.chars().count() > max_chars {
        return Err(NodeError::invalid(
            field,
            Invalid::TooLong { max: max_chars },
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NodeError::invalid(field, Invalid::ControlCharacters));
    }
    Ok(())
}

fn validate_phone(phone: &str) -> Result<()> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let ok_chars = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
    if !ok_chars || !(5..=20).contains(&digits) {
        return Err(NodeError::invalid(
            "phone",
            Invalid::PhoneDigits { min: 5, max: 20 },
        ));
    }
    Ok(())
}

impl Node {
    /// Creates a new network in `dir`, with this node as its city station.
    pub fn init(dir: &Path, clock: Clock, params: &InitParams) -> Result<Node> {
        validate_code("code", &params.code)?;
        if params.name.trim().is_empty() {
            return Err(NodeError::invalid("name", Invalid::StationNameEmpty));
        }
        if params.network_name.trim().is_empty() {
            return Err(NodeError::invalid("network", Invalid::NetworkNameEmpty));
        }
        check_text("name", &params.name, 100)?;
        check_text("network", &params.network_name, 100)?;
        let secret = random_bytes::<32>()?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
        let public = signing.verifying_key().to_bytes();
        let node_id = hex::encode(public);
        let network_id = new_uuid()?;
        let root_secret = random_bytes::<32>()?;
        let root = ed25519_dalek::SigningKey::from_bytes(&root_secret);
        let root_key = hex::encode(root.verifying_key().to_bytes());
        let city = Station {
            code: params.code.clone(),
            name: params.name.trim().to_string(),
            tier: Tier::City,
            parent: String::new(),
        };
        let cert = Cert::issue(
            &root,
            CertBody {
                network_id: network_id.clone(),
                node_id: node_id.clone(),
                station: city.clone(),
                ordinal: 1,
                issuer: String::new(),
                issued_at: clock.now_ms(),
            },
        );
        let now = clock.now_ms();
        let mut roster = Roster::new(
            network_id.clone(),
            params.network_name.trim().to_string(),
            root_key.clone(),
            city,
        );
        roster.members.insert(
            node_id.clone(),
            Member {
                node_id: node_id.clone(),
                station: params.code.clone(),
                ordinal: 1,
                joined_at: now,
            },
        );
        Store::create_with(dir, automerge::ActorId::from(public.to_vec()), |wtx| {
            wtx.set_meta("node_id", &node_id)?;
            wtx.set_meta("secret_key", &hex::encode(secret))?;
            wtx.set_meta("station", &params.code)?;
            wtx.set_meta("ordinal", "1")?;
            wtx.set_meta("network_id", &network_id)?;
            wtx.set_meta("root_key", &root_key)?;
            // The root key stays with the first city node; it certifies further city nodes.
            wtx.set_meta("root_secret", &hex::encode(root_secret))?;
            store_cert(wtx, &cert)?;
            write_new(wtx, ROSTER_ID, DocType::Network, &roster)?;
            write_new(
                wtx,
                CATALOG_ID,
                DocType::Network,
                &CatalogDoc::from_catalog(&Catalog::default_catalog()),
            )?;
            write_new(
                wtx,
                CALENDAR_ID,
                DocType::Network,
                &CalendarDoc::from_calendar(&Calendar::builtin()),
            )?;
            write_new(
                wtx,
                SETTINGS_ID,
                DocType::Network,
                &SettingsDoc {
                    schema: "yizhan/settings/1".into(),
                    settings: Settings::default(),
                },
            )?;
            Ok(())
        })?;
        Node::open(dir, clock)
    }

    /// Opens the node in `dir`.
    pub fn open(dir: &Path, clock: Clock) -> Result<Node> {
        let mut store = Store::open(dir)?;
        let meta = |store: &Store, key: &str| -> Result<String> {
            store.meta(key)?.ok_or_else(|| NodeError::NotAStore {
                path: store.path().to_path_buf(),
                reason: format!("its meta table has no {key}"),
            })
        };
        let identity = Identity {
            node_id: meta(&store, "node_id")?,
            station: meta(&store, "station")?,
            ordinal: meta(&store, "ordinal")?.parse().unwrap_or(1),
            network_id: meta(&store, "network_id")?,
        };
        let net = Node::load_net(&mut store)?;
        let mut node = Node {
            store,
            clock,
            identity,
            net,
        };
        // A migration that added derived data only the documents can give (schema 5: the search
        // keys; schema 6: the provisional flags) asks for one rebuild of the index.
        let stale = node.store.meta(INDEX_BASIS)?
            != Some(index_basis(&node.net.calendar, &node.net.settings));
        let why = match node.store.meta("reindex")? {
            Some(why) => Some(why),
            None if stale => {
                Some("the index was computed from another calendar or settings".into())
            }
            None => None,
        };
        if let Some(why) = why {
            tracing::info!("rebuilding the case index once after an upgrade: {why}");
            let started = std::time::Instant::now();
            let cases = node.reindex()?;
            tracing::info!(
                cases,
                seconds = started.elapsed().as_secs_f64(),
                "case index rebuilt"
            );
        }
        Ok(node)
    }

    fn load_net(store: &mut Store) -> Result<NetCache> {
        let seqs = store.doc_seqs(&NETWORK_DOC_IDS)?;
        let certs_version = store.counter("certs")?;
        let missing = |id: &str| NodeError::CorruptDocument {
            doc: id.to_string(),
            reason: "missing".into(),
        };
        let mut roster: Roster = store
            .read_doc(ROSTER_ID, |d| hydrate_doc(ROSTER_ID, d))?
            .ok_or_else(|| missing(ROSTER_ID))?;
        let mut members = Members::new(&roster.network_id, &roster.root_key);
        for (cert, err) in members.add_all(store.certs()?) {
            tracing::warn!(node = %crate::cert::short(&cert.body.node_id), "ignoring a stored certificate: {err}");
        }
        // Stations enrolled by a township while the city was out of reach are known from their
        // certificates before the city adds them to the roster.
        adopt_stations(&mut roster, &members);
        // The catalog is read when first used (intake, the catalog screens), not here: its
        // size (thousands of items) would otherwise be paid by every command that opens the node.
        if store.doc_seqs(&[CATALOG_ID])?[0].is_none() {
            return Err(missing(CATALOG_ID));
        }
        let (calendar, problems) = store
            .read_doc(CALENDAR_ID, |d| hydrate_doc::<CalendarDoc>(CALENDAR_ID, d))?
            .ok_or_else(|| missing(CALENDAR_ID))?
            .to_calendar();
        for p in problems {
            tracing::warn!("{p}");
        }
        let settings = store
            .read_doc(SETTINGS_ID, |d| hydrate_doc::<SettingsDoc>(SETTINGS_ID, d))?
            .ok_or_else(|| missing(SETTINGS_ID))?
            .settings;
        Ok(NetCache {
            seqs,
            certs_version,
            members,
            roster,
            catalog: OnceCell::new(),
            calendar,
            settings,
        })
    }

    /// Re-reads the network documents if another process (or sync) changed them.
    pub fn refresh(&mut self) -> Result<()> {
        if self.store.doc_seqs(&NETWORK_DOC_IDS)? != self.net.seqs
            || self.store.counter("certs")? != self.net.certs_version
        {
            self.net = Node::load_net(&mut self.store)?;
        }
        Ok(())
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

    /// Today's date in China.
    pub fn today(&self) -> NaiveDate {
        self.clock.today()
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
        if self.net.roster.is_revoked(node_id) {
            return Err(NodeError::BadCertificate(format!(
                "node {} has been revoked",
                crate::cert::short(node_id)
            )));
        }
        self.net.members.get(node_id).ok_or_else(|| {
            NodeError::BadCertificate(format!(
                "node {} is not a member",
                crate::cert::short(node_id)
            ))
        })
    }

    /// Verifies and stores certificates (from a peer or an enrolment). Returns how many were new;
    /// certificates that do not verify are returned with why and not stored.
    pub fn add_certs(&mut self, certs: Vec<Cert>) -> Result<(usize, Vec<(Cert, NodeError)>)> {
        self.refresh()?;
        let mut members = self.net.members.clone();
        let before = members.certs().len();
        let failed = members.add_all(certs);
        let added: Vec<Cert> = members
            .certs()
            .values()
            .filter(|c| self.net.members.get(&c.body.node_id) != Some(*c))
            .cloned()
            .collect();
        if !added.is_empty() {
            self.store.write(|wtx| {
                for c in &added {
                    store_cert(wtx, c)?;
                }
                Ok(())
            })?;
            self.refresh()?;
        }
        Ok((members.certs().len() - before, failed))
    }

    /// This node's secret key (for its iroh endpoint). It never leaves the node.
    pub fn secret_key(&self) -> Result<[u8; 32]> {
        let hex_key = self
            .store
            .meta("secret_key")?
            .ok_or_else(|| NodeError::NotAStore {
                path: self.store.path().to_path_buf(),
                reason: "it has no secret key".into(),
            })?;
        hex::decode(hex_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| NodeError::NotAStore {
                path: self.store.path().to_path_buf(),
                reason: "its secret key is malformed".into(),
            })
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

    /// The store (for sync and diagnostics).
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
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

    fn require_city(&self, action: &'static str) -> Result<()> {
        if self.station()?.tier() == Tier::City {
            Ok(())
        } else {
            Err(NodeError::not_allowed(action, Refusal::CityOnly))
        }
    }

    /// Adds a station to the roster (city only).
    pub fn add_station(&mut self, station: Station) -> Result<()> {
        self.refresh()?;
        self.require_city("station add")?;
        check_text("name", &station.name, 100)?;
        let members = &self.net.members;
        failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
        self.store.write(|wtx| {
            edit_network(wtx, ROSTER_ID, |roster: &mut Roster| {
                // The city adopts into the roster the stations it knows from certificates.
                adopt_stations(roster, members);
                roster.add_station(station)
            })
            .map(|_| ())
        })?;
        self.refresh()
    }

    /// Replaces the catalog (city only).
    pub fn import_catalog(&mut self, catalog: &Catalog) -> Result<()> {
        if catalog.is_empty() || catalog.len() > MAX_ITEMS {
            self.refresh()?;
            self.require_city("catalog import")?;
            return Err(if catalog.is_empty() {
                CatalogError::Empty
            } else {
                CatalogError::TooManyItems {
                    found: catalog.len(),
                    max: MAX_ITEMS,
                }
            }
            .into());
        }
        self.edit_catalog("catalog import", |_, doc| {
            *doc = CatalogDoc::from_catalog(catalog);
            Ok(())
        })
    }

    /// Adds an item to the catalog (city only). Its code must be new: the code is what cases
    /// refer to, so an existing item is changed with [`Node::update_item`] instead.
    pub fn add_item(&mut self, item: ServiceItem) -> Result<()> {
        self.edit_catalog("catalog edit", |_, doc| {
            if doc.contains(&item.code) {
                return Err(CatalogError::Rows(vec![RowError {
                    row: 1,
                    field: "code".into(),
                    problem: RowProblem::AlreadyInCatalog(item.code.clone()),
                }])
                .into());
            }
            put_checked(doc, &item)
        })
    }

    /// Replaces an item of the catalog, found by its code (city only), validated as an import
    /// validates a row. Cases already taken in keep the item as it was at their intake (the case
    /// document holds a copy); only new cases follow the new rules.
    pub fn update_item(&mut self, item: ServiceItem) -> Result<()> {
        self.edit_catalog("catalog edit", |_, doc| {
            if doc.item(&item.code).is_none() {
                return Err(NodeError::UnknownItem(item.code.clone()));
            }
            put_checked(doc, &item)
        })
    }

    /// Retires an item (停用) or brings it back (city only). A retired item stays in the catalog,
    /// so that the cases taken in for it keep its name in lists, filters and statistics, but no
    /// new case is taken in for it.
    pub fn set_item_retired(&mut self, code: &str, retired: bool) -> Result<()> {
        self.edit_catalog("catalog edit", |_, doc| {
            let mut item = doc
                .item(code)
                .ok_or_else(|| NodeError::UnknownItem(code.to_string()))?;
            item.retired = retired;
            put_checked(doc, &item)
        })
    }

    /// Deletes an item from the catalog (city only), which is refused while any case in this
    /// store was taken in for it: those cases would lose the item's name in lists and statistics
    /// and could no longer be filtered by it. Such an item is retired instead
    /// ([`Node::set_item_retired`]). Deleting is meant for an item added by mistake.
    pub fn remove_item(&mut self, code: &str) -> Result<()> {
        self.edit_catalog("catalog edit", |wtx, doc| {
            if doc.item(code).is_none() {
                return Err(NodeError::UnknownItem(code.to_string()));
            }
            // Counted inside the transaction, so that a deletion never races an intake made
            // beside this process.
            let cases = item_case_count(wtx.sql(), code)?;
            if cases > 0 {
                return Err(NodeError::not_allowed(
                    "catalog edit",
                    Refusal::ItemInUse {
                        code: code.to_string(),
                        cases,
                    },
                ));
            }
            doc.remove_item(code);
            if doc.to_catalog().is_empty() {
                return Err(CatalogError::Empty.into());
            }
            Ok(())
        })
    }

    /// How many cases in this store were taken in for the item `code` (from the index).
    pub fn item_case_count(&self, code: &str) -> Result<u64> {
        item_case_count(self.store.conn(), code)
    }

    /// Edits the catalog document as stored, inside the write transaction (city only): the edit
    /// sees every item committed before it, including one that sync or another process on this
    /// data directory added after this process last read the catalog, and changes only what it
    /// means to change.
    fn edit_catalog(
        &mut self,
        action: &'static str,
        edit: impl FnOnce(&WriteTx<'_>, &mut CatalogDoc) -> Result<()>,
    ) -> Result<()> {
        self.refresh()?;
        self.require_city(action)?;
        failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
        self.store
            .write(|wtx| edit_network_with(wtx, CATALOG_ID, edit).map(|_| ()))?;
        self.refresh()
    }

    /// Replaces the network settings (city only).
    pub fn set_settings(&mut self, settings: Settings) -> Result<()> {
        self.refresh()?;
        self.require_city("settings")?;
        settings.validate()?;
        let today = self.today();
        let members = &self.net.members;
        failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
        // Yellow thresholds are stored in the index; it is rebuilt in the same transaction so
        // that lists agree with the fold even if the process stops right after.
        self.store.write(|wtx| {
            edit_network(wtx, SETTINGS_ID, |doc: &mut SettingsDoc| {
                doc.settings = settings;
                Ok(())
            })?;
            reindex_in(wtx, members, today)
        })?;
        self.refresh()
    }

    /// Replaces the calendar (city only) and rebuilds the index, whose due dates (and whether
    /// they are provisional) depend on it, in the same transaction.
    pub fn set_calendar(&mut self, calendar: &Calendar) -> Result<()> {
        self.edit_calendar(|doc| {
            *doc = CalendarDoc::from_calendar(calendar);
            Ok(())
        })
    }

    /// Sets one year's holidays and make-up working days (调休上班) (city only), leaving the
    /// other years as they are; a year not in the calendar yet is added. The rule is validated
    /// as [`Calendar::set_year`] validates it (every date in that year, none both a holiday and a
    /// working day); on error nothing is written. The index is rebuilt, since due dates and
    /// lights depend on the calendar.
    pub fn set_calendar_year(&mut self, year: i32, rule: YearRule) -> Result<()> {
        self.edit_calendar(|doc| {
            let (mut calendar, _) = doc.to_calendar();
            calendar.set_year(year, rule)?;
            // The rule as validated and normalised; only this year's entry of the stored
            // document changes.
            if let Some(normalised) = calendar.years().get(&year) {
                doc.years
                    .insert(year.to_string(), YearDoc::from_rule(normalised));
            }
            Ok(())
        })
    }

    /// Edits the calendar document as stored, inside the write transaction (city only), and
    /// rebuilds the index from what the stored document reads back as (a rule that does not
    /// validate falls back to the built-in one), so that the index follows exactly what every
    /// node will read.
    fn edit_calendar(&mut self, edit: impl FnOnce(&mut CalendarDoc) -> Result<()>) -> Result<()> {
        self.refresh()?;
        self.require_city("calendar")?;
        let today = self.today();
        let members = &self.net.members;
        failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
        self.store.write(|wtx| {
            edit_network(wtx, CALENDAR_ID, edit)?;
            reindex_in(wtx, members, today)
        })?;
        self.refresh()
    }

    fn validate_new(&self, new: &NewCase) -> Result<ItemSnapshot> {
        let item = self
            .catalog()
            .get(new.item_code.trim())
            .ok_or_else(|| NodeError::UnknownItem(new.item_code.clone()))?;
        if item.retired {
            return Err(NodeError::not_allowed(
                "intake",
                Refusal::ItemRetired {
                    code: item.code.clone(),
                    name: item.name.clone(),
                },
            ));
        }
        let name = new.applicant_name.trim();
        if name.is_empty() {
            return Err(NodeError::invalid("applicant name", Invalid::Empty));
        }
        check_text("applicant name", name, 64)?;
        if !new.id_number.trim().is_empty() {
            validate_id_number(new.id_number.trim())
                .map_err(|e| NodeError::invalid("ID number", Invalid::IdNumber(e)))?;
        }
        if !new.phone.trim().is_empty() {
            validate_phone(new.phone.trim())?;
        }
        check_text("address", &new.address, 200)?;
        check_text("operator", &new.operator, 64)?;
        for m in &new.handed_over {
            check_text("materials handed over", m, 100)?;
        }
        if !new.delegated && (new.entrustment || !new.handed_over.is_empty()) {
            return Err(NodeError::invalid("delegation", Invalid::NotDelegated));
        }
        Ok(ItemSnapshot {
            code: item.code.clone(),
            name: item.name.clone(),
            kind: item.kind.as_str().to_string(),
            legal_days: item.legal_days,
            promised_days: item.promised_days,
            tier: item.tier.as_str().to_string(),
            materials: item.materials.clone(),
            departments: item.departments.clone(),
        })
    }

    /// Takes in one case (收件). Returns the view of the committed case.
    pub fn new_case(&mut self, new: &NewCase) -> Result<CaseView> {
        let mut views = self.new_cases(std::slice::from_ref(new))?;
        views
            .pop()
            .ok_or_else(|| NodeError::invalid("case", Invalid::NothingCreated))
    }

    /// Takes in many cases in one transaction: all or none.
    pub fn new_cases(&mut self, batch: &[NewCase]) -> Result<Vec<CaseView>> {
        self.refresh()?;
        let items = batch
            .iter()
            .map(|n| self.validate_new(n))
            .collect::<Result<Vec<_>>>()?;
        let now = self.clock.now_ms();
        let today = china_date(now);
        let ident = self.identity.clone();
        let net = &self.net;
        self.store.write(|wtx| {
            let day = today.format("%y%m%d").to_string();
            let mut counter: u64 = match wtx.meta("number_day")? {
                Some(d) if d == day => wtx
                    .meta("number_counter")?
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                _ => 0,
            };
            let mut views = Vec::with_capacity(batch.len());
            for (new, item) in batch.iter().zip(items) {
                counter += 1;
                let doc = CaseDoc {
                    schema: CASE_SCHEMA.into(),
                    id: new_uuid()?,
                    number: format!("{}-{}-{}-{:03}", ident.station, day, ident.ordinal, counter),
                    created_at: now,
                    origin: ident.station.clone(),
                    origin_node: ident.node_id.clone(),
                    item,
                    applicant: Applicant {
                        name: new.applicant_name.trim().to_string(),
                        id_number: new.id_number.trim().to_uppercase(),
                        phone: new.phone.trim().to_string(),
                        address: new.address.trim().to_string(),
                    },
                    delegation: new.delegated.then(|| Delegation {
                        agent: new.operator.trim().to_string(),
                        entrustment: new.entrustment,
                        handed_over: new.handed_over.clone(),
                    }),
                    events: Vec::new(),
                };
                write_new(wtx, &doc.id, DocType::Case, &doc)?;
                let view = derive(doc, &net.calendar, &net.settings, today);
                index::upsert(wtx.sql(), &index_row(&view, &net.roster))?;
                views.push(view);
            }
            wtx.set_meta("number_day", &day)?;
            wtx.set_meta("number_counter", &counter.to_string())?;
            Ok(views)
        })
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
            self.today(),
        ))
    }
}

/// Checks what only this node knows (the roster, its tier) before the transition table runs.
fn check_local(
    net: &NetCache,
    ident: &Identity,
    doc: &CaseDoc,
    state: &CaseState,
    action: &Action,
) -> Result<()> {
    {
        let me = net
            .roster
            .station(&ident.station)
            .ok_or_else(|| NodeError::UnknownStation(ident.station.clone()))?;
        match action {
            // The tier that handles the item accepts and decides it, also after a forward.
            Action::Accept
            | Action::AcceptWithGaps { .. }
            | Action::Refuse { .. }
            | Action::Approve { .. }
            | Action::Reject { .. }
            | Action::Complete
            | Action::Decline { .. } => {
                // The case's copy of the item is parsed here, where a decision depends on it;
                // an unknown tier (a document from a newer version) is refused, never guessed.
                let item_tier: Tier =
                    doc.item
                        .tier
                        .parse()
                        .map_err(|e: Invalid| NodeError::CorruptDocument {
                            doc: doc.id.clone(),
                            reason: format!("item tier: {e}"),
                        })?;
                if state.holder == me.code && me.tier() != item_tier {
                    return Err(NodeError::not_allowed(
                        action.kind(),
                        Refusal::WrongTier {
                            item_code: doc.item.code.clone(),
                            item_name: doc.item.name.clone(),
                            item_tier,
                            here: me.tier(),
                        },
                    ));
                }
            }
            Action::Forward { to } if net.roster.station(to).is_none() => {
                return Err(NodeError::UnknownStation(to.clone()));
            }
            Action::Consult { with, minutes, .. } => {
                if net.roster.station(with).is_none() {
                    return Err(NodeError::UnknownStation(with.clone()));
                }
                if *minutes == 0 || *minutes > 600 {
                    return Err(NodeError::invalid(
                        "minutes",
                        Invalid::Between { min: 1, max: 600 },
                    ));
                }
            }
            Action::Rate { level, .. } if !(1..=5).contains(level) => {
                return Err(NodeError::invalid("level", Invalid::RatingLevel));
            }
            _ => {}
        }
        let texts: Vec<(&'static str, &str)> = match action {
            Action::Refuse { reason }
            | Action::Suspend { reason }
            | Action::Decline { reason }
            | Action::Reject { reason, .. } => {
                vec![("reason", reason.as_str())]
            }
            Action::Note { text } => vec![("text", text.as_str())],
            Action::Settle { note } => vec![("note", note.as_str())],
            Action::FollowUp { summary } | Action::Consult { summary, .. } => {
                vec![("summary", summary.as_str())]
            }
            Action::Rate { comment, .. } => vec![("comment", comment.as_str())],
            Action::AcceptWithGaps { promise, .. } => vec![("promise", promise.as_str())],
            _ => vec![],
        };
        for (field, text) in texts {
            check_text(field, text, 2000)?;
        }
        if matches!(
            action,
            Action::Refuse { .. } | Action::Reject { .. } | Action::Decline { .. }
        ) && texts_empty(action)
        {
            return Err(NodeError::invalid("reason", Invalid::ReasonNeeded));
        }
        Ok(())
    }
}

impl Node {
    /// Applies an action to a case at this node's station, as `operator`.
    pub fn act(&mut self, id_or_number: &str, action: &Action, operator: &str) -> Result<CaseView> {
        let mut views = self.act_many(&[(id_or_number.to_string(), action.clone())], operator)?;
        views
            .pop()
            .ok_or_else(|| NodeError::CaseNotFound(id_or_number.to_string()))
    }

    /// Whether `action` would be allowed now on a case at this node's station, checked exactly as
    /// [`Node::act`] checks it (tier, fields, transition table), without writing anything. The
    /// window uses it to disable what the station may not do and to show the node's reason.
    pub fn check_action(&mut self, id_or_number: &str, action: &Action) -> Result<()> {
        let view = self.case(id_or_number)?;
        check_local(&self.net, &self.identity, &view.doc, &view.state, action)?;
        let event = view.doc.next_event(
            &view.state,
            action,
            "(check)".to_string(),
            self.clock.now_ms(),
            &self.identity.station,
            &self.identity.node_id,
            "",
        );
        fold::check(&view.state, &view.doc.item, &event, action)
            .map_err(|why| NodeError::not_allowed(action.kind(), why))
    }

    /// Applies many actions in one transaction, in order: all or none. Several actions on the
    /// same case see each other.
    pub fn act_many(
        &mut self,
        actions: &[(String, Action)],
        operator: &str,
    ) -> Result<Vec<CaseView>> {
        self.refresh()?;
        check_text("operator", operator, 64)?;
        let ids = actions
            .iter()
            .map(|(key, _)| self.resolve(key))
            .collect::<Result<Vec<_>>>()?;
        let now = self.clock.now_ms();
        let ident = self.identity.clone();
        let today = self.today();
        let net = &self.net;
        self.store.write(|wtx| {
            let mut views = Vec::with_capacity(actions.len());
            for (id, (_, action)) in ids.iter().zip(actions) {
                let mut am = wtx
                    .take_doc(id)?
                    .ok_or_else(|| NodeError::CaseNotFound(id.clone()))?;
                let mut doc = read_case(&am, id)?;
                let state = fold::fold(&doc);
                check_local(net, &ident, &doc, &state, action)?;
                let event = doc.next_event(
                    &state,
                    action,
                    new_uuid()?,
                    now,
                    &ident.station,
                    &ident.node_id,
                    operator,
                );
                fold::check(&state, &doc.item, &event, action)
                    .map_err(|why| NodeError::not_allowed(action.kind(), why))?;
                let before = am.get_heads();
                append_event(&mut am, id, &event)?;
                wtx.put_doc(id, DocType::Case, am, Some(&before))?;
                doc.events.push(event);
                let view = derive(doc, &net.calendar, &net.settings, today);
                index::upsert(wtx.sql(), &index_row(&view, &net.roster))?;
                views.push(view);
            }
            Ok(views)
        })
    }

    /// Rebuilds the whole index from the documents, in one transaction. Returns the number of
    /// cases indexed.
    pub fn reindex(&mut self) -> Result<usize> {
        self.refresh()?;
        let today = self.today();
        let net = &self.net;
        self.store
            .write(|wtx| rebuild_index(wtx, &net.calendar, &net.settings, &net.roster, today))
    }

    /// Addresses where this node's `serve` listens, as last recorded (for tickets).
    pub fn listen_addrs(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .meta("listen_addrs")?
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Records where `serve` listens.
    pub fn set_listen_addrs(&mut self, addrs: &[String]) -> Result<()> {
        self.store
            .write(|wtx| wtx.set_meta("listen_addrs", &addrs.join(",")))
    }

    /// Revokes a node (city only). The revocation travels with the roster and every node refuses
    /// the revoked node from then on.
    pub fn revoke(&mut self, node_id: &str, reason: &str) -> Result<()> {
        self.refresh()?;
        crate::cert::parse_key(node_id)
            .map_err(|_| NodeError::invalid("node id", Invalid::NotANodeId))?;
        if node_id == self.identity.node_id {
            return Err(NodeError::invalid("node id", Invalid::RevokeSelf));
        }
        if self.net.members.get(node_id).is_none() && !self.net.roster.members.contains_key(node_id)
        {
            return Err(NodeError::invalid(
                "node id",
                Invalid::NotAMember(crate::cert::short(node_id).to_string()),
            ));
        }
        check_text("reason", reason, 500)?;
        let me = self.station()?.clone();
        match me.tier() {
            Tier::City => {}
            // A township revokes the nodes it is the parent of, and changes nothing else.
            Tier::Township => {
                let target = self
                    .net
                    .members
                    .get(node_id)
                    .map(|c| c.body.station.clone());
                match target {
                    Some(st) if st.code == me.code || st.parent == me.code => {}
                    _ => {
                        return Err(NodeError::not_allowed(
                            "revoke",
                            Refusal::TownshipRevokeScope,
                        ));
                    }
                }
            }
            Tier::Village => {
                return Err(NodeError::not_allowed(
                    "revoke",
                    Refusal::VillageMayNotRevoke,
                ));
            }
        }
        let revocation = crate::network::Revocation {
            by: self.identity.node_id.clone(),
            at: self.clock.now_ms(),
            reason: reason.to_string(),
        };
        let members = &self.net.members;
        failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
        self.store.write(|wtx| {
            edit_network(wtx, ROSTER_ID, |roster: &mut Roster| {
                // The city adopts into the roster the stations it knows from certificates, as it
                // does when adding a station; a township changes nothing but the revocation.
                if me.tier() == Tier::City {
                    adopt_stations(roster, members);
                }
                roster.revoked.insert(node_id.to_string(), revocation);
                Ok(())
            })
            .map(|_| ())
        })?;
        self.refresh()
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

fn texts_empty(action: &Action) -> bool {
    match action {
        Action::Refuse { reason } | Action::Reject { reason, .. } | Action::Decline { reason } => {
            reason.trim().is_empty()
        }
        _ => false,
    }
}

/// One installation's station core.
#[derive(Debug)]
pub struct Node {
    store: Store,
    clock: Clock,
    identity: Identity,
    net: NetCache,
}

/// Rebuilds the whole index inside the caller's transaction, with the given network documents
/// (which may be the ones this transaction is writing, so that a calendar or settings change and
/// the due dates and thresholds that follow from it commit together). Returns the number of
/// cases indexed.
pub(crate) fn rebuild_index(
    wtx: &mut WriteTx<'_>,
    calendar: &Calendar,
    settings: &Settings,
    roster: &Roster,
    today: NaiveDate,
) -> Result<usize> {
    if failpoint::hit(failpoint::SKIP_REINDEX) {
        return Ok(0);
    }
    let ids = {
        let mut stmt = wtx
            .sql()
            .prepare("SELECT doc_id FROM docs WHERE doc_type = ?1 ORDER BY doc_id")?;
        stmt.query_map([DocType::Case.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    index::clear(wtx.sql())?;
    for id in &ids {
        let doc = wtx.with_doc_uncached(id, |am| read_case(am, id))?;
        let view = derive(doc, calendar, settings, today);
        index::upsert(wtx.sql(), &index_row(&view, roster))?;
    }
    wtx.sql()
        .execute("DELETE FROM meta WHERE key = 'reindex'", [])?;
    wtx.set_meta(INDEX_BASIS, &index_basis(calendar, settings))?;
    Ok(ids.len())
}

/// The meta key recording what the index was computed from ([`index_basis`]).
const INDEX_BASIS: &str = "index_basis";

/// A fingerprint of the calendar and settings that due dates, provisional flags and yellow
/// thresholds are computed from. [`rebuild_index`] records it in the transaction that rebuilds the
/// index; [`Node::open`] compares it with the documents as they read now and rebuilds when they
/// differ, so that an index left behind by an interrupted rebuild (a crash, a sync that committed
/// the calendar but not the rebuild after it) never outlives a restart.
fn index_basis(calendar: &Calendar, settings: &Settings) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for (year, rule) in calendar.years() {
        h.update(format!("y{year}:"));
        for d in &rule.holidays {
            h.update(format!("h{d}"));
        }
        for d in &rule.workdays {
            h.update(format!("w{d}"));
        }
        h.update(";");
    }
    h.update(format!(
        "s{}/{}",
        settings.yellow_percent, settings.follow_up_days
    ));
    hex::encode(h.finalize())
}

/// Stores a verified certificate and bumps the `certs` counter so other processes re-read them.
pub(crate) fn store_cert(wtx: &mut WriteTx<'_>, cert: &Cert) -> Result<()> {
    wtx.sql().execute(
        "INSERT OR REPLACE INTO certs (node_id, station, cert) VALUES (?1, ?2, ?3)",
        rusqlite::params![cert.body.node_id, cert.body.station.code, cert.to_json()],
    )?;
    wtx.sql().execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'certs'",
        [],
    )?;
    Ok(())
}

/// Folds a document and computes its deadlines and light for `today`.
pub fn derive(
    doc: CaseDoc,
    calendar: &Calendar,
    settings: &Settings,
    today: NaiveDate,
) -> CaseView {
    let state = fold::fold(&doc);
    let kind = CaseKind::parse(&doc.item.kind).unwrap_or(CaseKind::Promised);
    let deadline = Deadline::compute(
        &state,
        kind,
        doc.item.promised_days,
        doc.item.legal_days,
        calendar,
        settings,
    );
    let light = deadline.light(today);
    let remaining = deadline.remaining(calendar, today);
    CaseView {
        doc,
        state,
        deadline,
        light,
        remaining,
        today,
    }
}

fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

/// The index row of a case.
pub fn index_row(view: &CaseView, roster: &Roster) -> IndexRow {
    let doc = &view.doc;
    let state = &view.state;
    let d = &view.deadline;
    let mut route = state.route.clone();
    route.sort();
    route.dedup();
    IndexRow {
        doc_id: doc.id.clone(),
        number: doc.number.clone(),
        item_code: doc.item.code.clone(),
        item_name: doc.item.name.clone(),
        kind: doc.item.kind.clone(),
        status: state.status.as_str().to_string(),
        outcome: state.outcome.map(|o| o.as_str().to_string()),
        conflict: state.conflict(),
        origin: doc.origin.clone(),
        holder: state.holder.clone(),
        township: roster
            .township_of(&doc.origin)
            .map(|s| s.code.clone())
            .unwrap_or_default(),
        village: roster
            .village_of(&doc.origin)
            .map(|s| s.code.clone())
            .unwrap_or_default(),
        applicant_name: doc.applicant.name.clone(),
        delegated: doc.delegation.is_some(),
        created_at: doc.created_at,
        updated_at: doc.last_at(),
        accepted_on: date(d.accepted_on),
        clock: d.clock.code(),
        due_on: date(d.due_on),
        yellow_on: date(d.yellow_on),
        legal_due_on: date(d.legal_due_on),
        due_provisional: d.due_provisional,
        legal_provisional: d.legal_provisional,
        frozen_light: d.frozen_light.map(Light::code),
        stopped_on: date(d.stopped_on),
        on_time: d.on_time,
        rating: state.rating.as_ref().map(|r| i64::from(r.level)),
        follow_up_due: date(d.follow_up_due),
        consults: i64::try_from(state.consults.len()).unwrap_or(i64::MAX),
        route,
        search_keys: crate::search::case_keys(&doc.number, &doc.applicant),
        depts: doc
            .item
            .departments
            .iter()
            .map(|dept| {
                let decision = match state.approvals.get(dept) {
                    Some(a) if a.approved => "approved",
                    Some(_) => "rejected",
                    None => "pending",
                };
                (dept.clone(), decision.to_string())
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Action;
    use crate::catalog::CaseKind;

    fn city(dir: &Path, clock: &str) -> Node {
        Node::init(
            dir,
            Clock::fixed_from_rfc3339(clock).expect("clock"),
            &InitParams {
                network_name: "测试市政务服务网".into(),
                code: "C01".into(),
                name: "测试市政务服务中心".into(),
            },
        )
        .expect("init")
    }

    fn new_item(node: &Node, code: &str) -> ServiceItem {
        let mut item = node.catalog().items().next().expect("an item").clone();
        item.code = code.into();
        item.name = format!("事项 {code}");
        item
    }

    /// Issue #11: an edit read the catalog from memory and wrote the whole map back, deleting an
    /// item that another process (or sync) committed after that read.
    #[test]
    fn a_network_edit_keeps_what_was_committed_after_this_node_read_the_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let mut a = city(&path, "2026-03-02T10:00:00+08:00");
        let mut b = Node::open(&path, a.clock()).expect("second node on the directory");
        let beside = new_item(&b, "CT-BESIDE");
        let ran = std::rc::Rc::new(std::cell::Cell::new(false));
        {
            let ran = ran.clone();
            let mut pending = Some(beside);
            let _armed = failpoint::arm(failpoint::NETWORK_EDIT_BEFORE_WRITE, move || {
                if let Some(item) = pending.take() {
                    b.add_item(item).expect("the other process adds an item");
                    ran.set(true);
                }
            });
            a.add_item(new_item(&a, "CT-MINE")).expect("add");
        }
        assert!(ran.get(), "the failpoint ran");
        for code in ["CT-BESIDE", "CT-MINE"] {
            assert!(a.catalog().get(code).is_some(), "{code} is kept");
        }
        // The same holds for retiring, updating and removing an item.
        let mut c = Node::open(&path, a.clock()).expect("third node");
        let _armed = failpoint::arm(failpoint::NETWORK_EDIT_BEFORE_WRITE, move || {
            let item = new_item(&c, &format!("CT-X{}", c.catalog().len()));
            c.add_item(item).expect("the other process adds an item");
        });
        let before = a.catalog().len();
        a.set_item_retired("CT-MINE", true).expect("retire");
        a.update_item(new_item(&a, "CT-MINE")).expect("update");
        a.remove_item("CT-MINE").expect("remove");
        assert_eq!(
            a.catalog().len(),
            before - 1 + 3,
            "three items added beside, one removed"
        );
        assert!(a.catalog().get("CT-BESIDE").is_some());
    }

    /// Issue #11: a calendar committed without the index rebuild that follows it (a crash between
    /// the two, or a sync that committed the calendar only) left due dates counted with the old
    /// calendar until someone ran `reindex`.
    #[test]
    fn an_index_left_behind_by_a_calendar_change_is_rebuilt_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let mut node = city(&path, "2026-12-30T10:00:00+08:00");
        let item = node
            .catalog()
            .items()
            .filter(|i| i.tier == Tier::City && i.kind == CaseKind::Promised && !i.retired)
            .max_by_key(|i| i.promised_days)
            .expect("a promised city item")
            .code
            .clone();
        let case = node
            .new_case(&NewCase {
                item_code: item,
                applicant_name: "曹文静".into(),
                operator: "窗口一".into(),
                ..NewCase::default()
            })
            .expect("intake");
        let view = node
            .act(&case.doc.id, &Action::Accept, "窗口一")
            .expect("accept");
        assert!(
            view.deadline.due_provisional,
            "due in 2027, which has no rule yet"
        );
        let before = node.index_dump().expect("dump");

        {
            let _armed = failpoint::arm(failpoint::SKIP_REINDEX, || {});
            node.set_calendar_year(
                2027,
                YearRule {
                    holidays: vec![NaiveDate::from_ymd_opt(2027, 1, 1).expect("date")],
                    workdays: vec![],
                },
            )
            .expect("set 2027");
        }
        assert_eq!(
            node.index_dump().expect("dump"),
            before,
            "the rebuild was skipped"
        );
        drop(node);

        let mut node = Node::open(
            &path,
            Clock::fixed_from_rfc3339("2026-12-30T10:00:00+08:00").expect("clock"),
        )
        .expect("reopen");
        let reopened = node.index_dump().expect("dump");
        assert_ne!(reopened, before, "the due date is no longer provisional");
        node.reindex().expect("reindex");
        assert_eq!(node.index_dump().expect("dump"), reopened);
        assert!(
            !node
                .case(&case.doc.id)
                .expect("case")
                .deadline
                .due_provisional
        );
    }
}
