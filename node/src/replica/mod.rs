//! What sync needs from the store: documents changed since a `seq`, heads, the changes a peer
//! lacks, and applying a peer's changes after checking who wrote them and whose scope they are in.
//!
//! Nothing here touches the network; `yizhan-sync` calls these from its protocol session.
//!
//! **Scope.** A case is in a station's scope when that station or one of its descendants is on
//! the case's route; a city station's scope is everything; network documents are in every scope.
//! A station's accounts document (`acct/S`) is in the scope of S, its descendants and its
//! ancestors (the city sees every account; a village never another village's); its credentials
//! document (`cred/S`, the password hashes) only in the scope of nodes of S itself. A document
//! moves between two nodes only when it is in scope for both.
//!
//! **Authors.** Every change carries its author's actor id, which is the author's node id. A
//! received change is accepted only if its author is a member (verified certificate, not revoked)
//! allowed to write that document: a city node for network documents; for a case, a city node or
//! a node of a station on the case's route, or of an ancestor of one (a township's 督办 on its
//! village's case); for `acct/S`, a node of S or of an ancestor of S; for `cred/S`, a node of S.
//!
//! A batch of received documents is applied in one transaction: all of it or none of it
//! (`cases.rs`: the case documents' checks on worker threads). `peers.rs` holds the peers a node
//! remembers and its own sync settings.

mod cases;
mod peers;

pub use peers::{Contact, PeerRow, SyncConfig};

use crate::account::{AccountsDoc, CredentialsDoc, accounts_station, credentials_station};
use crate::cert::Members;
use crate::error::{NodeError, Result};
use crate::network::{
    CALENDAR_ID, CalendarDoc, NETWORK_DOC_IDS, ROSTER_ID, Roster, SETTINGS_ID, SettingsDoc,
};
use crate::node::{Node, rebuild_index};
use crate::ops::accounts::rederive_changed;
use crate::station::Tier;
use crate::store::DocType;
use crate::store::index::PendingKeys;
use automerge::{Automerge, Change, ChangeHash, ReadDoc as _};
use rusqlite::{OptionalExtension, params};

/// The stations whose documents a node may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A city node: everything.
    All,
    /// A station and its descendants.
    Stations(Vec<String>),
}

impl Scope {
    /// Whether a case with this route is in scope.
    pub fn covers_route(&self, route: &[String]) -> bool {
        match self {
            Scope::All => true,
            Scope::Stations(s) => route.iter().any(|r| s.contains(r)),
        }
    }

    /// The scope's own station: the first of [`Scope::Stations`] (as [`Roster::subtree`] lists
    /// it); `None` for [`Scope::All`] (the city's, found in the roster).
    pub fn home(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Stations(s) => s.first().map(String::as_str),
        }
    }
}

/// The stations whose accounts a scope holds (`None`: every station's), and the one station
/// whose credentials it holds.
fn people_scope(roster: &Roster, scope: &Scope) -> (Option<Vec<String>>, String) {
    match scope {
        Scope::All => {
            let city = roster
                .stations
                .values()
                .find(|s| s.tier() == Tier::City)
                .map(|s| s.code.clone())
                .unwrap_or_default();
            (None, city)
        }
        Scope::Stations(stations) => {
            let home = scope.home().unwrap_or_default().to_string();
            let mut visible = stations.clone();
            for s in roster.lineage(&home) {
                if !visible.contains(&s.code) {
                    visible.push(s.code.clone());
                }
            }
            (Some(visible), home)
        }
    }
}

/// Whether an accounts or credentials document is in a scope; `None` for other documents.
fn people_doc_in_scope(roster: &Roster, doc_id: &str, scope: &Scope) -> Option<bool> {
    let (accounts, cred) = people_scope(roster, scope);
    if let Some(station) = accounts_station(doc_id) {
        return Some(accounts.is_none_or(|v| v.iter().any(|s| s == station)));
    }
    credentials_station(doc_id).map(|station| station == cred)
}

/// A document's heads and the `seq` of its last write here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocHeads {
    /// Document id.
    pub doc_id: String,
    /// Its heads.
    pub heads: Vec<ChangeHash>,
    /// The `seq` of its last write on this node.
    pub seq: i64,
}

/// One document as received: its id and what the peer sent of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDoc {
    /// Document id.
    pub doc_id: String,
    /// The changes, or the whole document.
    pub payload: Payload,
}

/// What a peer sent of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Encoded Automerge changes, in either of Automerge's forms.
    Changes(Vec<Vec<u8>>),
    /// The whole document as stored ([`Node::saved_doc`]): a document chunk, possibly followed
    /// by change chunks. A peer that never held the document is sent this from sync protocol
    /// version 4 on (issue #14): the sender reads it from SQL without any Automerge work, and
    /// the receiver loads it once instead of applying every change and saving the result.
    Saved(Vec<u8>),
}

impl RemoteDoc {
    /// A document's changes.
    pub fn changes(doc_id: impl Into<String>, changes: Vec<Vec<u8>>) -> RemoteDoc {
        RemoteDoc {
            doc_id: doc_id.into(),
            payload: Payload::Changes(changes),
        }
    }

    /// A whole document, as [`Node::saved_doc`] reads it.
    pub fn saved(doc_id: impl Into<String>, bytes: Vec<u8>) -> RemoteDoc {
        RemoteDoc {
            doc_id: doc_id.into(),
            payload: Payload::Saved(bytes),
        }
    }

    /// Takes what this document's compressed parts inflate to out of its batch's budget, before
    /// Automerge reads them; a compression bomb, or bytes that are not Automerge's, refuse it.
    pub fn check_inflated(&self, budget: &mut crate::inflate::Budget) -> Result<()> {
        let checked = match &self.payload {
            Payload::Changes(changes) => changes.iter().try_for_each(|c| budget.check(c)),
            Payload::Saved(bytes) => budget.check(bytes),
        };
        checked.map_err(|why| rejected(&self.doc_id, why))
    }
}

/// Loads a received whole document, strictly: every chunk must parse, and the heads it states
/// must be the ones its changes hash to.
pub fn load_saved(doc_id: &str, bytes: &[u8]) -> Result<Automerge> {
    if bytes.is_empty() {
        return Err(rejected(doc_id, "the document arrived empty"));
    }
    Automerge::load(bytes).map_err(|e| rejected(doc_id, format!("the document does not load: {e}")))
}

/// The most case documents a received batch may hold for the new ones to go to the document
/// cache: a continuous session's few are likely read again soon; the thousands of a catch-up
/// would only push out what is.
const CACHED_BATCH: usize = 64;

/// What applying a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Documents that changed here.
    pub changed: usize,
    /// Documents whose changes were all known already.
    pub unchanged: usize,
    /// Whether a network document changed (the caller may want to refresh views).
    pub network_changed: bool,
    /// Documents skipped because they are outside this node's scope (bundles only).
    pub out_of_scope: usize,
    /// The heads of each document that changed, now: a session needs them for every document
    /// it received, and asking the store again cost a tenth of applying (issue #14).
    pub heads: Vec<(String, Vec<ChangeHash>)>,
}

/// Checks that a township's change to the roster only revokes nodes of its own station or of its
/// villages, in its own name.
fn check_township_revocation(
    prior: Option<&Roster>,
    after: &Roster,
    author: &str,
    author_station: &str,
    members: &Members,
) -> std::result::Result<(), String> {
    let prior = prior.ok_or("a township cannot create the roster")?;
    let strip = |r: &Roster| Roster {
        revoked: Default::default(),
        ..r.clone()
    };
    if strip(prior) != strip(after) {
        return Err("a township may only add revocations to the roster".into());
    }
    for (node, rev) in &prior.revoked {
        if after.revoked.get(node) != Some(rev) {
            return Err("a township may not change an existing revocation".into());
        }
    }
    for (node, rev) in after
        .revoked
        .iter()
        .filter(|(k, _)| !prior.revoked.contains_key(*k))
    {
        if rev.by != author {
            return Err("a revocation must be made in its author's name".into());
        }
        let station = members
            .get(node)
            .map(|c| c.body.station.clone())
            .ok_or("revocation of an unknown node")?;
        if station.code != author_station && station.parent != author_station {
            return Err(format!(
                "township {author_station} may not revoke a node of station {}",
                station.code
            ));
        }
    }
    Ok(())
}

/// Decodes heads stored as concatenated 32-byte hashes.
pub fn decode_heads(blob: &[u8]) -> Vec<ChangeHash> {
    blob.chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok())
        .map(ChangeHash)
        .collect()
}

/// After received changes were merged into `am`: refuses changes whose history is missing.
fn check_history(am: &Automerge, doc_id: &str) -> Result<()> {
    if am.get_missing_deps(&[]).is_empty() {
        Ok(())
    } else {
        Err(rejected(
            doc_id,
            "changes arrived without the history they build on",
        ))
    }
}

/// After received changes were merged into `am`: refuses changes whose history is missing,
/// and gives a document they did not change back to the cache untouched (`None`: nothing new).
fn changed_or_put_back(
    wtx: &mut crate::store::WriteTx<'_>,
    doc_id: &str,
    am: Automerge,
    before: &[ChangeHash],
    is_new: bool,
) -> Result<Option<Automerge>> {
    check_history(&am, doc_id)?;
    if am.get_heads() != before {
        return Ok(Some(am));
    }
    if !is_new {
        wtx.put_back(doc_id, am)?;
    }
    Ok(None)
}

/// Decodes a received document's changes, each checked against its hash.
fn decode_changes(doc_id: &str, encoded: &[Vec<u8>]) -> Result<Vec<Change>> {
    encoded
        .iter()
        .map(|bytes| {
            Change::try_from(&bytes[..])
                .map_err(|e| rejected(doc_id, format!("a change does not decode: {e}")))
        })
        .collect()
}

fn rejected(doc: &str, why: impl Into<String>) -> NodeError {
    NodeError::Rejected {
        doc: doc.to_string(),
        reason: why.into(),
    }
}

impl Node {
    /// The scope of a station.
    pub fn scope_of(&self, station: &str) -> Scope {
        match self.roster().station(station).map(|s| s.tier()) {
            Some(Tier::City) => Scope::All,
            Some(_) => Scope::Stations(self.roster().subtree(station)),
            None => Scope::Stations(Vec::new()),
        }
    }

    /// This node's scope.
    pub fn my_scope(&self) -> Scope {
        self.scope_of(&self.identity().station)
    }

    /// Documents written here after `since`, in scope for `peer` (everything stored here is in
    /// this node's own scope), in `seq` order, at most `limit`.
    pub fn changed_since(&self, since: i64, peer: &Scope, limit: usize) -> Result<Vec<DocHeads>> {
        let conn = self.store_ref().conn();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Both queries select `doc_id, heads, seq`.
        let doc_heads = |r: &rusqlite::Row<'_>| {
            Ok(DocHeads {
                doc_id: r.get(0)?,
                heads: decode_heads(&r.get::<_, Vec<u8>>(1)?),
                seq: r.get(2)?,
            })
        };
        let (accounts, cred) = people_scope(self.roster(), peer);
        let cred_doc = crate::account::credentials_doc_id(&cred);
        let out = match peer {
            Scope::All => conn
                .prepare_cached(
                    "SELECT doc_id, heads, seq FROM docs WHERE seq > ?1
                       AND (doc_type <> 'credentials' OR doc_id = ?3)
                     ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![since, limit, cred_doc], doc_heads)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            Scope::Stations(stations) => {
                let list = serde_json::to_string(stations).unwrap_or_else(|_| "[]".into());
                let people: Vec<String> = accounts
                    .unwrap_or_default()
                    .iter()
                    .map(|s| crate::account::accounts_doc_id(s))
                    .chain(std::iter::once(cred_doc))
                    .collect();
                let people = serde_json::to_string(&people).unwrap_or_else(|_| "[]".into());
                conn.prepare_cached(
                    "SELECT d.doc_id, d.heads, d.seq FROM docs d WHERE d.seq > ?1 AND (d.doc_type = 'network'
                       OR EXISTS (SELECT 1 FROM case_route r WHERE r.doc_id = d.doc_id
                                  AND r.station IN (SELECT value FROM json_each(?3)))
                       OR (d.doc_type IN ('accounts', 'credentials')
                           AND d.doc_id IN (SELECT value FROM json_each(?4))))
                     ORDER BY d.seq LIMIT ?2",
                )?
                .query_map(params![since, limit, list, people], doc_heads)?
                .collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        Ok(out)
    }

    /// Whether a stored document is in a scope.
    pub fn doc_in_scope(&self, doc_id: &str, scope: &Scope) -> Result<bool> {
        if NETWORK_DOC_IDS.contains(&doc_id) {
            return Ok(true);
        }
        if let Some(in_scope) = people_doc_in_scope(self.roster(), doc_id, scope) {
            return Ok(in_scope && self.heads_of(doc_id)?.is_some());
        }
        let conn = self.store_ref().conn();
        let exists: Option<String> = conn
            .query_row(
                "SELECT doc_type FROM docs WHERE doc_id = ?1",
                [doc_id],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(false);
        }
        match scope {
            Scope::All => Ok(true),
            Scope::Stations(stations) => {
                let mut stmt =
                    conn.prepare_cached("SELECT station FROM case_route WHERE doc_id = ?1")?;
                let route = stmt
                    .query_map([doc_id], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(route.iter().any(|r| stations.contains(r)))
            }
        }
    }

    /// A stored document's heads, or `None` if it is not here.
    pub fn heads_of(&self, doc_id: &str) -> Result<Option<Vec<ChangeHash>>> {
        let blob: Option<Vec<u8>> = self
            .store_ref()
            .conn()
            .query_row("SELECT heads FROM docs WHERE doc_id = ?1", [doc_id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(blob.map(|b| decode_heads(&b)))
    }

    /// A document's heads and the node `seq` of its last write here, if the node has it. A peer
    /// whose watermark of this node is at or past that `seq` holds this version.
    pub fn heads_and_seq(&self, doc_id: &str) -> Result<Option<(Vec<ChangeHash>, i64)>> {
        let row: Option<(Vec<u8>, i64)> = self
            .store_ref()
            .conn()
            .query_row(
                "SELECT heads, seq FROM docs WHERE doc_id = ?1",
                [doc_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(b, seq)| (decode_heads(&b), seq)))
    }

    /// Which of `heads` this node has (in the given document).
    pub fn known_heads(&mut self, doc_id: &str, heads: &[ChangeHash]) -> Result<Vec<ChangeHash>> {
        let heads = heads.to_vec();
        Ok(self
            .store()
            .read_doc(doc_id, move |d| {
                Ok(heads
                    .into_iter()
                    .filter(|h| d.get_change_by_hash(h).is_some())
                    .collect())
            })?
            .unwrap_or_default())
    }

    /// The encoded changes of a document that a peer holding `their_heads` lacks, in their
    /// uncompressed form (`Change::raw_bytes`: sync and bundles compress whole frames instead,
    /// issue #14; `Change::try_from` reads either form). Heads unknown here are ignored (the peer
    /// has changes this node lacks; they do not help it).
    pub fn changes_for(
        &mut self,
        doc_id: &str,
        their_heads: &[ChangeHash],
    ) -> Result<Vec<Vec<u8>>> {
        let heads = their_heads.to_vec();
        Ok(self
            .store()
            .read_doc(doc_id, move |d| {
                let known: Vec<ChangeHash> = heads
                    .into_iter()
                    .filter(|h| d.get_change_by_hash(h).is_some())
                    .collect();
                Ok(d.get_changes(&known)
                    .into_iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .collect())
            })?
            .unwrap_or_default())
    }

    /// The encoded changes (uncompressed, as [`Node::changes_for`]) a peer holding `their_heads`
    /// lacks, if this node knows every one of
    /// those heads (the peer's history is a prefix of this one); `None` if it does not, or lacks
    /// the document. One document load, where `known_heads` then `changes_for` would take two.
    pub fn missing_changes(
        &mut self,
        doc_id: &str,
        their_heads: &[ChangeHash],
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let heads = their_heads.to_vec();
        Ok(self
            .store()
            .read_doc(doc_id, move |d| {
                if heads.iter().any(|h| d.get_change_by_hash(h).is_none()) {
                    return Ok(None);
                }
                Ok(Some(
                    d.get_changes(&heads)
                        .into_iter()
                        .map(|c| c.raw_bytes().to_vec())
                        .collect(),
                ))
            })?
            .flatten())
    }

    /// A stored document's bytes, whole ([`Payload::Saved`]): its snapshot followed by its
    /// increments, read from SQL without any Automerge work; `None` if it is not here.
    pub fn saved_doc(&self, doc_id: &str) -> Result<Option<Vec<u8>>> {
        self.store_ref().saved_bytes(doc_id)
    }

    /// Runs `f` on a stored document (read-only), for sync protocols that need the document.
    pub fn with_doc<T>(
        &mut self,
        doc_id: &str,
        f: impl FnOnce(&Automerge) -> Result<T>,
    ) -> Result<Option<T>> {
        self.store().read_doc(doc_id, f)
    }

    /// Applies documents received from `sender` (a node id) in one transaction, after checking
    /// every change's author and both sides' scopes. Any problem rejects the whole batch.
    pub fn apply_remote(&mut self, sender: &str, docs: &[RemoteDoc]) -> Result<Applied> {
        self.apply_checked(sender, docs, false)
    }

    /// Like [`Node::apply_remote`], but documents outside this node's scope are skipped (counted
    /// in [`Applied::out_of_scope`]) instead of refusing the batch: a bundle made for a wider
    /// scope may be carried through a station that keeps only its part.
    pub fn apply_bundle(&mut self, sender: &str, docs: &[RemoteDoc]) -> Result<Applied> {
        self.apply_checked(sender, docs, true)
    }

    fn apply_checked(
        &mut self,
        sender: &str,
        docs: &[RemoteDoc],
        skip_out_of_scope: bool,
    ) -> Result<Applied> {
        self.refresh()?;
        let sender_cert = self.member(sender)?.clone();
        let sender_scope = self.scope_of(&sender_cert.body.station.code);
        let my_scope = self.my_scope();
        let today = self.today();
        // Everything that needs `&self` is read before the write transaction borrows the store.
        // Network and people documents are decoded into changes here (a whole one is loaded and
        // taken apart: they are few and small); cases keep their bytes, changes or a whole
        // document, for the workers, which decode and check them there.
        let mut decoded: Vec<(String, Vec<Change>)> = Vec::with_capacity(docs.len());
        let mut received_cases: Vec<(String, cases::CasePayload<'_>)> = Vec::new();
        // What the batch's compressed parts inflate to is measured before Automerge reads any of
        // it: a compression bomb refuses the batch here, with nothing applied.
        let mut budget = crate::inflate::Budget::default();
        for d in docs {
            d.check_inflated(&mut budget)?;
            let is_case = !NETWORK_DOC_IDS.contains(&d.doc_id.as_str())
                && accounts_station(&d.doc_id).is_none()
                && credentials_station(&d.doc_id).is_none();
            let changes = match &d.payload {
                Payload::Saved(bytes) if is_case => {
                    received_cases.push((d.doc_id.clone(), cases::CasePayload::Saved(bytes)));
                    continue;
                }
                Payload::Changes(encoded) if is_case => {
                    received_cases.push((d.doc_id.clone(), cases::CasePayload::Changes(encoded)));
                    continue;
                }
                Payload::Saved(bytes) => load_saved(&d.doc_id, bytes)?.get_changes(&[]),
                Payload::Changes(encoded) => decode_changes(&d.doc_id, encoded)?,
            };
            decoded.push((d.doc_id.clone(), changes));
        }
        let mut authors: std::collections::BTreeMap<String, (String, Tier)> =
            std::collections::BTreeMap::new();
        // The authors of the network and people documents' changes; those of the cases' are
        // looked up by the workers, which decode them.
        for (doc_id, changes) in &decoded {
            for c in changes {
                let author = hex::encode(c.actor_id().to_bytes());
                if authors.contains_key(&author) {
                    continue;
                }
                let cert = self
                    .member(&author)
                    .map_err(|e| rejected(doc_id, format!("change by a non-member: {e}")))?;
                authors.insert(
                    author,
                    (cert.body.station.code.clone(), cert.body.station.tier()),
                );
            }
        }
        let roster = self.roster().clone();
        let members = self.members().clone();
        // The notices this node must send for events that arrive here (issue #15).
        let templates = self.net.templates.clone();
        let me = self.identity().node_id.clone();
        let now_ms = self.now_ms();
        let old_calendar = self.calendar().clone();
        let old_settings = *self.settings();
        let mut calendar = old_calendar.clone();
        let mut settings = old_settings;
        let old_accounts = self.accounts().clone();
        let mut accounts = old_accounts.clone();
        // Accounts documents first, so that the cases of the same batch are folded with the
        // accounts as they are after it.
        decoded.sort_by_key(|(id, _)| accounts_station(id).is_none());
        let applied = self.store().write(|wtx| {
            let mut applied = Applied::default();
            for (doc_id, changes) in decoded {
                let people = accounts_station(&doc_id)
                    .or_else(|| credentials_station(&doc_id))
                    .map(str::to_string);
                if let Some(station) = people {
                    let in_mine = people_doc_in_scope(&roster, &doc_id, &my_scope) == Some(true);
                    if !in_mine {
                        if skip_out_of_scope {
                            applied.out_of_scope += 1;
                            continue;
                        }
                        return Err(rejected(
                            &doc_id,
                            "the document is not in this station's scope",
                        ));
                    }
                    if people_doc_in_scope(&roster, &doc_id, &sender_scope) != Some(true) {
                        return Err(rejected(
                            &doc_id,
                            "the document is not in the sender's scope",
                        ));
                    }
                    let credentials = credentials_station(&doc_id).is_some();
                    for c in &changes {
                        let author = hex::encode(c.actor_id().to_bytes());
                        let author_station = authors.get(&author).map(|a| a.0.clone());
                        let allowed = author_station.as_ref().is_some_and(|a| {
                            if credentials {
                                *a == station
                            } else {
                                roster.is_within(&station, a)
                            }
                        });
                        if !allowed {
                            return Err(rejected(
                                &doc_id,
                                format!(
                                    "station {} may not change the accounts of station {station}",
                                    author_station.unwrap_or_default()
                                ),
                            ));
                        }
                    }
                    let existing = wtx.take_doc(&doc_id)?;
                    let is_new = existing.is_none();
                    let mut am = existing.unwrap_or_default();
                    let before = am.get_heads();
                    am.apply_changes(changes)
                        .map_err(|e| rejected(&doc_id, e.to_string()))?;
                    let Some(am) = changed_or_put_back(wtx, &doc_id, am, &before, is_new)? else {
                        applied.unchanged += 1;
                        continue;
                    };
                    let doc_type = if credentials {
                        let doc: CredentialsDoc = autosurgeon::hydrate(&am)
                            .map_err(|e| rejected(&doc_id, e.to_string()))?;
                        if doc.station != station {
                            return Err(rejected(&doc_id, "the document names another station"));
                        }
                        DocType::Credentials
                    } else {
                        let doc: AccountsDoc = autosurgeon::hydrate(&am)
                            .map_err(|e| rejected(&doc_id, e.to_string()))?;
                        if doc.station != station {
                            return Err(rejected(&doc_id, "the document names another station"));
                        }
                        accounts.put_doc(&doc);
                        DocType::Accounts
                    };
                    let heads = am.get_heads();
                    wtx.put_doc(
                        &doc_id,
                        doc_type,
                        am,
                        if is_new { None } else { Some(&before) },
                    )?;
                    applied.changed += 1;
                    applied.heads.push((doc_id, heads));
                    continue;
                }
                // Everything else here is a network document: cases are merged and checked on
                // worker threads below, once the network and accounts documents of the batch
                // are in.
                let mut township_authors = false;
                for c in &changes {
                    let author = hex::encode(c.actor_id().to_bytes());
                    match authors.get(&author).map(|a| a.1) {
                        Some(Tier::City) => {}
                        // A township may revoke its villages' nodes; checked change by change.
                        Some(Tier::Township) if doc_id == ROSTER_ID => township_authors = true,
                        _ => {
                            return Err(rejected(
                                &doc_id,
                                "only city nodes may change network documents",
                            ));
                        }
                    }
                }
                let existing = wtx.take_doc(&doc_id)?;
                let is_new = existing.is_none();
                let mut am = existing.unwrap_or_default();
                let before = am.get_heads();
                if township_authors {
                    for c in &changes {
                        let author = hex::encode(c.actor_id().to_bytes());
                        let prior: Option<Roster> = autosurgeon::hydrate(&am).ok();
                        am.apply_changes([c.clone()])
                            .map_err(|e| rejected(&doc_id, e.to_string()))?;
                        if let Some((station, Tier::Township)) = authors.get(&author) {
                            let after: Roster = autosurgeon::hydrate(&am)
                                .map_err(|e| rejected(&doc_id, e.to_string()))?;
                            check_township_revocation(
                                prior.as_ref(),
                                &after,
                                &author,
                                station,
                                &members,
                            )
                            .map_err(|why| rejected(&doc_id, why))?;
                        }
                    }
                } else {
                    am.apply_changes(changes)
                        .map_err(|e| rejected(&doc_id, e.to_string()))?;
                }
                let Some(am) = changed_or_put_back(wtx, &doc_id, am, &before, is_new)? else {
                    applied.unchanged += 1;
                    continue;
                };
                applied.network_changed = true;
                // Due dates, whether they are provisional, and yellow thresholds follow the
                // calendar and the settings: read the merged documents here, so that the
                // index is recomputed below in this same transaction. A document that does
                // not read is left to `refresh` after the commit, which reports it.
                if doc_id == CALENDAR_ID {
                    if let Ok(doc) = autosurgeon::hydrate::<_, CalendarDoc>(&am) {
                        calendar = doc.to_calendar().0;
                    }
                } else if doc_id == SETTINGS_ID
                    && let Ok(doc) = autosurgeon::hydrate::<_, SettingsDoc>(&am)
                {
                    settings = doc.settings;
                }
                let heads = am.get_heads();
                wtx.put_doc(
                    &doc_id,
                    DocType::Network,
                    am,
                    if is_new { None } else { Some(&before) },
                )?;
                applied.changed += 1;
                applied.heads.push((doc_id, heads));
            }
            // The cases, loaded, merged, read, folded and checked on worker threads and written
            // here in the batch's order, with the calendar and settings as they are after the
            // batch.
            let actor = wtx.actor().clone();
            let check = cases::CaseCheck {
                calendar: &calendar,
                settings: &settings,
                accounts: &accounts,
                roster: &roster,
                my_scope: &my_scope,
                sender_scope: &sender_scope,
                authors: &authors,
                members: &members,
                today,
                skip_out_of_scope,
                cache_new: received_cases.len() <= CACHED_BATCH,
                actor: &actor,
            };
            let notices = cases::NoticeContext {
                roster: &roster,
                templates: &templates,
                me: &me,
                now_ms,
            };
            let mut inputs = Vec::with_capacity(received_cases.len());
            for (doc_id, payload) in received_cases {
                let existing = wtx.take_doc_unloaded(&doc_id)?;
                inputs.push(cases::CaseInput {
                    doc_id,
                    existing,
                    payload,
                });
            }
            let mut keys = PendingKeys::default();
            crate::parallel::map_in_order(
                "yizhan-apply",
                inputs,
                |input| check.prepare(input),
                |prepared| cases::write(wtx, prepared?, &notices, &mut keys, &mut applied),
            )?;
            keys.write(wtx.sql())?;
            // A new calendar year (or any calendar or settings change) recomputes every case's
            // deadlines, committed with the documents: there is no moment at which the store
            // holds the new calendar beside due dates counted with the old one.
            if calendar != old_calendar || settings != old_settings {
                rebuild_index(wtx, &calendar, &settings, &accounts, &roster, today)?;
            } else {
                // An account disabled (or enabled) elsewhere: the cases it acted on are folded
                // again, so that its events after the disabling are flagged here too.
                rederive_changed(
                    wtx,
                    &old_accounts,
                    &accounts,
                    (&calendar, &settings, &roster),
                    today,
                )?;
            }
            Ok(applied)
        })?;
        if applied.network_changed || accounts != old_accounts {
            self.refresh()?;
            // Only if the documents read differently after the commit than inside it (one that
            // did not read there) does the index need another pass.
            if *self.calendar() != calendar || *self.settings() != settings {
                self.reindex()?;
            }
        }
        Ok(applied)
    }
}
