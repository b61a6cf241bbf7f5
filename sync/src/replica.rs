//! [`Replica`]: everything the sans-I/O [`Session`](crate::session::Session) needs from the node
//! it syncs, as one trait.
//!
//! The session decides what to offer, ask for and send; a replica answers questions about the
//! documents it holds (heads, the `seq` of their last write, the changes a peer lacks, scopes),
//! applies a peer's changes after checking their authors and scopes, and keeps what must outlive
//! a session (watermarks, Automerge sync states, the contact record).
//!
//! Two implementations exist: the store-backed [`yizhan_node::Node`] (below; what `net` and the
//! bundles use) and the in-memory [`MemReplica`](crate::testing::MemReplica) of
//! [`crate::testing`], so that the protocol can be exercised and property-tested without SQLite.
//! Every method's contract is the one of the `Node` method it forwards to.

use automerge::{Automerge, ChangeHash};
use yizhan_node::cert::{Cert, Members};
use yizhan_node::replica::{Applied, Contact, DocHeads, RemoteDoc, Scope};
use yizhan_node::{Node, NodeError, Result};

/// What a sync session reads from and writes to the node it runs for.
pub trait Replica {
    /// This node's id (hex Ed25519 public key, also its Automerge actor id).
    fn node_id(&self) -> &str;
    /// The network's id.
    fn network_id(&self) -> &str;
    /// The node-wide change sequence: it increases on every document write.
    fn seq(&self) -> Result<i64>;

    /// The verified membership certificates.
    fn members(&self) -> &Members;
    /// Whether a node has been revoked.
    fn is_revoked(&self, node_id: &str) -> bool;
    /// The certificate of a node that may take part: known, verified and not revoked.
    fn member(&self, node_id: &str) -> Result<Cert>;
    /// Verifies and keeps certificates; returns how many were new and the ones refused, with why.
    fn add_certs(&mut self, certs: Vec<Cert>) -> Result<(usize, Vec<(Cert, NodeError)>)>;
    /// The scope of a station.
    fn scope_of(&self, station: &str) -> Scope;

    /// Documents written here after `since` in scope for `peer`, in `seq` order, at most `limit`.
    fn changed_since(&self, since: i64, peer: &Scope, limit: usize) -> Result<Vec<DocHeads>>;
    /// Whether a held document is in a scope (`false` for a document not held).
    fn doc_in_scope(&self, doc_id: &str, scope: &Scope) -> Result<bool>;
    /// A held document's heads.
    fn heads_of(&self, doc_id: &str) -> Result<Option<Vec<ChangeHash>>>;
    /// A held document's heads and the `seq` of its last write here.
    fn heads_and_seq(&self, doc_id: &str) -> Result<Option<(Vec<ChangeHash>, i64)>>;
    /// Which of `heads` this node has in the document.
    fn known_heads(&mut self, doc_id: &str, heads: &[ChangeHash]) -> Result<Vec<ChangeHash>>;
    /// The encoded changes a peer holding `their_heads` lacks, if this node knows all of those
    /// heads; `None` if it does not, or lacks the document. Uncompressed (`Change::raw_bytes`):
    /// the session compresses whole frames, or each change for a version 2 peer.
    fn missing_changes(
        &mut self,
        doc_id: &str,
        their_heads: &[ChangeHash],
    ) -> Result<Option<Vec<Vec<u8>>>>;
    /// A held document's bytes, whole, as stored (a document chunk, possibly followed by change
    /// chunks): what a peer that never held it is sent from version 4 on. `None` if not held.
    fn saved_doc(&mut self, doc_id: &str) -> Result<Option<Vec<u8>>>;
    /// A copy of a held document (for Automerge's sync protocol on diverged histories).
    fn doc(&mut self, doc_id: &str) -> Result<Option<Automerge>>;
    /// Applies documents received from `sender`, all or nothing, after checking every change's
    /// author and both sides' scopes.
    fn apply_remote(&mut self, sender: &str, docs: &[RemoteDoc]) -> Result<Applied>;

    /// The peer's `seq` up to which everything it offered is held here (0 for a stranger).
    fn received_seq(&self, peer: &str) -> Result<i64>;
    /// Advances the watermark of what has been received from a peer (never moves it back).
    fn set_received_seq(&mut self, peer: &str, seq: i64) -> Result<()>;
    /// Records how far a peer holds everything written here in its scope (never moves it back).
    fn set_acked_seq(&mut self, peer: &str, seq: i64) -> Result<()>;
    /// Records the outcome of a contact with a peer.
    fn record_contact(&mut self, peer: &str, contact: Contact<'_>) -> Result<()>;
    /// This machine's wall clock now (ms), uncorrected, for `Hello`.
    fn wall_clock_ms(&self) -> i64;
    /// This node's estimated offset from the city's clock, for `Hello` (`yizhan_node::skew`).
    fn clock_offset_for_peers(&self) -> Option<i64>;
    /// A verified peer's wall clock and offset from its `Hello`; a reference peer (the parent
    /// station's, or the city's) updates this node's estimate.
    fn observe_clock(&mut self, peer: &str, now_ms: i64, offset_ms: Option<i64>) -> Result<()>;
    /// The kept Automerge sync state with a peer for a document.
    fn sync_state(&self, peer: &str, doc_id: &str) -> Result<Option<Vec<u8>>>;
    /// Keeps the Automerge sync state with a peer for a document.
    fn set_sync_state(&mut self, peer: &str, doc_id: &str, state: &[u8]) -> Result<()>;
}

/// The store-backed node: every method is the node's own (`yizhan_node::replica`).
impl Replica for Node {
    fn node_id(&self) -> &str {
        &self.identity().node_id
    }
    fn network_id(&self) -> &str {
        &self.identity().network_id
    }
    fn seq(&self) -> Result<i64> {
        Node::seq(self)
    }
    fn members(&self) -> &Members {
        Node::members(self)
    }
    fn is_revoked(&self, node_id: &str) -> bool {
        self.roster().is_revoked(node_id)
    }
    fn member(&self, node_id: &str) -> Result<Cert> {
        Node::member(self, node_id).cloned()
    }
    fn add_certs(&mut self, certs: Vec<Cert>) -> Result<(usize, Vec<(Cert, NodeError)>)> {
        Node::add_certs(self, certs)
    }
    fn scope_of(&self, station: &str) -> Scope {
        Node::scope_of(self, station)
    }
    fn changed_since(&self, since: i64, peer: &Scope, limit: usize) -> Result<Vec<DocHeads>> {
        Node::changed_since(self, since, peer, limit)
    }
    fn doc_in_scope(&self, doc_id: &str, scope: &Scope) -> Result<bool> {
        Node::doc_in_scope(self, doc_id, scope)
    }
    fn heads_of(&self, doc_id: &str) -> Result<Option<Vec<ChangeHash>>> {
        Node::heads_of(self, doc_id)
    }
    fn heads_and_seq(&self, doc_id: &str) -> Result<Option<(Vec<ChangeHash>, i64)>> {
        Node::heads_and_seq(self, doc_id)
    }
    fn known_heads(&mut self, doc_id: &str, heads: &[ChangeHash]) -> Result<Vec<ChangeHash>> {
        Node::known_heads(self, doc_id, heads)
    }
    fn missing_changes(
        &mut self,
        doc_id: &str,
        their_heads: &[ChangeHash],
    ) -> Result<Option<Vec<Vec<u8>>>> {
        Node::missing_changes(self, doc_id, their_heads)
    }
    fn saved_doc(&mut self, doc_id: &str) -> Result<Option<Vec<u8>>> {
        Node::saved_doc(self, doc_id)
    }
    fn doc(&mut self, doc_id: &str) -> Result<Option<Automerge>> {
        self.with_doc(doc_id, |am| Ok(am.clone()))
    }
    fn apply_remote(&mut self, sender: &str, docs: &[RemoteDoc]) -> Result<Applied> {
        Node::apply_remote(self, sender, docs)
    }
    fn received_seq(&self, peer: &str) -> Result<i64> {
        Ok(self.peer(peer)?.map_or(0, |p| p.received_seq))
    }
    fn set_received_seq(&mut self, peer: &str, seq: i64) -> Result<()> {
        Node::set_received_seq(self, peer, seq)
    }
    fn set_acked_seq(&mut self, peer: &str, seq: i64) -> Result<()> {
        Node::set_acked_seq(self, peer, seq)
    }
    fn wall_clock_ms(&self) -> i64 {
        self.clock().now_ms()
    }
    fn clock_offset_for_peers(&self) -> Option<i64> {
        Node::clock_offset_for_peers(self)
    }
    fn observe_clock(&mut self, peer: &str, now_ms: i64, offset_ms: Option<i64>) -> Result<()> {
        self.observe_peer_clock(peer, now_ms, offset_ms).map(|_| ())
    }
    fn record_contact(&mut self, peer: &str, contact: Contact<'_>) -> Result<()> {
        Node::record_contact(self, peer, contact)
    }
    fn sync_state(&self, peer: &str, doc_id: &str) -> Result<Option<Vec<u8>>> {
        Node::sync_state(self, peer, doc_id)
    }
    fn set_sync_state(&mut self, peer: &str, doc_id: &str, state: &[u8]) -> Result<()> {
        Node::set_sync_state(self, peer, doc_id, state)
    }
}
