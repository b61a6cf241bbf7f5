//! Service cases (办件): the Automerge document, the actions and the fold.
//!
//! A case is one Automerge document. Its identity, the item as it was at intake, the applicant and
//! the delegation are written once, at intake; everything that happens afterwards is an event
//! appended to the `events` list. Nothing else in the document changes, so concurrent work on two
//! offline nodes merges into one longer log, and [`fold`] turns the log into the case's state the
//! same way on every node.
//!
//! - [`doc`]: the stored shape of the document and how events are appended.
//! - [`action`]: what a user can do to a case, and how an action becomes an event.
//! - [`fold`]: the transition table and the fold over the log (status, holder, approvals,
//!   conflicts, clock pauses).
//! - [`status`]: the status of a case (a leaf module: the refusals name statuses).
//! - [`deadline`]: working-day deadlines and supervision lights (红黄绿灯) from the folded clock.
//! - [`one_pass`]: reading a document for `hydrate` with one pass over each object.

pub mod action;
pub mod deadline;
pub mod doc;
pub mod fold;
pub mod materials;
pub mod one_pass;
pub mod status;

pub use action::Action;
pub use deadline::{Deadline, Light};
pub use doc::{Applicant, CaseDoc, Delegation, Event, ItemSnapshot};
pub use fold::{CaseState, Status, fold, fold_with};
