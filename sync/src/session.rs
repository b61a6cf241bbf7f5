//! The sans-I/O sync session: a state machine over [`Msg`]s.
//!
//! Why one file over 800 lines: it is one state machine, and its handlers share the session's
//! fields and invariants (watermarks, chunks, what is awaited); read in one place, a change to
//! one message's handling can be checked against the others.
//!
//! A [`Session`] knows nothing of sockets or of storage. The adapter (`net`) feeds it every
//! message the peer sent and writes out whatever it returns; everything it needs from the node
//! goes through a [`Replica`] passed to each call (the store-backed `Node` in production, the
//! in-memory [`crate::testing::MemReplica`] in protocol tests), and [`crate::testing::Pair`]
//! drives two sessions against each other in memory. Each side runs the same machine:
//!
//! 1. **Hello.** Each side sends its certificate chain, its `seq` and its watermark of the other
//!    (`since`: it has everything the other wrote up to there). A side whose chain does not verify,
//!    or that is revoked, or from another network, is refused before any document moves.
//! 2. **Have.** Each side offers, in `seq` order and in chunks, the documents it wrote after the
//!    other's watermark that are in scope for both, with their heads. Reconnecting with nothing new
//!    costs one empty `Have`.
//! 3. **Changes / Want / Sync.** For each offered document the receiver compares heads. If it
//!    knows every head offered, the offerer is behind or equal, and the receiver sends exactly the
//!    changes the offerer lacks (`Changes`). Otherwise it answers `Want` with its own heads (none
//!    if it lacks the document); the offerer, knowing every one of those heads, sends exactly the
//!    rest, and if it does not (the histories diverged) starts Automerge's sync protocol for that
//!    document (`Sync`). Every document's messages of one round travel in one frame, so round
//!    trips do not grow with the number of documents.
//! 4. **Watermarks.** Received changes are applied in one transaction per frame (all or nothing,
//!    every author and both scopes checked). When every document of an offered chunk is here, the
//!    watermark moves to that chunk's `upto` and is persisted: an interrupted session resumes there
//!    and never needs what was committed resent.
//! 5. **Idle.** A side with nothing to send and nothing outstanding says `Idle`. A one-shot sync
//!    ends when both sides are idle; a continuous session stays open and offers local writes as
//!    they happen ([`Session::poll_local`]).
//!
//! **Versions.** The dialer's hello states the highest version it speaks ([`VERSION`]); the
//! acceptor answers with the version both will speak (the dialer's, if it is at least
//! [`MIN_VERSION`] and at most its own), or refuses with [`Denial::Version`]. A version 2 node
//! refuses any other version, so a dialer refused that way dials again speaking version 2 (the
//! adapter does, [`Session::speaking`]). From version 3 on, changes travel in their uncompressed
//! form and every message but the hello may be packed ([`crate::wire`]); with a version 2 peer
//! each change is sent in Automerge's own compressed form and nothing is packed, exactly as
//! version 2 sends them. A packed frame unpacks inside [`Session::handle`], bounded before
//! anything is allocated; one that does not unpack ends the session before anything is applied.

use crate::proto::{
    BUCKETS, DocChanges, DocHeads, DocSync, Hash, MAX_HAVE, Msg, TARGET_BATCH_BYTES,
    TARGET_RAW_BATCH_BYTES, size_of,
};
use crate::replica::Replica;
use crate::{Denial, SyncError};
use automerge::sync::{Message as AmSyncMessage, State as AmSyncState, SyncDoc as _};
use automerge::{Automerge, ChangeHash};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use yizhan_node::cert::{Cert, short};
use yizhan_node::replica::{Contact, RemoteDoc, Scope};

/// The highest protocol version this build speaks: 3 packs frames ([`crate::wire`]).
pub const VERSION: u32 = 3;
/// The lowest protocol version this build still speaks: 2, whose frames are never packed.
pub const MIN_VERSION: u32 = 2;
/// The first version whose frames may be packed.
const PACKED_VERSION: u32 = 3;

/// Counters for one session.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    /// Documents that changed here.
    pub docs_in: usize,
    /// Documents this side sent changes or sync data for.
    pub docs_out: usize,
    /// Messages received.
    pub msgs_in: usize,
    /// Messages sent.
    pub msgs_out: usize,
    /// Round trips this side waited through: answers that arrived to its requests (a hello, a
    /// `Have` offering documents, a `Want`, a bucket summary or request, an Automerge sync
    /// message). Requests outstanding at the same time share one round trip, so pipelined
    /// offers and wants do not add up. The figure of a link is the sum over its two sides.
    pub round_trips: usize,
}

/// Message kinds as bits, for matching answers with the requests that wait on them.
mod kind {
    pub const HELLO: u8 = 1;
    pub const HAVE: u8 = 1 << 1;
    pub const WANT: u8 = 1 << 2;
    pub const CHANGES: u8 = 1 << 3;
    pub const SYNC: u8 = 1 << 4;
    pub const BUCKET_WANT: u8 = 1 << 5;
    pub const IDLE: u8 = 1 << 6;
}

/// The kind of a received message, as a bit (0 for kinds that answer nothing).
fn kind_of(msg: &Msg) -> u8 {
    match msg {
        Msg::Hello { .. } => kind::HELLO,
        Msg::Have { .. } => kind::HAVE,
        Msg::Want { .. } => kind::WANT,
        Msg::Changes { .. } => kind::CHANGES,
        Msg::Sync { .. } => kind::SYNC,
        Msg::BucketWant { .. } => kind::BUCKET_WANT,
        Msg::Idle { .. } => kind::IDLE,
        Msg::Certs { .. }
        | Msg::Buckets { .. }
        | Msg::Refused { .. }
        | Msg::Ack { .. }
        | Msg::Packed(_) => 0,
    }
}

/// The kinds that answer a sent message, if the sender waits on an answer: the dialer's hello is
/// answered by the acceptor's, the acceptor's by the dialer's offers; offers by wants or changes
/// (or idle, when the peer had everything); a want by the changes; a summary by the request for
/// buckets, that request by offers; a sync message by the next one.
fn answered_by(msg: &Msg) -> u8 {
    match msg {
        Msg::Hello { .. } => kind::HELLO | kind::HAVE,
        Msg::Have { docs, .. } if !docs.is_empty() => {
            kind::WANT | kind::CHANGES | kind::SYNC | kind::IDLE
        }
        Msg::Want { .. } => kind::CHANGES | kind::SYNC,
        Msg::Buckets { .. } => kind::BUCKET_WANT,
        Msg::BucketWant { .. } => kind::HAVE,
        Msg::Sync { .. } => kind::SYNC | kind::CHANGES | kind::IDLE,
        _ => 0,
    }
}

struct Chunk {
    upto: i64,
    pending: BTreeSet<String>,
}

/// One sync session with one peer.
pub struct Session {
    peer: String,
    /// The highest version this side offers, until the hellos settle it; then the version both
    /// speak.
    version: u32,
    peer_cert: Option<Cert>,
    peer_scope: Option<Scope>,
    network_id: String,
    /// The peer's watermark of this node: offer documents written after this.
    offered_upto: i64,
    /// The peer's watermark of this node as its hello stated it: it holds this node's version of
    /// every shared document last written here at or before this `seq`.
    peer_since: i64,
    /// This node's watermark of the peer.
    received_upto: i64,
    /// The watermark of the peer this node last told it about (its hello or an `Ack`).
    acked_sent: i64,
    chunks: VecDeque<Chunk>,
    /// Offered heads this node does not have yet, by document.
    awaiting: HashMap<String, Vec<ChangeHash>>,
    syncs: HashMap<String, AmSyncState>,
    /// Documents whose last sync message brought changes whose dependencies have not arrived
    /// yet: the fork keeps them queued until they do.
    queued: HashMap<String, Automerge>,
    /// Whether a sync state changed since it was last persisted.
    syncs_dirty: bool,
    /// Heads the peer is known to hold, to avoid offering its own changes back to it.
    peer_has: HashMap<String, Vec<ChangeHash>>,
    hello_received: bool,
    /// The peer's `seq` in its hello: its first offers end there.
    peer_hello_seq: i64,
    /// The highest `upto` of the peer's offers so far.
    peer_offered_upto: i64,
    hello_sent: bool,
    /// The digest of this node's certificates as the peer is known to hold them (from its hello,
    /// or since they were last sent): a continuous session sends members enrolled meanwhile before
    /// any change they wrote, so the peer never refuses a relayed change by an unknown author.
    certs_shared: Option<Hash>,
    /// The `seq` at which a bucket summary was sent, until the peer answers it.
    bucket_upto: Option<i64>,
    idle_sent: bool,
    peer_idle: bool,
    /// The kinds of message that would answer this side's outstanding requests (bits of
    /// [`kind`]); 0 when it waits on nothing.
    waiting_for: u8,
    stats: SessionStats,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &short(&self.peer))
            .field("offered_upto", &self.offered_upto)
            .field("received_upto", &self.received_upto)
            .field("awaiting", &self.awaiting.len())
            .finish_non_exhaustive()
    }
}

fn to_hashes(heads: &[Hash]) -> Vec<ChangeHash> {
    heads.iter().copied().map(ChangeHash).collect()
}

fn from_hashes(heads: &[ChangeHash]) -> Vec<Hash> {
    heads.iter().map(|h| h.0).collect()
}

/// Below this many documents in scope, a first contact lists them all instead of summarising.
const REPAIR_MIN: usize = 1_000;

/// The bucket of a document and its contribution to the bucket's hash.
fn bucket_of(doc_id: &str, heads: &[ChangeHash]) -> (u8, [u8; 16]) {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(doc_id.as_bytes());
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    for head in sorted {
        h.update(head.0);
    }
    let d: [u8; 32] = h.finalize().into();
    let mut part = [0u8; 16];
    part.copy_from_slice(&d[..16]);
    (d[16], part)
}

/// Per bucket, the XOR of its documents' hashes: equal sets of `(doc, heads)` give equal
/// summaries whatever order they were written in.
fn bucket_hashes(docs: &[yizhan_node::replica::DocHeads]) -> Vec<[u8; 16]> {
    let mut out = vec![[0u8; 16]; BUCKETS];
    for d in docs {
        let (b, part) = bucket_of(&d.doc_id, &d.heads);
        for (x, y) in out[usize::from(b)].iter_mut().zip(part) {
            *x ^= y;
        }
    }
    out
}

/// A digest of a set of certificates, so that two nodes knowing the same ones skip the exchange.
pub fn certs_digest<R: Replica + ?Sized>(node: &R) -> Hash {
    let mut all = String::new();
    for c in node.members().certs().values() {
        all.push_str(&c.sig);
    }
    use sha2::Digest as _;
    sha2::Sha256::digest(all.as_bytes()).into()
}

/// Splits `items` into messages of about `target` bytes.
fn batch<T>(
    items: Vec<T>,
    target: usize,
    size: impl Fn(&T) -> usize,
    wrap: impl Fn(Vec<T>) -> Msg,
) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut bytes = 0;
    for it in items {
        let s = size(&it);
        if !cur.is_empty() && bytes + s > target {
            out.push(wrap(std::mem::take(&mut cur)));
            bytes = 0;
        }
        bytes += s;
        cur.push(it);
    }
    if !cur.is_empty() {
        out.push(wrap(cur));
    }
    out
}

/// `Changes` messages of about `target` bytes for `changes`.
fn changes_frames(changes: Vec<DocChanges>, target: usize) -> Vec<Msg> {
    batch(
        changes,
        target,
        |c| {
            size_of(&Msg::Changes {
                docs: vec![c.clone()],
            })
        },
        |docs| Msg::Changes { docs },
    )
}

impl Session {
    /// A session with `peer` (its node id, as authenticated by the transport).
    pub fn new<R: Replica + ?Sized>(node: &R, peer: &str) -> Session {
        // A watermark that cannot be read only costs a fuller exchange.
        let received_upto = node.received_seq(peer).unwrap_or(0);
        Session {
            peer: peer.to_string(),
            version: VERSION,
            peer_cert: None,
            peer_scope: None,
            network_id: node.network_id().to_string(),
            offered_upto: 0,
            peer_since: 0,
            received_upto,
            acked_sent: received_upto,
            chunks: VecDeque::new(),
            awaiting: HashMap::new(),
            syncs: HashMap::new(),
            queued: HashMap::new(),
            syncs_dirty: false,
            peer_has: HashMap::new(),
            hello_received: false,
            peer_hello_seq: 0,
            peer_offered_upto: 0,
            hello_sent: false,
            bucket_upto: None,
            certs_shared: None,
            idle_sent: false,
            peer_idle: false,
            waiting_for: 0,
            stats: SessionStats::default(),
        }
    }

    /// This session speaking at most `version` (clamped to the versions this build speaks):
    /// a dialer refused by a version 2 peer dials again with `speaking(2)`, and tests play a
    /// version 2 node with it.
    pub fn speaking(mut self, version: u32) -> Session {
        self.version = version.clamp(MIN_VERSION, VERSION);
        self
    }

    /// The version this session speaks: the highest it offers until the hellos are exchanged,
    /// then the one both sides agreed on.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The peer's node id.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Whether frames to and from the peer may be packed.
    fn packs(&self) -> bool {
        self.hello_received && self.version >= PACKED_VERSION
    }

    /// How large a batch of changes or sync messages is made: counted in uncompressed changes
    /// when frames are packed (they shrink about fivefold on the wire, so a packed frame is
    /// still about what a version 2 frame is), else in the compressed changes version 2 sends.
    fn batch_target(&self) -> usize {
        if self.packs() {
            TARGET_RAW_BATCH_BYTES
        } else {
            TARGET_BATCH_BYTES
        }
    }

    /// Changes as they go to this peer: the node hands them over uncompressed; a version 2 peer
    /// gets Automerge's compressed form of each, as version 2 sends them (a change that does not
    /// parse is sent as it is: the peer refuses it the same way either form).
    fn for_peer(&self, changes: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        if self.packs() {
            return changes;
        }
        changes
            .into_iter()
            .map(|raw| match automerge::Change::try_from(&raw[..]) {
                Ok(mut c) => c.bytes().into_owned(),
                Err(_) => raw,
            })
            .collect()
    }

    /// The peer's station, once its hello has been verified.
    pub fn peer_station(&self) -> Option<&str> {
        self.peer_cert
            .as_ref()
            .map(|c| c.body.station.code.as_str())
    }

    /// Counters so far.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Whether both sides have said they have nothing more.
    pub fn is_done(&self) -> bool {
        self.hello_received && self.idle_sent && self.peer_idle
    }

    /// The first message of the dialing side: this node's hello. The accepting side sends its
    /// hello only after the dialer's has been verified.
    pub fn start<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<Vec<Msg>, SyncError> {
        let hello = self.hello(node)?;
        Ok(self.sent(vec![hello]))
    }

    fn hello<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<Msg, SyncError> {
        self.hello_sent = true;
        let me = node.node_id().to_string();
        let mut chain = Vec::new();
        let mut cur = node.members().get(&me).cloned();
        while let Some(c) = cur {
            let issuer = c.body.issuer.clone();
            chain.push(c.to_json());
            cur = node.members().get(&issuer).cloned();
            if chain.len() > 8 {
                break;
            }
        }
        if chain.is_empty() {
            return Err(SyncError::Protocol("this node has no certificate".into()));
        }
        Ok(Msg::Hello {
            version: self.version,
            network_id: self.network_id.clone(),
            chain,
            seq: node.seq()?,
            since: self.received_upto,
            certs_digest: certs_digest(node),
            now_ms: node.wall_clock_ms(),
            clock_offset_ms: node.clock_offset_for_peers(),
        })
    }

    fn sent(&mut self, msgs: Vec<Msg>) -> Vec<Msg> {
        if msgs
            .iter()
            .any(|m| !matches!(m, Msg::Idle { .. } | Msg::Ack { .. }))
        {
            self.idle_sent = false;
            self.peer_idle = false;
        }
        self.stats.msgs_out += msgs.len();
        self.waiting_for |= msgs.iter().fold(0, |w, m| w | answered_by(m));
        if self.packs() {
            msgs.into_iter().map(crate::wire::pack).collect()
        } else {
            msgs
        }
    }

    fn scope(&self) -> Result<&Scope, SyncError> {
        self.peer_scope
            .as_ref()
            .ok_or_else(|| SyncError::Protocol("a message came before hello".into()))
    }

    /// Handles one message from the peer and returns what to send back.
    pub fn handle<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        mut msg: Msg,
    ) -> Result<Vec<Msg>, SyncError> {
        self.stats.msgs_in += 1;
        if matches!(msg, Msg::Packed(_)) {
            if !self.packs() {
                return Err(SyncError::Protocol(format!(
                    "a packed frame in protocol version {} or before the hello",
                    self.version
                )));
            }
            // Untrusted input: bounded before anything is allocated (see `wire`). A frame that
            // does not unpack ends the session here, before anything of it is applied.
            msg = crate::wire::unpack(msg).inspect_err(|e| {
                tracing::warn!(peer = %short(&self.peer), "a packed frame does not unpack: {e}");
            })?;
        }
        if self.waiting_for & kind_of(&msg) != 0 {
            // The peer answered: the round trip this side waited through is over, and so are the
            // requests it sent meanwhile.
            self.waiting_for = 0;
            self.stats.round_trips += 1;
        }
        let mut out = match msg {
            Msg::Hello {
                version,
                network_id,
                chain,
                seq,
                since,
                certs_digest: digest,
                now_ms,
                clock_offset_ms,
            } => {
                let out = self.on_hello(node, version, &network_id, &chain, seq, since, digest)?;
                // The peer is a verified member now: its clock may be this node's reference.
                node.observe_clock(&self.peer, now_ms, clock_offset_ms)?;
                out
            }
            Msg::Certs { certs } => {
                let parsed: Vec<Cert> = certs
                    .iter()
                    .filter_map(|c| Cert::from_json(c).ok())
                    .collect();
                let (_, failed) = node.add_certs(parsed)?;
                for (c, e) in failed {
                    tracing::warn!(peer = %short(&self.peer), node = %short(&c.body.node_id), "certificate not accepted: {e}");
                }
                Vec::new()
            }
            Msg::Have { docs, upto } => {
                self.peer_offered_upto = self.peer_offered_upto.max(upto);
                self.on_have(node, docs, upto)?
            }
            Msg::Changes { docs } => {
                self.scope()?;
                let remote: Vec<RemoteDoc> = docs.into_iter().map(RemoteDoc::from).collect();
                let applied = node.apply_remote(&self.peer, &remote)?;
                self.stats.docs_in += applied.changed;
                let mut touched = Vec::with_capacity(remote.len());
                for d in remote {
                    if let Some(h) = node.heads_of(&d.doc_id)? {
                        self.peer_has.insert(d.doc_id.clone(), h);
                    }
                    touched.push(d.doc_id);
                }
                self.settle(node, &touched)?;
                Vec::new()
            }
            Msg::Want { docs } => self.on_want(node, docs)?,
            Msg::Buckets { hashes, .. } => {
                self.scope()?;
                self.on_buckets(node, &hashes)?
            }
            Msg::BucketWant { buckets } => self.on_bucket_want(node, &buckets)?,
            Msg::Sync { docs } => self.on_sync(node, docs)?,
            Msg::Idle { upto } => {
                self.scope()?;
                self.peer_idle = true;
                // Everything the peer wrote up to `upto` is either offered (and here, if nothing
                // is outstanding) or came from this node.
                // A peer that overstates this only hides its own writes from this node.
                if self.awaiting.is_empty() && self.chunks.is_empty() {
                    if upto > self.received_upto {
                        self.received_upto = upto;
                        node.set_received_seq(&self.peer, upto)?;
                    }
                    // This node holds everything the peer has offered and waits for nothing:
                    // an exchange completed, which is what "last contact" means.
                    node.record_contact(&self.peer, Contact::Synced)?;
                }
                Vec::new()
            }
            Msg::Ack { upto } => {
                self.scope()?;
                // A peer that overstates this only hides this node's writes from itself.
                let upto = upto.min(node.seq()?);
                node.set_acked_seq(&self.peer, upto)?;
                Vec::new()
            }
            Msg::Refused { kind, reason } => return Err(SyncError::Refused(kind, reason)),
            Msg::Packed(_) => {
                return Err(SyncError::Protocol(
                    "a packed frame inside a packed frame".into(),
                ));
            }
        };
        if self.syncs_dirty {
            self.syncs_dirty = false;
            self.persist_states(node)?;
        }
        // Idle only once the peer's first offers are all here and answered: an idle sent while
        // its `Have` is still in flight would let a one-shot peer stop before its offers moved.
        if out.is_empty()
            && self.hello_received
            && self.peer_offered_upto >= self.peer_hello_seq
            && self.awaiting.is_empty()
            && !self.idle_sent
        {
            self.idle_sent = true;
            let upto = self.idle_upto(node)?;
            out.push(Msg::Idle { upto });
            self.stats.msgs_out += 1;
            self.push_ack(&mut out);
            return Ok(out);
        }
        let mut out = self.sent(out);
        self.push_ack(&mut out);
        Ok(out)
    }

    /// Appends an `Ack` when this node's watermark of the peer moved since it last said so: the
    /// peer then knows what it no longer needs to count as pending.
    fn push_ack(&mut self, out: &mut Vec<Msg>) {
        if self.hello_received && self.received_upto > self.acked_sent {
            self.acked_sent = self.received_upto;
            out.push(Msg::Ack {
                upto: self.received_upto,
            });
            self.stats.msgs_out += 1;
        }
    }

    /// A continuous session's heartbeat: while nothing is in flight, say `Idle` again, so that the
    /// peer records a completed exchange (its "last contact" stays true while the link is up)
    /// and a link that died is noticed by the write failing. Nothing while an exchange runs.
    pub fn heartbeat<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<Vec<Msg>, SyncError> {
        if !self.hello_received
            || !self.idle_sent
            || !self.awaiting.is_empty()
            || !self.chunks.is_empty()
        {
            return Ok(Vec::new());
        }
        let upto = self.idle_upto(node)?;
        self.stats.msgs_out += 1;
        Ok(vec![Msg::Idle { upto }])
    }

    /// Documents this side has been offered and still waits for.
    pub fn awaiting(&self) -> usize {
        self.awaiting.len()
    }

    #[allow(clippy::too_many_arguments)]
    fn on_hello<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        version: u32,
        network_id: &str,
        chain: &[String],
        peer_seq: i64,
        since: i64,
        digest: Hash,
    ) -> Result<Vec<Msg>, SyncError> {
        if self.hello_received {
            return Err(SyncError::Protocol("a second hello".into()));
        }
        // The acceptor takes the dialer's version when it speaks it; the dialer takes the
        // acceptor's answer, which is never above what it offered.
        if !(MIN_VERSION..=self.version).contains(&version) {
            return Err(SyncError::Unauthorized(
                Denial::Version,
                format!(
                    "peer speaks protocol version {version}, this node {MIN_VERSION} to {}",
                    self.version
                ),
            ));
        }
        self.version = version;
        if network_id != self.network_id {
            return Err(SyncError::Unauthorized(
                Denial::OtherNetwork,
                "the peer belongs to another network".into(),
            ));
        }
        if node.is_revoked(&self.peer) {
            return Err(SyncError::Unauthorized(
                Denial::Revoked,
                format!("node {} has been revoked", short(&self.peer)),
            ));
        }
        let certs: Vec<Cert> = chain
            .iter()
            .map(|c| Cert::from_json(c))
            .collect::<Result<_, _>>()?;
        let leaf = certs.first().ok_or_else(|| {
            SyncError::Unauthorized(Denial::NotMember, "the peer sent no certificate".into())
        })?;
        if leaf.body.node_id != self.peer {
            return Err(SyncError::Unauthorized(
                Denial::NotMember,
                "the peer's certificate is for another node".into(),
            ));
        }
        let (_, failed) = node.add_certs(certs.clone())?;
        if let Some((_, e)) = failed
            .into_iter()
            .find(|(c, _)| c.body.node_id == self.peer)
        {
            return Err(SyncError::Unauthorized(Denial::NotMember, e.to_string()));
        }
        let cert = node
            .member(&self.peer)
            .map_err(|e| SyncError::Unauthorized(Denial::NotMember, e.to_string()))?;
        self.peer_scope = Some(node.scope_of(&cert.body.station.code));
        self.peer_cert = Some(cert);
        self.hello_received = true;
        node.record_contact(&self.peer, Contact::Connected)?;
        let my_seq = node.seq()?;
        // A watermark beyond this node's seq means this store was replaced: start over.
        self.offered_upto = if since > my_seq || since < 0 {
            0
        } else {
            since
        };
        node.set_acked_seq(&self.peer, self.offered_upto)?;
        self.peer_since = self.offered_upto;
        self.peer_hello_seq = peer_seq;
        let mut out = Vec::new();
        if !self.hello_sent {
            out.push(self.hello(node)?);
        }
        let mine = certs_digest(node);
        if digest != mine {
            out.push(Msg::Certs {
                certs: node.members().certs().values().map(Cert::to_json).collect(),
            });
        }
        self.certs_shared = Some(mine);
        if self.offered_upto == 0 {
            // No watermark: summarise instead of listing every document's heads; the peer asks
            // only for the buckets that differ.
            let all = node.changed_since(0, &self.scope()?.clone(), usize::MAX)?;
            if all.len() >= REPAIR_MIN {
                self.bucket_upto = Some(my_seq);
                out.push(Msg::Buckets {
                    hashes: bucket_hashes(&all),
                    upto: my_seq,
                });
                return Ok(out);
            }
        }
        out.extend(self.offers(node)?);
        Ok(out)
    }

    fn on_buckets<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        hashes: &[[u8; 16]],
    ) -> Result<Vec<Msg>, SyncError> {
        if hashes.len() != BUCKETS {
            return Err(SyncError::Protocol(format!(
                "a summary of {} buckets",
                hashes.len()
            )));
        }
        let mine = bucket_hashes(&node.changed_since(0, &self.scope()?.clone(), usize::MAX)?);
        let buckets: Vec<u16> = (0..BUCKETS)
            .filter(|&i| mine[i] != hashes[i])
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        Ok(vec![Msg::BucketWant { buckets }])
    }

    fn on_bucket_want<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        buckets: &[u16],
    ) -> Result<Vec<Msg>, SyncError> {
        let upto = self.bucket_upto.take().ok_or_else(|| {
            SyncError::Protocol("asked for buckets that were never offered".into())
        })?;
        let wanted: BTreeSet<u16> = buckets.iter().copied().collect();
        // In `seq` order: documents in matching buckets are already at the peer, so each chunk
        // may carry the `seq` of its last document as its watermark, and an interrupted repair
        // resumes after the chunks that were committed.
        let docs: Vec<(i64, DocHeads)> = node
            .changed_since(0, &self.scope()?.clone(), usize::MAX)?
            .into_iter()
            .filter(|d| {
                d.seq <= upto && wanted.contains(&u16::from(bucket_of(&d.doc_id, &d.heads).0))
            })
            .map(|d| {
                (
                    d.seq,
                    DocHeads {
                        id: d.doc_id,
                        heads: from_hashes(&d.heads),
                    },
                )
            })
            .collect();
        self.offered_upto = upto;
        let mut out = Vec::new();
        let n_chunks = docs.len().div_ceil(MAX_HAVE);
        if n_chunks == 0 {
            out.push(Msg::Have {
                docs: Vec::new(),
                upto,
            });
        }
        for (i, c) in docs.chunks(MAX_HAVE).enumerate() {
            let chunk_upto = if i + 1 == n_chunks {
                upto
            } else {
                c.last().map_or(upto, |(s, _)| *s)
            };
            out.push(Msg::Have {
                docs: c.iter().map(|(_, d)| d.clone()).collect(),
                upto: chunk_upto,
            });
        }
        // Anything written while the summary travelled is offered as usual.
        out.extend(
            self.offers(node)?
                .into_iter()
                .filter(|m| !matches!(m, Msg::Have { docs, .. } if docs.is_empty())),
        );
        Ok(out)
    }

    /// How far the peer may move its watermark of this node: past writes that only echo what the
    /// peer itself sent (documents whose heads the peer is known to hold).
    fn idle_upto<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<i64, SyncError> {
        let scope = self.scope()?.clone();
        let seq = node.seq()?;
        if seq <= self.offered_upto {
            return Ok(self.offered_upto);
        }
        // Page through the writes in `seq` order: after a large catch-up every document the peer
        // sent is such an echo, and each page is a cheap index read.
        let mut from = self.offered_upto;
        loop {
            let page = node.changed_since(from, &scope, MAX_HAVE)?;
            if page
                .iter()
                .any(|d| self.peer_has.get(&d.doc_id) != Some(&d.heads))
            {
                return Ok(self.offered_upto);
            }
            match page.last() {
                Some(last) if page.len() == MAX_HAVE => from = last.seq,
                _ => break,
            }
        }
        self.offered_upto = seq;
        Ok(self.offered_upto)
    }

    /// `Have` messages for everything written since the last offer, in scope for the peer.
    fn offers<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut out = Vec::new();
        let my_seq = node.seq()?;
        loop {
            let docs = node.changed_since(self.offered_upto, &scope, MAX_HAVE)?;
            let full = docs.len() == MAX_HAVE;
            let upto = if full {
                docs.last().map_or(my_seq, |d| d.seq)
            } else {
                my_seq
            };
            let offered: Vec<DocHeads> = docs
                .into_iter()
                .filter(|d| self.peer_has.get(&d.doc_id) != Some(&d.heads))
                .map(|d| DocHeads {
                    id: d.doc_id,
                    heads: from_hashes(&d.heads),
                })
                .collect();
            self.offered_upto = upto;
            // The last `Have` always goes out: its `upto` tells the peer the offers are complete.
            if !offered.is_empty() || out.is_empty() || !full {
                out.push(Msg::Have {
                    docs: offered,
                    upto,
                });
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Offers what was written locally since the last offer (continuous sessions). Nothing while
    /// a bucket summary awaits its answer: that answer's offers cover everything up to the
    /// summary and then what was written meanwhile, where an offer now would list every document
    /// the summary was sent to avoid listing.
    pub fn poll_local<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<Vec<Msg>, SyncError> {
        if !self.hello_received || self.bucket_upto.is_some() || node.seq()? <= self.offered_upto {
            return Ok(Vec::new());
        }
        // Certificates first: the offers may carry changes by members enrolled since the hello.
        let mut msgs = Vec::new();
        let mine = certs_digest(node);
        if self.certs_shared != Some(mine) {
            msgs.push(Msg::Certs {
                certs: node.members().certs().values().map(Cert::to_json).collect(),
            });
            self.certs_shared = Some(mine);
        }
        msgs.extend(
            self.offers(node)?
                .into_iter()
                .filter(|m| !matches!(m, Msg::Have { docs, .. } if docs.is_empty())),
        );
        Ok(self.sent(msgs))
    }

    fn on_have<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        docs: Vec<DocHeads>,
        upto: i64,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut changes = Vec::new();
        let mut wants = Vec::new();
        let mut pending = BTreeSet::new();
        for d in docs {
            if d.id.is_empty() || d.id.len() > 64 {
                return Err(SyncError::Protocol(format!(
                    "document id of {} bytes",
                    d.id.len()
                )));
            }
            let theirs = to_hashes(&d.heads);
            self.peer_has.insert(d.id.clone(), theirs.clone());
            let local = node.heads_and_seq(&d.id)?;
            let mine = local.as_ref().map(|(h, _)| h.clone());
            if mine.as_deref() == Some(&theirs[..]) {
                continue;
            }
            // When the peer's watermark covers this node's last write of the document, the peer
            // holds this version and its different heads are newer: asking is enough, without
            // loading the document to compare histories (the common case of a catch-up). A peer
            // that overstated its watermark only gets Automerge's sync protocol instead.
            let peer_holds_mine = local
                .as_ref()
                .is_some_and(|(_, seq)| *seq <= self.peer_since);
            let behind = if mine.is_some() && !peer_holds_mine {
                node.missing_changes(&d.id, &theirs)?
            } else {
                None
            };
            if let Some(ch) = behind {
                // The peer is behind: send exactly what it lacks, if it may have it.
                if !ch.is_empty() && node.doc_in_scope(&d.id, &scope)? {
                    self.stats.docs_out += 1;
                    changes.push(DocChanges {
                        id: d.id,
                        changes: self.for_peer(ch),
                    });
                }
                continue;
            }
            // Already asked for exactly this version in this session: a continuous peer offers
            // its local changes on every tick and can offer a document again before the answer to
            // the first ask has arrived. Asking again would have it sent twice.
            if self.awaiting.get(&d.id).is_some_and(|t| *t == theirs) {
                pending.insert(d.id);
                continue;
            }
            // This node lacks something. Tell the peer what it has; the peer knows whether that is
            // a plain prefix of its history (then it sends exactly the rest) or not.
            wants.push(DocHeads {
                id: d.id.clone(),
                heads: mine.map(|m| from_hashes(&m)).unwrap_or_default(),
            });
            self.awaiting.insert(d.id.clone(), theirs);
            pending.insert(d.id);
        }
        self.chunks.push_back(Chunk { upto, pending });
        self.settle(node, &[])?;
        let mut out = changes_frames(changes, self.batch_target());
        out.extend(batch(
            wants,
            TARGET_BATCH_BYTES,
            |w| w.id.len() + 32 * w.heads.len() + 4,
            |docs| Msg::Want { docs },
        ));
        Ok(out)
    }

    fn on_want<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        docs: Vec<DocHeads>,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut changes = Vec::new();
        let mut syncs = Vec::new();
        for d in docs {
            // Only documents this node has and the peer may hold; anything else is answered with
            // silence, which reveals nothing.
            if node.heads_of(&d.id)?.is_none() || !node.doc_in_scope(&d.id, &scope)? {
                return Err(SyncError::Unauthorized(
                    Denial::OutOfScope,
                    format!("the peer asked for document {} outside its scope", d.id),
                ));
            }
            let theirs = to_hashes(&d.heads);
            if let Some(ch) = node.missing_changes(&d.id, &theirs)? {
                self.stats.docs_out += 1;
                changes.push(DocChanges {
                    id: d.id,
                    changes: self.for_peer(ch),
                });
            } else {
                // Diverged: Automerge's sync protocol finds out what each side lacks.
                let state = self.sync_state(node, &d.id)?;
                let doc = node.doc(&d.id)?.unwrap_or_default();
                if let Some(m) = doc.generate_sync_message(state) {
                    self.stats.docs_out += 1;
                    syncs.push(DocSync {
                        id: d.id,
                        message: m.encode(),
                    });
                }
            }
        }
        let mut out = changes_frames(changes, self.batch_target());
        out.extend(batch(
            syncs,
            self.batch_target(),
            |s| s.message.len() + s.id.len(),
            |docs| Msg::Sync { docs },
        ));
        Ok(out)
    }

    fn on_sync<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        docs: Vec<DocSync>,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut forks: BTreeMap<String, Automerge> = BTreeMap::new();
        let mut remote = Vec::new();
        for d in &docs {
            let exists = node.heads_of(&d.id)?.is_some();
            if exists && !node.doc_in_scope(&d.id, &scope)? {
                return Err(SyncError::Unauthorized(
                    Denial::OutOfScope,
                    format!("the peer asked for document {} outside its scope", d.id),
                ));
            }
            let msg = AmSyncMessage::decode(&d.message).map_err(|e| {
                SyncError::Protocol(format!("sync message for {} does not decode: {e}", d.id))
            })?;
            let stored = node.doc(&d.id)?;
            let before = stored
                .as_ref()
                .map(Automerge::get_heads)
                .unwrap_or_default();
            // A fork that holds changes still waiting for their dependencies continues from where
            // it was, with whatever the store got meanwhile merged in: the peer will not send
            // those changes again in this exchange (they are in its sent set).
            let mut fork = match (self.queued.remove(&d.id), stored) {
                (Some(mut f), Some(mut stored)) => {
                    f.merge(&mut stored).map_err(|e| {
                        SyncError::Protocol(format!("document {} does not merge: {e}", d.id))
                    })?;
                    f
                }
                (Some(f), None) => f,
                (None, stored) => stored.unwrap_or_default(),
            };
            let state = self.sync_state(node, &d.id)?;
            fork.receive_sync_message(state, msg).map_err(|e| {
                SyncError::Protocol(format!("sync message for {} is invalid: {e}", d.id))
            })?;
            let new: Vec<Vec<u8>> = fork
                .get_changes(&before)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect();
            if !new.is_empty() {
                remote.push(RemoteDoc {
                    doc_id: d.id.clone(),
                    changes: new,
                });
            }
            if !automerge::ReadDoc::get_missing_deps(&fork, &[]).is_empty() {
                self.queued.insert(d.id.clone(), fork.clone());
            }
            forks.insert(d.id.clone(), fork);
        }
        if !remote.is_empty() {
            let applied = node.apply_remote(&self.peer, &remote)?;
            self.stats.docs_in += applied.changed;
        }
        let mut out = Vec::new();
        let mut touched = Vec::with_capacity(forks.len());
        for (id, fork) in forks {
            // Only answer for documents the peer may hold; a document this node lacks answers
            // with empty heads, which reveals nothing.
            if node.heads_of(&id)?.is_some() && !node.doc_in_scope(&id, &scope)? {
                continue;
            }
            let state = self.sync_state(node, &id)?;
            if let Some(m) = fork.generate_sync_message(state) {
                let bytes = m.encode();
                self.stats.docs_out += 1;
                out.push(DocSync {
                    id: id.clone(),
                    message: bytes,
                });
            }
            self.peer_has.insert(id.clone(), fork.get_heads());
            touched.push(id);
        }
        self.settle(node, &touched)?;
        Ok(batch(
            out,
            self.batch_target(),
            |s| s.message.len() + s.id.len(),
            |docs| Msg::Sync { docs },
        ))
    }

    /// The Automerge sync state with the peer for a document: from memory, else as persisted,
    /// else fresh.
    fn sync_state<R: Replica + ?Sized>(
        &mut self,
        node: &R,
        id: &str,
    ) -> Result<&mut AmSyncState, SyncError> {
        if !self.syncs.contains_key(id) {
            let persisted = node
                .sync_state(&self.peer, id)?
                .and_then(|b| AmSyncState::decode(&b).ok());
            self.syncs
                .insert(id.to_string(), persisted.unwrap_or_default());
        }
        self.syncs_dirty = true;
        self.syncs
            .get_mut(id)
            .ok_or_else(|| SyncError::Protocol("sync state vanished".into()))
    }

    /// Persists the sync states touched in this session (they carry the heads both sides are
    /// known to share, so the next session's first message is small).
    fn persist_states<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<(), SyncError> {
        for (id, state) in &self.syncs {
            node.set_sync_state(&self.peer, id, &state.encode())?;
        }
        Ok(())
    }

    /// Resolves the awaited documents among `touched` (those that just received changes) and
    /// advances the watermark over complete chunks, persisting it. Only touched documents can have
    /// arrived, so a frame costs what it carries, not what is still outstanding.
    fn settle<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        touched: &[String],
    ) -> Result<(), SyncError> {
        for id in touched {
            let Some(want) = self.awaiting.get(id) else {
                continue;
            };
            let Some(heads) = node.heads_of(id)? else {
                continue;
            };
            // Usually the document now has exactly the offered heads; only a merge with local
            // writes needs the history to tell.
            let arrived = want.iter().all(|h| heads.contains(h)) || {
                let want = want.clone();
                node.known_heads(id, &want)?.len() == want.len()
            };
            if arrived {
                self.awaiting.remove(id);
            }
        }
        let mut advanced = None;
        while let Some(front) = self.chunks.front_mut() {
            front.pending.retain(|id| self.awaiting.contains_key(id));
            if !front.pending.is_empty() {
                break;
            }
            advanced = Some(front.upto);
            self.chunks.pop_front();
        }
        if let Some(upto) = advanced
            && upto > self.received_upto
        {
            self.received_upto = upto;
            node.set_received_seq(&self.peer, upto)?;
        }
        Ok(())
    }
}
