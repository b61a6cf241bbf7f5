//! The integration tests of `yizhan-node`, one test binary with a module per area (one link step
//! for all of them instead of one per file). Shared helpers are in [`common`].
//!
//! - [`case_doc`]: a case document's stored item, typed on reading.
//! - [`store`]: the store, the index rebuilt from the documents, compaction, the cache, bad files.
//! - [`transitions`]: the transition table cell by cell, and through a real node.
//! - [`deadlines`]: deadlines and lights day by day.
//! - [`convergence`]: copies of a case changed apart and merged in any order.
//! - [`network_edits`]: the city's edits of the catalog and the calendar.
//! - [`search`]: search keys.
//! - [`ranking`]: the ranking by operator and department.

mod case_doc;
mod common;
mod convergence;
mod deadlines;
mod network_edits;
mod ranking;
mod search;
mod store;
mod transitions;
mod warnings;
