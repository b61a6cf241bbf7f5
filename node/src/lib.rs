//! Yizhan station core (`yizhan-node`): the domain, Automerge documents, the SQLite store and
//! queries. It does no network I/O and knows nothing of egui.
//!
//! - [`account`], [`role`]: operator accounts, roles, who may do what, password hashes.
//! - [`case`]: the case document, actions, the transition table and fold, deadlines and lights.
//! - [`calendar`], [`catalog`], [`network`], [`station`]: the network documents and their views.
//! - [`store`]: SQLite (documents, `seq`, the derived index); only its file name, schema version
//!   and index row are public, every access goes through [`Node`].
//! - `diagnostics` (hidden): what benchmarks and tests measure, and the bulk load of generated
//!   cases, without the store itself.
//! - [`Node`]: one installation, tying them together; [`NodeHandle`] runs it on its own thread.
//! - [`query`]: lists, filters and statistics over the index; [`search`]: the search keys.
//! - [`notice`]: notices to applicants (短信通知): templates, the outbox, who sends what.
//! - [`progress`]: the applicant's look-up of a case (办件查询), without personal data.
//! - [`refusal`]: why an action is not allowed, as data (each front end words it).
//! - [`inflate`]: what Automerge bytes from outside inflate to, bounded before Automerge reads
//!   them.
//! - [`invalid`]: what is wrong with a typed-in value, as data (each front end words it).

pub mod account;
pub mod calendar;
pub mod case;
pub mod catalog;
pub mod cert;
pub mod clock;
#[doc(hidden)]
pub mod diagnostics;
pub mod enrol;
pub mod error;
#[doc(hidden)]
pub mod failpoint;
pub mod handle;
pub mod idcard;
pub mod inbox;
pub mod inflate;
pub mod invalid;
pub mod network;
mod node;
pub mod notice;
mod ops;
mod parallel;
pub mod progress;
pub mod query;
pub mod refusal;
pub mod replica;
pub mod role;
pub mod search;
pub mod skew;
pub mod station;
pub mod store;

pub use clock::Clock;
pub use error::{NodeError, Result};
pub use handle::NodeHandle;
pub use invalid::Invalid;
pub use node::{
    CaseView, Identity, InitParams, NewCase, Node, Session, department_decisions, derive, index_row,
};
pub use refusal::Refusal;
