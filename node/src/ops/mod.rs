//! The operations behind [`crate::Node`]'s methods, one module per kind of work. `Node` is a
//! facade: each public method is one line that calls the function here that does the work, so
//! that `node.rs` reads as the node's API and each module below as one flow.
//!
//! - [`intake`]: taking in cases (收件): validation of the typed-in form, case numbers,
//!   `write_case` per case, index rows, all in one transaction.
//! - [`actions`]: actions on cases: what only this node knows (tier, roster, field lengths),
//!   then the transition table, then `append_event` and the index row, in one transaction.
//! - [`network_edit`]: the city's edits of the network documents (roster, catalog, calendar,
//!   settings), each applied inside the write transaction to the document as stored there.
//! - [`membership`]: certificates, revocation, this node's key and listen addresses.
//! - [`accounts`]: operator accounts (create, disable, passwords) and signing in.
//! - [`notices`]: notices (issue #15): who sends an event's notices, queueing them in the
//!   event's transaction, the outbox for the sender, local notice settings, templates.
//! - [`derived`]: what is derived from the documents: a case's view (`derive`), its index row,
//!   and the whole-index rebuild with the record of what it was computed from.
//!
//! This module holds the small helpers they share.

pub(crate) mod accounts;
pub(crate) mod actions;
pub(crate) mod derived;
pub(crate) mod intake;
pub(crate) mod membership;
pub(crate) mod network_edit;
pub(crate) mod notices;

use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::store::{DocType, WriteTx};
use automerge::Automerge;
use autosurgeon::{Hydrate, Reconcile, hydrate, reconcile};

pub(crate) fn reconcile_err(e: autosurgeon::ReconcileError) -> NodeError {
    NodeError::CorruptDocument {
        doc: "(writing)".into(),
        reason: e.to_string(),
    }
}

pub(crate) fn hydrate_doc<T: Hydrate>(doc_id: &str, doc: &Automerge) -> Result<T> {
    hydrate(doc).map_err(|e| NodeError::CorruptDocument {
        doc: doc_id.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn write_new<T: Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    doc_type: DocType,
    value: &T,
) -> Result<()> {
    let mut doc = wtx.new_doc();
    let mut tx = doc.transaction();
    reconcile(&mut tx, value).map_err(reconcile_err)?;
    tx.commit();
    wtx.put_doc(doc_id, doc_type, doc, None)
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| NodeError::Io {
        path: "(system random source)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(b)
}

pub(crate) fn new_uuid() -> Result<String> {
    Ok(uuid::Builder::from_random_bytes(random_bytes::<16>()?)
        .into_uuid()
        .to_string())
}

pub(crate) fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    if value.chars().count() > max_chars {
        return Err(NodeError::invalid(
            field,
            Invalid::TooLong { max: max_chars },
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NodeError::invalid(field, Invalid::ControlCharacters));
    }
    Ok(())
}
