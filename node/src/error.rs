//! The error type of the station core.
//!
//! Every variant names what is wrong in words a clerk or an operator can act on; the binary prints
//! the `Display` form as its one-line error. Personal data never appears in these messages.

use std::path::PathBuf;

/// Errors from the station core (`yizhan-node`).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory holds no store.
    #[error("no Yizhan store in {0} (run `yizhan init` or `yizhan join` first)")]
    NoStore(PathBuf),
    /// The data directory already holds a store (on `init`).
    #[error("{0} already holds a store file (yizhan.sqlite3); choose another --data directory")]
    AlreadyInitialised(PathBuf),
    /// The file is not a Yizhan store (another SQLite database or not a database at all).
    #[error("{path} is not a Yizhan store: {reason}")]
    NotAStore { path: PathBuf, reason: String },
    /// The store file is damaged (SQLite reports corruption).
    #[error(
        "the store {path} is damaged ({reason}); restore it from a backup, or join again and sync"
    )]
    Damaged { path: PathBuf, reason: String },
    /// The store was written by a newer Yizhan.
    #[error(
        "the store schema version {found} is newer than this Yizhan supports ({supported}); upgrade Yizhan"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    /// SQLite failed (corruption, disk full, locked for too long …).
    #[error("store error: {0}")]
    Sqlite(rusqlite::Error),
    /// A stored document could not be decoded.
    #[error("document {doc} is corrupt: {reason}")]
    CorruptDocument { doc: String, reason: String },
    /// Automerge refused an operation.
    #[error("document error: {0}")]
    Automerge(automerge::AutomergeError),
    /// Creating or reading the data directory failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A user-supplied field is invalid; nothing was written.
    #[error("invalid {field}: {problem}")]
    InvalidInput {
        field: &'static str,
        problem: crate::invalid::Invalid,
    },
    /// No case with that id or number.
    #[error("no case with id or number {0:?}")]
    CaseNotFound(String),
    /// The catalog has no such item.
    #[error("unknown item code {0:?} (see `yizhan catalog list`)")]
    UnknownItem(String),
    /// The roster has no such station.
    #[error("unknown station code {0:?} (see `yizhan station list`)")]
    UnknownStation(String),
    /// The action is not allowed in the case's current state, at this station, or by this tier.
    #[error("{action} is not allowed: {reason}")]
    NotAllowed {
        action: &'static str,
        reason: crate::refusal::Refusal,
    },
    /// A catalog import was refused.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// A calendar edit was refused.
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
    /// `YIZHAN_NOW` or another supplied time is not RFC 3339.
    #[error("invalid time {value:?}: expected RFC 3339 such as 2026-02-13T09:30:00+08:00")]
    BadTime { value: String },
    /// A received document was refused (author, scope or format); nothing of its batch was kept.
    #[error("refused document {doc}: {reason}")]
    Rejected { doc: String, reason: String },
    /// A membership certificate (or its chain) does not verify.
    #[error("certificate refused: {0}")]
    BadCertificate(String),
    /// This station has accounts: the command needs a signed-in operator.
    #[error(
        "this station has operator accounts: sign in (--operator LOGIN, with the password in \
         YIZHAN_PASSWORD or typed at the prompt)"
    )]
    SignInRequired,
    /// The login and password do not match an enabled account of this station. The same answer
    /// for an unknown login and a wrong password.
    #[error("wrong login or password")]
    SignInFailed,
    /// Too many wrong attempts for this login: the next is accepted after a delay.
    #[error("too many wrong attempts for {login:?}; try again in {seconds} s")]
    SignInDelayed { login: String, seconds: u64 },
    /// Hashing a password failed (never with the built-in parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The store thread is gone (the node is shutting down).
    #[error("the store thread has stopped")]
    StoreGone,
    /// The store thread has more requests queued than it takes: the window's request was not
    /// queued (it never waits), and may be asked again.
    #[error("the store is busy; try again")]
    Busy,
}

impl NodeError {
    /// Shorthand for [`NodeError::InvalidInput`].
    pub fn invalid(field: &'static str, problem: crate::invalid::Invalid) -> NodeError {
        NodeError::InvalidInput { field, problem }
    }

    /// Shorthand for [`NodeError::NotAllowed`].
    pub fn not_allowed(action: &'static str, reason: crate::refusal::Refusal) -> NodeError {
        NodeError::NotAllowed { action, reason }
    }
}

// The causes are part of the message, not a `source`, so that a one-line `{:#}` does not print
// them twice.
impl From<rusqlite::Error> for NodeError {
    fn from(e: rusqlite::Error) -> NodeError {
        NodeError::Sqlite(e)
    }
}

impl From<automerge::AutomergeError> for NodeError {
    fn from(e: automerge::AutomergeError) -> NodeError {
        NodeError::Automerge(e)
    }
}

/// Result alias for the station core.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
