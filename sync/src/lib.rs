//! Yizhan sync (`yizhan-sync`): stations enrol, authenticate and converge over iroh.
//!
//! - [`proto`]: the wire messages and their framing.
//! - [`session`]: the sans-I/O protocol core, a state machine over messages.
//! - [`net`]: the thin iroh adapter (endpoint, router, dialing, enrolment).
//! - [`ticket`]: enrolment tickets.
//! - [`bundle`]: sync through files (USB sticks).
//!
//! What moves and who may write what is decided by the node (`yizhan_node::replica`,
//! `yizhan_node::cert`); this crate decides when and how.

pub mod bundle;
pub mod net;
pub mod proto;
pub mod session;
pub mod ticket;

/// The ALPN of the sync protocol; the number changes with any incompatible wire change.
pub const SYNC_ALPN: &[u8] = b"yizhan/sync/1";
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
    #[error("peer refused: {0}")]
    Unauthorized(String),
    /// The peer refused us.
    #[error("the peer refused: {0}")]
    Refused(String),
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

#[cfg(test)]
mod tests {
    #[test]
    fn alpns_are_versioned() {
        assert!(super::SYNC_ALPN.ends_with(b"/1"));
        assert!(super::ENROL_ALPN.ends_with(b"/1"));
    }
}
