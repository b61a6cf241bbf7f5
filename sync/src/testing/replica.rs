//! [`MemReplica`]: one node in memory, with the store-backed node's author and scope checks when
//! it applies a peer's changes.

use super::NOW;
use crate::replica::Replica;
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc as _};
use std::collections::{BTreeMap, HashMap};
use yizhan_node::account::Directory;
use yizhan_node::case::doc::{append_event, read_case, write_case};
use yizhan_node::case::{Action, Applicant, CaseDoc, ItemSnapshot, fold};
use yizhan_node::cert::{Cert, Members};
use yizhan_node::network::{NETWORK_DOC_IDS, Roster, Station};
use yizhan_node::replica::{Applied, Contact, DocHeads, Payload, RemoteDoc, Scope, load_saved};
use yizhan_node::station::Tier;
use yizhan_node::{NodeError, Result};

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
    /// A replica holding no documents yet, for a node whose certificate `members` holds.
    pub(super) fn new(
        node_id: String,
        actor: ActorId,
        network_id: &str,
        station: &str,
        members: Members,
        roster: Roster,
    ) -> MemReplica {
        MemReplica {
            node_id,
            actor,
            network_id: network_id.to_string(),
            station: station.to_string(),
            members,
            roster,
            docs: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            seq: 0,
            counter: 0,
            peers: BTreeMap::new(),
            sync_states: HashMap::new(),
        }
    }

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
        let case = CaseDoc::new(
            id.clone(),
            format!("{}-{}", self.station, self.counter),
            at,
            &self.station,
            &self.node_id,
            ItemSnapshot {
                code: "TS-004".into(),
                name: "测试事项".into(),
                kind: yizhan_node::catalog::CaseKind::Promised,
                legal_days: 20,
                promised_days: 10,
                tier: Tier::Township,
                materials: vec!["身份证".into()],
                departments: vec!["甲".into(), "乙".into()],
            },
            Applicant::named(format!("申请人{}", self.counter)),
        );

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
    fn saved_doc(&mut self, doc_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.docs.get(doc_id).map(|d| d.am.save_nocompress()))
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
        let mut budget = yizhan_node::inflate::Budget::default();
        for d in docs {
            d.check_inflated(&mut budget)?;
            // A whole document is taken apart into its changes: this replica checks and applies
            // changes one way, whatever form they came in.
            let changes = match &d.payload {
                Payload::Saved(bytes) => load_saved(&d.doc_id, bytes)?.get_changes(&[]),
                Payload::Changes(encoded) => {
                    let mut changes = Vec::with_capacity(encoded.len());
                    for bytes in encoded {
                        changes.push(Change::try_from(&bytes[..]).map_err(|e| {
                            rejected(&d.doc_id, format!("a change does not decode: {e}"))
                        })?);
                    }
                    changes
                }
            };
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
                // As the store: a station on the route, or an ancestor of one (a township's 督办 on
                // its village's case).
                if let Some((station, _)) = authors.iter().find(|(station, tier)| {
                    *tier != Tier::City && !route.iter().any(|r| self.roster.is_within(r, station))
                }) {
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
                applied.heads.push((id.clone(), m.am.get_heads()));
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
