//! The sans-I/O sync session: a state machine over [`Msg`]s.
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
//!
//! The machine is one type, [`Session`], whose handlers are spread over this module's files by
//! step: `mod.rs` the session's state, the dispatch of a received message ([`Session::handle`])
//! and what every step shares (what is sent, awaited, acknowledged); `hello.rs` step 1;
//! `exchange.rs` steps 2 to 4 (offers, wants, changes and Automerge sync, and the watermarks they
//! move); `buckets.rs` the bucket summary that repairs a lost watermark without listing every
//! document.

use crate::proto::{
    BUCKETS, DocChanges, DocHeads, DocSaved, DocSync, Hash, MAX_HAVE, Msg, TARGET_BATCH_BYTES,
    TARGET_RAW_BATCH_BYTES, size_of,
};
use crate::replica::Replica;
use crate::{Denial, SyncError};
use automerge::sync::{Message as AmSyncMessage, State as AmSyncState, SyncDoc as _};
use automerge::{Automerge, ChangeHash};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use yizhan_node::cert::{Cert, short};
use yizhan_node::replica::{Contact, RemoteDoc, Scope};

mod buckets;
mod exchange;
mod hello;

/// The highest protocol version this build speaks: 3 packs frames ([`crate::wire`]), 4 sends a
/// document the peer never held whole ([`Msg::Saved`]).
pub const VERSION: u32 = 4;
/// The lowest protocol version this build still speaks: 2, whose frames are never packed.
pub const MIN_VERSION: u32 = 2;
/// The first version whose frames may be packed.
const PACKED_VERSION: u32 = 3;
/// The first version that sends whole documents.
const SAVED_VERSION: u32 = 4;

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
        Msg::Changes { .. } | Msg::Saved { .. } => kind::CHANGES,
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
                self.on_received(node, docs.into_iter().map(RemoteDoc::from).collect())?
            }
            Msg::Saved { docs } => {
                if self.version < SAVED_VERSION {
                    return Err(SyncError::Protocol(format!(
                        "whole documents from a peer speaking version {}",
                        self.version
                    )));
                }
                self.on_received(node, docs.into_iter().map(RemoteDoc::from).collect())?
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
}
