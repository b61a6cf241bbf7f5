//! Running the sync protocol in memory: an in-memory [`Replica`] and a driver for two sessions.
//!
//! Nothing here touches a socket or SQLite, and nothing pulls a test-only crate into the normal
//! dependency tree: the module is ordinary library code so that the sync tests and the
//! benchmarks (`scenarios`' `bench-sync`) share one driver instead of each keeping a copy.
//!
//! - [`MemNetwork`] makes a network in memory: a root key, stations, and nodes with real
//!   certificates (`yizhan_node::cert`) whose keys are derived from a seed, so every run is the
//!   same.
//! - [`MemReplica`] is one node of it: real Automerge case documents in a map, a node-wide `seq`
//!   stamped on every write, peers' watermarks, Automerge sync states and contact records, and
//!   the same author and scope checks as the store-backed node when it applies a peer's changes
//!   (a change by a non-member or a revoked node, a case outside either side's scope, a change by
//!   a station that never held the case: the whole batch is refused). The station tree is fixed
//!   when the replica is made; network documents are not synced between in-memory replicas.
//! - [`Pair`] pumps encoded frames between a dialing and an accepting session, running each side
//!   as production does: the acceptor is continuous (it offers its own writes as soon as they are
//!   committed, which the store's `seq` notification triggers in `net`), the dialer one-shot or
//!   continuous. A one-shot dialer that is done stops handling anything but the peer's `Ack`s, as
//!   the adapter's linger does. The caller chooses how frames interleave ([`Pair::deliver`] one
//!   side at a time, [`Pair::run`] in turns) and where the connection is cut ([`Pair::cut`]);
//!   frames of one direction are never reordered or lost one by one, because the transport is one
//!   reliable, ordered stream whose only failure is to end.
//!
//! ```
//! use yizhan_node::station::Tier;
//! use yizhan_sync::testing::{MemNetwork, Pair};
//!
//! let mut net = MemNetwork::new(7);
//! net.add_station("T", Tier::Township, "C").unwrap();
//! let mut city = net.replica("C").unwrap();
//! let mut town = net.replica("T").unwrap();
//! let id = town.new_case().unwrap();
//! let link = Pair::one_shot(&mut town, &mut city).unwrap().run(&mut town, &mut city).unwrap();
//! assert_eq!(city.heads_of_case(&id), town.heads_of_case(&id));
//! assert!(link.round_trips <= 4);
//! ```

use crate::SyncError;
use crate::proto::{self, Msg};
use crate::replica::Replica;
use crate::session::Session;
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc as _};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;
use yizhan_node::account::Directory;
use yizhan_node::case::doc::{append_event, read_case, write_case};
use yizhan_node::case::{Action, Applicant, CaseDoc, ItemSnapshot, fold};
use yizhan_node::cert::{Cert, CertBody, Members};
use yizhan_node::network::{NETWORK_DOC_IDS, Roster, Station};
use yizhan_node::replica::{Applied, Contact, DocHeads, RemoteDoc, Scope};
use yizhan_node::station::Tier;
use yizhan_node::{NodeError, Result};

/// 2026-03-02T09:00:00+08:00: the clock of every in-memory replica starts here.
pub const NOW: i64 = 1_772_413_200_000;

/// A deterministic 32-byte key for `(seed, n)`.
fn derive_key(seed: u64, n: u64) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"yizhan/testing/key\0");
    h.update(seed.to_le_bytes());
    h.update(n.to_le_bytes());
    h.finalize().into()
}

fn node_id(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// A network made in memory: its root key, its stations and the nodes enrolled so far.
#[derive(Debug)]
pub struct MemNetwork {
    seed: u64,
    keys: u64,
    network_id: String,
    root: SigningKey,
    roster: Roster,
    /// The first city node, which certifies every other node (the root certifies only cities).
    issuer: Option<(SigningKey, Cert)>,
}

impl MemNetwork {
    /// A network whose city station is `C`; `seed` decides every key.
    pub fn new(seed: u64) -> MemNetwork {
        let root = SigningKey::from_bytes(&derive_key(seed, 0));
        let network_id = format!("mem-{seed:016x}");
        let roster = Roster::new(
            network_id.clone(),
            "测试市".into(),
            node_id(&root),
            station("C", Tier::City, ""),
        );
        MemNetwork {
            seed,
            keys: 1,
            network_id,
            root,
            roster,
            issuer: None,
        }
    }

    /// Adds a station below `parent`, with the roster's own checks.
    pub fn add_station(&mut self, code: &str, tier: Tier, parent: &str) -> Result<()> {
        self.roster.add_station(station(code, tier, parent))
    }

    /// A new node of station `code` with a certificate chained to the root, holding no
    /// documents. It knows the stations added so far.
    pub fn replica(&mut self, code: &str) -> Result<MemReplica> {
        let st = self
            .roster
            .station(code)
            .cloned()
            .ok_or_else(|| NodeError::UnknownStation(code.to_string()))?;
        let key = SigningKey::from_bytes(&derive_key(self.seed, self.keys));
        self.keys += 1;
        let ordinal = u32::try_from(self.keys).unwrap_or(u32::MAX);
        let body = |issuer: String| CertBody {
            network_id: self.network_id.clone(),
            node_id: node_id(&key),
            station: st.clone(),
            ordinal,
            issuer,
            issued_at: NOW,
        };
        let mut chain = Vec::new();
        let cert = match &self.issuer {
            Some((issuer, issuer_cert)) => {
                chain.push(issuer_cert.clone());
                Cert::issue(issuer, body(node_id(issuer)))
            }
            None if st.tier() == Tier::City => {
                let cert = Cert::issue(&self.root, body(node_id(&self.root)));
                self.issuer = Some((key.clone(), cert.clone()));
                cert
            }
            None => {
                return Err(NodeError::BadCertificate(
                    "the first node of a network is a city node".into(),
                ));
            }
        };
        chain.push(cert);
        let mut members = Members::new(&self.network_id, &node_id(&self.root));
        if let Some((c, e)) = members.add_all(chain).into_iter().next() {
            return Err(NodeError::BadCertificate(format!(
                "{}: {e}",
                c.body.node_id
            )));
        }
        Ok(MemReplica {
            node_id: node_id(&key),
            actor: ActorId::from(key.verifying_key().to_bytes().to_vec()),
            network_id: self.network_id.clone(),
            station: code.to_string(),
            members,
            roster: self.roster.clone(),
            docs: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            seq: 0,
            counter: 0,
            peers: BTreeMap::new(),
            sync_states: HashMap::new(),
        })
    }
}

fn station(code: &str, tier: Tier, parent: &str) -> Station {
    Station::new(code, &format!("{code}站"), tier, parent)
}

/// One held document.
#[derive(Debug, Clone)]
struct MemDoc {
    am: Automerge,
    seq: i64,
    /// The stations on the case's route (empty for a network document, which every scope holds).
    route: Vec<String>,
    network: bool,
}

/// What a replica remembers of a peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemPeer {
    /// The peer's `seq` up to which everything it offered is held here.
    pub received_seq: i64,
    /// This replica's `seq` up to which the peer holds everything in its scope.
    pub acked_seq: i64,
    /// Verified connections so far.
    pub connected: usize,
    /// Completed exchanges so far ([`Contact::Synced`]).
    pub synced: usize,
    /// The last error, cleared by a verified connection or a completed exchange.
    pub last_error: Option<String>,
}

/// A node in memory: real Automerge case documents, a node-wide `seq`, and the store-backed
/// node's author and scope checks (see the module documentation).
#[derive(Debug, Clone)]
pub struct MemReplica {
    node_id: String,
    actor: ActorId,
    network_id: String,
    station: String,
    members: Members,
    roster: Roster,
    docs: BTreeMap<String, MemDoc>,
    /// Document ids by the `seq` of their last write.
    by_seq: BTreeMap<i64, String>,
    seq: i64,
    /// Case and event numbers, and the clock: every local write is one millisecond later.
    counter: u64,
    peers: BTreeMap<String, MemPeer>,
    sync_states: HashMap<(String, String), Vec<u8>>,
}

impl MemReplica {
    /// This replica's station.
    pub fn station(&self) -> &str {
        &self.station
    }

    /// This replica's own scope.
    pub fn my_scope(&self) -> Scope {
        self.scope_of(&self.station)
    }

    fn tick(&mut self) -> i64 {
        self.counter += 1;
        NOW + i64::try_from(self.counter).unwrap_or(i64::MAX)
    }

    /// Stores a document written here or received, stamping it with the next `seq`.
    fn put(&mut self, doc_id: &str, am: Automerge, route: Vec<String>, network: bool) {
        self.seq += 1;
        if let Some(old) = self.docs.get(doc_id) {
            self.by_seq.remove(&old.seq);
        }
        self.by_seq.insert(self.seq, doc_id.to_string());
        self.docs.insert(
            doc_id.to_string(),
            MemDoc {
                am,
                seq: self.seq,
                route,
                network,
            },
        );
    }

    /// Takes in a new case at this station (one Automerge change by this node); returns its id.
    pub fn new_case(&mut self) -> Result<String> {
        let at = self.tick();
        let id = format!("{}-{}", &self.node_id[..12], self.counter);
        let case = CaseDoc {
            schema: yizhan_node::case::doc::CASE_SCHEMA.into(),
            id: id.clone(),
            number: format!("{}-{}", self.station, self.counter),
            created_at: at,
            origin: self.station.clone(),
            origin_node: self.node_id.clone(),
            item: ItemSnapshot {
                code: "TS-004".into(),
                name: "测试事项".into(),
                kind: yizhan_node::catalog::CaseKind::Promised,
                legal_days: 20,
                promised_days: 10,
                tier: Tier::Township,
                materials: vec!["身份证".into()],
                departments: vec!["甲".into(), "乙".into()],
            },
            applicant: Applicant {
                name: format!("申请人{}", self.counter),
                id_number: String::new(),
                phone: String::new(),
                address: String::new(),
            },
            delegation: None,
            intake_by: None,
            intake_operator: None,
            events: Vec::new(),
        };
        let mut am = Automerge::new();
        am.set_actor(self.actor.clone());
        write_case(&mut am, &case)?;
        let route = fold(&case).route;
        self.put(&id, am, route, false);
        Ok(id)
    }

    /// Records `action` on a held case at this station, if the transition table allows it here
    /// (as `Node::act` checks it); one Automerge change by this node.
    pub fn act(&mut self, id: &str, action: &Action) -> Result<()> {
        let mut am = self
            .docs
            .get(id)
            .filter(|d| !d.network)
            .map(|d| d.am.clone())
            .ok_or_else(|| NodeError::CaseNotFound(id.to_string()))?;
        let case = read_case(&am, id)?;
        let state = fold(&case);
        let at = self.tick();
        let event = case.next_event(
            &state.last_transition,
            action,
            format!("{}-e{}", &self.node_id[..12], self.counter),
            at,
            &self.station,
            &self.node_id,
            "窗口",
            None,
        );
        fold::check(&state, &case.item, &Directory::default(), &event, action)
            .map_err(|reason| NodeError::not_allowed(action.kind(), reason))?;
        // Every receiver refuses a change by a station that is neither on the case's route nor an
        // ancestor of a station on it (unless it is the city's), and refuses the whole batch that
        // carries it, so such a change would never leave this replica. A node holds only cases
        // in its scope, so `Node::act` never writes one.
        let tier = self.roster.station(&self.station).map(Station::tier);
        if tier != Some(Tier::City)
            && !state
                .route
                .iter()
                .any(|r| self.roster.is_within(r, &self.station))
        {
            return Err(NodeError::Rejected {
                doc: id.to_string(),
                reason: format!("station {} never held this case", self.station),
            });
        }
        am.set_actor(self.actor.clone());
        append_event(&mut am, id, &event)?;
        let mut after = case;
        after.events.push(event);
        let route = fold(&after).route;
        self.put(id, am, route, false);
        Ok(())
    }

    /// The ids of every held case, sorted.
    pub fn case_ids(&self) -> Vec<String> {
        self.docs
            .iter()
            .filter(|(_, d)| !d.network)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A held case's heads, sorted (`None` if it is not held).
    pub fn heads_of_case(&self, id: &str) -> Option<Vec<ChangeHash>> {
        self.docs.get(id).map(|d| {
            let mut h = d.am.get_heads();
            h.sort();
            h
        })
    }

    /// A held case's route as folded here.
    pub fn route(&self, id: &str) -> Option<&[String]> {
        self.docs.get(id).map(|d| d.route.as_slice())
    }

    /// A held case's status as folded here.
    pub fn status(&self, id: &str) -> Result<Option<yizhan_node::case::Status>> {
        match self.docs.get(id) {
            Some(d) => Ok(Some(fold(&read_case(&d.am, id)?).status)),
            None => Ok(None),
        }
    }

    /// What this replica remembers of a peer.
    pub fn peer(&self, node_id: &str) -> Option<&MemPeer> {
        self.peers.get(node_id)
    }

    /// Marks a node revoked, as a received roster revocation would.
    pub fn revoke(&mut self, node_id: &str) {
        self.roster.revoked.insert(
            node_id.to_string(),
            yizhan_node::network::Revocation {
                by: self.node_id.clone(),
                at: NOW,
                reason: "revoked in a test".into(),
            },
        );
    }

    /// Forgets the watermark of a peer, as a restored backup would.
    pub fn forget_watermark(&mut self, node_id: &str) {
        if let Some(p) = self.peers.get_mut(node_id) {
            p.received_seq = 0;
        }
    }

    fn peer_mut(&mut self, node_id: &str) -> &mut MemPeer {
        self.peers.entry(node_id.to_string()).or_default()
    }

    fn member_tier(&self, author: &str, doc_id: &str) -> Result<(String, Tier)> {
        let cert = Replica::member(self, author)
            .map_err(|e| rejected(doc_id, format!("change by a non-member: {e}")))?;
        Ok((cert.body.station.code.clone(), cert.body.station.tier()))
    }
}

fn rejected(doc: &str, why: impl Into<String>) -> NodeError {
    NodeError::Rejected {
        doc: doc.to_string(),
        reason: why.into(),
    }
}

impl Replica for MemReplica {
    fn node_id(&self) -> &str {
        &self.node_id
    }
    fn network_id(&self) -> &str {
        &self.network_id
    }
    fn seq(&self) -> Result<i64> {
        Ok(self.seq)
    }
    fn members(&self) -> &Members {
        &self.members
    }
    fn is_revoked(&self, node_id: &str) -> bool {
        self.roster.is_revoked(node_id)
    }
    fn member(&self, node_id: &str) -> Result<Cert> {
        if self.roster.is_revoked(node_id) {
            return Err(NodeError::BadCertificate(format!(
                "node {} has been revoked",
                yizhan_node::cert::short(node_id)
            )));
        }
        self.members.get(node_id).cloned().ok_or_else(|| {
            NodeError::BadCertificate(format!(
                "node {} is not a member",
                yizhan_node::cert::short(node_id)
            ))
        })
    }
    fn add_certs(&mut self, certs: Vec<Cert>) -> Result<(usize, Vec<(Cert, NodeError)>)> {
        let before = self.members.certs().len();
        let failed = self.members.add_all(certs);
        Ok((self.members.certs().len() - before, failed))
    }
    fn scope_of(&self, station: &str) -> Scope {
        match self.roster.station(station).map(Station::tier) {
            Some(Tier::City) => Scope::All,
            Some(_) => Scope::Stations(self.roster.subtree(station)),
            None => Scope::Stations(Vec::new()),
        }
    }
    fn changed_since(&self, since: i64, peer: &Scope, limit: usize) -> Result<Vec<DocHeads>> {
        Ok(self
            .by_seq
            .range(since.saturating_add(1)..)
            .filter_map(|(seq, id)| self.docs.get(id).map(|d| (seq, id, d)))
            .filter(|(_, _, d)| d.network || peer.covers_route(&d.route))
            .take(limit)
            .map(|(seq, id, d)| DocHeads {
                doc_id: id.clone(),
                heads: d.am.get_heads(),
                seq: *seq,
            })
            .collect())
    }
    fn doc_in_scope(&self, doc_id: &str, scope: &Scope) -> Result<bool> {
        if NETWORK_DOC_IDS.contains(&doc_id) {
            return Ok(true);
        }
        Ok(self
            .docs
            .get(doc_id)
            .is_some_and(|d| d.network || scope.covers_route(&d.route)))
    }
    fn heads_of(&self, doc_id: &str) -> Result<Option<Vec<ChangeHash>>> {
        Ok(self.docs.get(doc_id).map(|d| d.am.get_heads()))
    }
    fn heads_and_seq(&self, doc_id: &str) -> Result<Option<(Vec<ChangeHash>, i64)>> {
        Ok(self.docs.get(doc_id).map(|d| (d.am.get_heads(), d.seq)))
    }
    fn known_heads(&mut self, doc_id: &str, heads: &[ChangeHash]) -> Result<Vec<ChangeHash>> {
        Ok(self.docs.get(doc_id).map_or_else(Vec::new, |d| {
            heads
                .iter()
                .filter(|h| d.am.get_change_by_hash(h).is_some())
                .copied()
                .collect()
        }))
    }
    fn missing_changes(
        &mut self,
        doc_id: &str,
        their_heads: &[ChangeHash],
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(d) = self.docs.get(doc_id) else {
            return Ok(None);
        };
        if their_heads
            .iter()
            .any(|h| d.am.get_change_by_hash(h).is_none())
        {
            return Ok(None);
        }
        Ok(Some(
            d.am.get_changes(their_heads)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect(),
        ))
    }
    fn doc(&mut self, doc_id: &str) -> Result<Option<Automerge>> {
        Ok(self.docs.get(doc_id).map(|d| d.am.clone()))
    }
    fn apply_remote(&mut self, sender: &str, docs: &[RemoteDoc]) -> Result<Applied> {
        let sender_cert = Replica::member(self, sender)?;
        let sender_scope = self.scope_of(&sender_cert.body.station.code);
        let my_scope = self.my_scope();
        // Everything is checked on copies; the replica changes only once the whole batch passed,
        // as the store commits a batch in one transaction.
        let mut staged: BTreeMap<String, MemDoc> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut applied = Applied::default();
        for d in docs {
            let mut changes = Vec::with_capacity(d.changes.len());
            for bytes in &d.changes {
                changes.push(
                    Change::try_from(&bytes[..]).map_err(|e| {
                        rejected(&d.doc_id, format!("a change does not decode: {e}"))
                    })?,
                );
            }
            let mut authors = Vec::with_capacity(changes.len());
            for c in &changes {
                let author = hex::encode(c.actor_id().to_bytes());
                authors.push(self.member_tier(&author, &d.doc_id)?);
            }
            let network = NETWORK_DOC_IDS.contains(&d.doc_id.as_str());
            if network && authors.iter().any(|(_, tier)| *tier != Tier::City) {
                return Err(rejected(
                    &d.doc_id,
                    "only city nodes may change network documents",
                ));
            }
            let existing = staged
                .get(&d.doc_id)
                .or_else(|| self.docs.get(&d.doc_id))
                .map(|m| m.am.clone());
            let mut am = existing.unwrap_or_default();
            let before = am.get_heads();
            am.apply_changes(changes)
                .map_err(|e| rejected(&d.doc_id, e.to_string()))?;
            if !am.get_missing_deps(&[]).is_empty() {
                return Err(rejected(
                    &d.doc_id,
                    "changes arrived without the history they build on",
                ));
            }
            if am.get_heads() == before {
                applied.unchanged += 1;
                continue;
            }
            let route = if network {
                applied.network_changed = true;
                Vec::new()
            } else {
                let case = read_case(&am, &d.doc_id)?;
                if case.id != d.doc_id {
                    return Err(rejected(&d.doc_id, "the document's id does not match"));
                }
                let route = fold(&case).route;
                if !my_scope.covers_route(&route) {
                    return Err(rejected(
                        &d.doc_id,
                        "the case is not in this station's scope",
                    ));
                }
                if !sender_scope.covers_route(&route) {
                    return Err(rejected(&d.doc_id, "the case is not in the sender's scope"));
                }
                if let Some((station, _)) = authors
                    .iter()
                    .find(|(station, tier)| *tier != Tier::City && !route.contains(station))
                {
                    return Err(rejected(
                        &d.doc_id,
                        format!("station {station} never held this case"),
                    ));
                }
                route
            };
            if !staged.contains_key(&d.doc_id) {
                order.push(d.doc_id.clone());
            }
            staged.insert(
                d.doc_id.clone(),
                MemDoc {
                    am,
                    seq: 0,
                    route,
                    network,
                },
            );
        }
        for id in order {
            if let Some(m) = staged.remove(&id) {
                self.put(&id, m.am, m.route, m.network);
                applied.changed += 1;
            }
        }
        Ok(applied)
    }
    fn received_seq(&self, peer: &str) -> Result<i64> {
        Ok(self.peers.get(peer).map_or(0, |p| p.received_seq))
    }
    fn set_received_seq(&mut self, peer: &str, seq: i64) -> Result<()> {
        let p = self.peer_mut(peer);
        p.received_seq = p.received_seq.max(seq);
        Ok(())
    }
    fn set_acked_seq(&mut self, peer: &str, seq: i64) -> Result<()> {
        let p = self.peer_mut(peer);
        p.acked_seq = p.acked_seq.max(seq);
        Ok(())
    }
    /// In-memory replicas share one logical clock and need no offset.
    fn wall_clock_ms(&self) -> i64 {
        0
    }
    fn clock_offset_for_peers(&self) -> Option<i64> {
        None
    }
    fn observe_clock(&mut self, _peer: &str, _now_ms: i64, _offset_ms: Option<i64>) -> Result<()> {
        Ok(())
    }
    fn record_contact(&mut self, peer: &str, contact: Contact<'_>) -> Result<()> {
        let p = self.peer_mut(peer);
        match contact {
            Contact::Connected => {
                p.connected += 1;
                p.last_error = None;
            }
            Contact::Synced => {
                p.synced += 1;
                p.last_error = None;
            }
            Contact::Failed(e) => p.last_error = Some(e.to_string()),
        }
        Ok(())
    }
    fn sync_state(&self, peer: &str, doc_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .sync_states
            .get(&(peer.to_string(), doc_id.to_string()))
            .cloned())
    }
    fn set_sync_state(&mut self, peer: &str, doc_id: &str, state: &[u8]) -> Result<()> {
        self.sync_states
            .insert((peer.to_string(), doc_id.to_string()), state.to_vec());
        Ok(())
    }
}

/// A side of a [`Pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that dialed and sent the first hello.
    Dialer,
    /// The side that accepted; always continuous, as every accepting side is over iroh.
    Acceptor,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Dialer => 0,
            Side::Acceptor => 1,
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Dialer => Side::Acceptor,
            Side::Acceptor => Side::Dialer,
        }
    }

    fn direction(self) -> &'static str {
        match self {
            Side::Dialer => "acceptor→dialer",
            Side::Acceptor => "dialer→acceptor",
        }
    }
}

/// A message's kind, as named in [`Link::by_kind`].
pub fn kind_name(m: &Msg) -> &'static str {
    match m {
        Msg::Hello { .. } => "Hello",
        Msg::Certs { .. } => "Certs",
        Msg::Have { .. } => "Have",
        Msg::Want { .. } => "Want",
        Msg::Changes { .. } => "Changes",
        Msg::Sync { .. } => "Sync",
        Msg::Buckets { .. } => "Buckets",
        Msg::BucketWant { .. } => "BucketWant",
        Msg::Idle { .. } => "Idle",
        Msg::Ack { .. } => "Ack",
        Msg::Refused { .. } => "Refused",
        Msg::Packed(_) => "Packed",
    }
}

/// Frames, bytes and the receiver's handling time of one message kind in one direction.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct KindTally {
    /// Frames.
    pub frames: usize,
    /// Bytes of those frames.
    pub bytes: usize,
    /// Wall time the receiver spent decoding and handling them (and offering its own writes
    /// after each, when continuous), ms.
    pub handle_ms: f64,
    /// CPU time meanwhile, ms, if the pair was given a meter ([`Pair::with_cpu_meter`]).
    pub cpu_ms: f64,
}

/// What a [`Pair`] moved.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Link {
    /// Turns of [`Pair::run`]: each delivers everything queued for the acceptor, then everything
    /// queued for the dialer.
    pub rounds: usize,
    /// Frames delivered, both ways.
    pub frames: usize,
    /// Bytes of those frames.
    pub bytes: usize,
    /// Round trips as the two sessions counted them (the sum of both sides').
    pub round_trips: usize,
    /// Frames lost in flight when the connection was cut.
    pub cut_frames: usize,
    /// Wall time from the pair's creation to the last delivery, ms.
    pub wall_ms: f64,
    /// By `"Kind dialer→acceptor"` / `"Kind acceptor→dialer"`.
    pub by_kind: BTreeMap<String, KindTally>,
}

/// Two sessions and the frames in flight between them. The replicas are passed to each call, so
/// a pair can also be moved onto a node's store thread for one side's turn (the benchmark does).
#[derive(Debug)]
pub struct Pair {
    sessions: [Session; 2],
    /// Encoded frames waiting for each side, in order.
    inbox: [VecDeque<Vec<u8>>; 2],
    continuous_dialer: bool,
    /// The `seq` each side's session last looked at: a continuous session offers local writes
    /// when its node's `seq` moves, as the store's notification has it do in `net`.
    seen: [Option<i64>; 2],
    started: Instant,
    cpu: Option<fn() -> f64>,
    link: Link,
}

/// Bounds the turns of [`Pair::run`]: an exchange that is still talking after this many is
/// looping.
const MAX_ROUNDS: usize = 1_000;

impl Pair {
    /// A pair of sessions, `dialer` made by the dialing node for the acceptor and `acceptor` by
    /// the accepting node for the dialer; nothing is sent until [`Pair::start`].
    pub fn open(dialer: Session, acceptor: Session, continuous_dialer: bool) -> Pair {
        Pair {
            sessions: [dialer, acceptor],
            inbox: [VecDeque::new(), VecDeque::new()],
            continuous_dialer,
            seen: [None, None],
            started: Instant::now(),
            cpu: None,
            link: Link::default(),
        }
    }

    /// Measures each delivery's CPU time with `meter` (ms of the calling thread).
    pub fn with_cpu_meter(mut self, meter: fn() -> f64) -> Pair {
        self.cpu = Some(meter);
        self
    }

    /// The dialer's hello, queued for the acceptor.
    pub fn start<R: Replica + ?Sized>(&mut self, dialer: &mut R) -> Result<(), SyncError> {
        self.seen[0] = Some(dialer.seq()?);
        let out = self.sessions[0].start(dialer)?;
        self.queue(Side::Acceptor, &out);
        Ok(())
    }

    /// Sessions between two replicas in hand, started: `dialer` syncs once (as `sync_once`), the
    /// acceptor is continuous.
    pub fn one_shot<D: Replica + ?Sized, A: Replica + ?Sized>(
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<Pair, SyncError> {
        Pair::between(dialer, acceptor, false)
    }

    /// Sessions between two replicas in hand, started, both continuous (as `keep_synced`).
    pub fn continuous<D: Replica + ?Sized, A: Replica + ?Sized>(
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<Pair, SyncError> {
        Pair::between(dialer, acceptor, true)
    }

    fn between<D: Replica + ?Sized, A: Replica + ?Sized>(
        dialer: &mut D,
        acceptor: &mut A,
        continuous: bool,
    ) -> Result<Pair, SyncError> {
        let sd = Session::new(dialer, acceptor.node_id());
        let sa = Session::new(acceptor, dialer.node_id());
        let mut pair = Pair::open(sd, sa, continuous);
        pair.start(dialer)?;
        Ok(pair)
    }

    fn queue(&mut self, to: Side, msgs: &[Msg]) {
        for m in msgs {
            self.inbox[to.index()].push_back(proto::encode(m));
        }
    }

    fn is_continuous(&self, side: Side) -> bool {
        side == Side::Acceptor || self.continuous_dialer
    }

    /// A side's session.
    pub fn session(&self, side: Side) -> &Session {
        &self.sessions[side.index()]
    }

    /// Frames waiting for a side.
    pub fn pending(&self, side: Side) -> usize {
        self.inbox[side.index()].len()
    }

    /// The next message waiting for a side, decoded (to look at what is about to cross).
    pub fn peek(&self, to: Side) -> Option<Result<Msg, SyncError>> {
        self.inbox[to.index()]
            .front()
            .map(|f| proto::decode_frame(f).map_err(SyncError::from))
    }

    /// Whether no frame is in flight.
    pub fn is_quiet(&self) -> bool {
        self.inbox.iter().all(VecDeque::is_empty)
    }

    /// What moved so far.
    pub fn link(&self) -> Link {
        let mut link = self.link.clone();
        link.round_trips = self.sessions.iter().map(|s| s.stats().round_trips).sum();
        link
    }

    /// Delivers up to `max` frames queued for `to` (all of them with `usize::MAX`) and queues its
    /// answers for the other side; returns how many were delivered. A continuous side offers its
    /// own writes after each frame, as the store's `seq` notification has it do; a one-shot
    /// dialer that is done handles only `Ack`s and answers nothing, as after the adapter's loop.
    pub fn deliver<R: Replica + ?Sized>(
        &mut self,
        to: Side,
        node: &mut R,
        max: usize,
    ) -> Result<usize, SyncError> {
        let mut n = 0;
        while n < max {
            let Some(frame) = self.inbox[to.index()].pop_front() else {
                break;
            };
            n += 1;
            // A session follows its node's `seq` from its first frame on, as it subscribes when
            // it starts: writes before that are offered by the exchange itself.
            if self.seen[to.index()].is_none() {
                self.seen[to.index()] = Some(node.seq()?);
            }
            let msg = proto::decode_frame(&frame)?;
            // A packed frame is tallied under the kind it holds.
            let key = match &msg {
                Msg::Packed(_) => format!(
                    "{} (packed) {}",
                    crate::wire::unpack(msg.clone()).map_or("Packed", |m| kind_name(&m)),
                    to.direction()
                ),
                _ => format!("{} {}", kind_name(&msg), to.direction()),
            };
            let started = Instant::now();
            let cpu = self.cpu.map(|f| f());
            let continuous = self.is_continuous(to);
            let session = &mut self.sessions[to.index()];
            let mut out = Vec::new();
            if !continuous && to == Side::Dialer && session.is_done() {
                if matches!(msg, Msg::Ack { .. }) {
                    session.handle(node, msg)?;
                }
            } else {
                out = session.handle(node, msg)?;
            }
            let tally = self.link.by_kind.entry(key).or_default();
            tally.frames += 1;
            tally.bytes += frame.len();
            tally.handle_ms += started.elapsed().as_secs_f64() * 1e3;
            if let (Some(f), Some(before)) = (self.cpu, cpu) {
                tally.cpu_ms += f() - before;
            }
            self.link.frames += 1;
            self.link.bytes += frame.len();
            self.queue(to.other(), &out);
            if continuous {
                self.notify(to, node)?;
            }
        }
        self.link.wall_ms = self.started.elapsed().as_secs_f64() * 1e3;
        Ok(n)
    }

    /// The store's `seq` notification: if `side` is continuous and its node's `seq` moved since
    /// its session last looked, the session offers what is new. [`Pair::deliver`] calls it after
    /// each frame (the session's own writes move `seq` too); call it after a local write.
    pub fn notify<R: Replica + ?Sized>(
        &mut self,
        side: Side,
        node: &mut R,
    ) -> Result<(), SyncError> {
        if !self.is_continuous(side) {
            return Ok(());
        }
        let seq = node.seq()?;
        if self.seen[side.index()] == Some(seq) {
            return Ok(());
        }
        self.seen[side.index()] = Some(seq);
        let out = self.sessions[side.index()].poll_local(node)?;
        self.queue(side.other(), &out);
        Ok(())
    }

    /// A heartbeat at `side` (continuous sessions send one every few seconds while idle).
    pub fn heartbeat<R: Replica + ?Sized>(
        &mut self,
        side: Side,
        node: &mut R,
    ) -> Result<(), SyncError> {
        let out = self.sessions[side.index()].heartbeat(node)?;
        self.queue(side.other(), &out);
        Ok(())
    }

    /// One turn: everything queued for the acceptor, then everything queued for the dialer.
    pub fn turn<D: Replica + ?Sized, A: Replica + ?Sized>(
        &mut self,
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<(), SyncError> {
        self.link.rounds += 1;
        self.deliver(Side::Acceptor, acceptor, usize::MAX)?;
        self.deliver(Side::Dialer, dialer, usize::MAX)?;
        Ok(())
    }

    /// Turns until nothing is in flight. A one-shot exchange must then be over on both sides; a
    /// failure of either side is returned as it happened.
    pub fn run<D: Replica + ?Sized, A: Replica + ?Sized>(
        &mut self,
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<Link, SyncError> {
        for _ in 0..MAX_ROUNDS {
            if self.is_quiet() {
                break;
            }
            self.turn(dialer, acceptor)?;
        }
        self.finish()
    }

    /// What moved, after checking that the exchange is over: nothing in flight and, for a
    /// one-shot dialer, both sides done.
    pub fn finish(&self) -> Result<Link, SyncError> {
        if !self.is_quiet() {
            return Err(SyncError::Protocol(format!(
                "still talking after {MAX_ROUNDS} turns: {:?}",
                self.sessions
            )));
        }
        if !self.continuous_dialer && !self.sessions.iter().all(Session::is_done) {
            return Err(SyncError::Protocol(format!(
                "sessions did not finish: {:?}",
                self.sessions
            )));
        }
        Ok(self.link())
    }

    /// The connection ends: whatever was in flight is lost. Returns what moved.
    pub fn cut(mut self) -> Link {
        self.link.cut_frames = self.inbox.iter().map(VecDeque::len).sum();
        self.link()
    }
}
