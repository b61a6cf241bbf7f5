//! Yizhan sync (`yizhan-sync`): stations enrol, authenticate and converge over iroh.
//!
//! - [`proto`]: the wire messages and their framing.
//! - [`session`]: the sans-I/O protocol core, a state machine over messages.
//! - [`replica`]: what the session needs from the node it syncs ([`replica::Replica`]),
//!   implemented for the store-backed `yizhan_node::Node`.
//! - [`testing`]: an in-memory replica and a driver that pumps frames between two sessions, for
//!   protocol tests and benchmarks without SQLite or sockets.
//! - [`net`]: the thin iroh adapter (endpoint, router, dialing, enrolment).
//! - [`ticket`]: enrolment tickets.
//! - [`bundle`]: sync through files (USB sticks).
//! - [`engine`]: the sync engine a station runs (`yizhan serve` and the window): listening,
//!   dialing every known peer with backoff, "sync now", live status; one per data directory.
//!
//! What moves and who may write what is decided by the node (`yizhan_node::replica`,
//! `yizhan_node::cert`); this crate decides when and how.

pub mod bundle;
pub mod engine;
pub mod net;
pub mod proto;
pub mod replica;
pub mod session;
pub mod testing;
pub mod ticket;
pub mod wire;

/// The ALPN of the sync protocol; the number changes with any incompatible wire change.
pub const SYNC_ALPN: &[u8] = b"yizhan/sync/2";
/// The ALPN of enrolment.
pub const ENROL_ALPN: &[u8] = b"yizhan/enrol/1";

/// Errors of sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The node refused something (a change, a certificate) or failed.
    #[error(transparent)]
    Node(#[from] yizhan_node::NodeError),
    /// A frame was too large or malformed.
    #[error(transparent)]
    Frame(#[from] proto::FrameError),
    /// The peer broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer is not allowed in (unknown, revoked, another network, out of scope).
    #[error("peer refused: {1}")]
    Unauthorized(Denial, String),
    /// The peer refused us.
    #[error("the peer refused: {1}")]
    Refused(Denial, String),
    /// The peer could not be reached.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// A bundle file was refused.
    #[error("bundle refused: {0}")]
    BadBundle(String),
    /// A ticket could not be read.
    #[error("invalid ticket: {0}")]
    BadTicket(String),
    /// Network I/O failed.
    #[error("connection: {0}")]
    Io(String),
}

/// Why a peer was not let in, as data: the refusal travels in [`proto::Msg::Refused`] so that
/// the refused side can say in plain words what is wrong (the window words each kind in
/// Chinese).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Denial {
    /// The node has been revoked.
    Revoked,
    /// The node belongs to another network.
    OtherNetwork,
    /// The node is not a member (no valid certificate chain).
    NotMember,
    /// The node speaks another protocol version.
    Version,
    /// The node asked for something outside its scope.
    OutOfScope,
    /// Anything else (a broken frame, a store failure on the other side).
    Other,
}

impl Denial {
    /// A stable word for the kind, stored with the peer's last error (`revoked: …`).
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::Revoked => "revoked",
            Denial::OtherNetwork => "other-network",
            Denial::NotMember => "not-member",
            Denial::Version => "version",
            Denial::OutOfScope => "out-of-scope",
            Denial::Other => "refused",
        }
    }
}

/// What kind of failure a sync error is, for a person: the first word of the text stored as a
/// peer's last error, so that the window can word it without parsing English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The peer could not be reached (no route, no answer, connection lost).
    Unreachable,
    /// The peer refused this node, for this reason.
    RefusedBy(Denial),
    /// This node refused the peer, for this reason.
    Refusing(Denial),
    /// Anything else: a protocol error, a local store failure.
    Other,
}

impl ErrorKind {
    /// The stored word: `unreachable`, `refused-by-<denial>`, `refusing-<denial>` or `error`.
    pub fn as_string(self) -> String {
        match self {
            ErrorKind::Unreachable => "unreachable".into(),
            ErrorKind::RefusedBy(d) => format!("refused-by-{}", d.as_str()),
            ErrorKind::Refusing(d) => format!("refusing-{}", d.as_str()),
            ErrorKind::Other => "error".into(),
        }
    }

    /// Reads the kind back from a stored last error (`kind: detail`); unknown text is `Other`.
    pub fn of_stored(text: &str) -> ErrorKind {
        let word = text.split(':').next().unwrap_or_default().trim();
        let denial = |w: &str| {
            [
                Denial::Revoked,
                Denial::OtherNetwork,
                Denial::NotMember,
                Denial::Version,
                Denial::OutOfScope,
                Denial::Other,
            ]
            .into_iter()
            .find(|d| d.as_str() == w)
        };
        if word == "unreachable" {
            ErrorKind::Unreachable
        } else if let Some(d) = word.strip_prefix("refused-by-").and_then(denial) {
            ErrorKind::RefusedBy(d)
        } else if let Some(d) = word.strip_prefix("refusing-").and_then(denial) {
            ErrorKind::Refusing(d)
        } else {
            ErrorKind::Other
        }
    }
}

impl SyncError {
    /// The kind of this error, for a person.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SyncError::Unreachable(_) | SyncError::Io(_) => ErrorKind::Unreachable,
            SyncError::Refused(d, _) => ErrorKind::RefusedBy(*d),
            SyncError::Unauthorized(d, _) => ErrorKind::Refusing(*d),
            _ => ErrorKind::Other,
        }
    }

    /// The denial to send the peer when this error ends a session.
    pub fn denial(&self) -> Denial {
        match self {
            SyncError::Unauthorized(d, _) => *d,
            _ => Denial::Other,
        }
    }

    /// The text stored as a peer's last error: the kind's word, then the detail.
    pub fn stored(&self) -> String {
        format!("{}: {self}", self.kind().as_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_errors_read_back_as_their_kind() {
        for e in [
            SyncError::Unreachable("x".into()),
            SyncError::Refused(Denial::Revoked, "node 1234 has been revoked".into()),
            SyncError::Refused(Denial::OtherNetwork, "another network".into()),
            SyncError::Unauthorized(Denial::NotMember, "unknown".into()),
            SyncError::Protocol("bad".into()),
        ] {
            assert_eq!(ErrorKind::of_stored(&e.stored()), e.kind(), "{e}");
        }
        assert_eq!(ErrorKind::of_stored("whatever"), ErrorKind::Other);
    }

    #[test]
    fn alpns_are_versioned() {
        assert!(SYNC_ALPN.ends_with(b"/2"));
        assert!(ENROL_ALPN.ends_with(b"/1"));
    }
}
