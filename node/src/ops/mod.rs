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

/// The last (millisecond, counter) a case id was made from in this process, so that ids made
/// here only ever grow.
static LAST_CASE_ID: std::sync::Mutex<(u64, u32)> = std::sync::Mutex::new((0, 0));

/// Ids per millisecond before the next id borrows the following millisecond (18 counter bits).
const CASE_ID_COUNTER_MAX: u32 = (1 << 18) - 1;

/// A new case id: a UUID of version 7 (RFC 9562), the node's clock in milliseconds, then a
/// counter, then random bits, so that the ids one node makes grow in the order it makes them.
///
/// Why not random (version 4) like the other ids: a case id keys the documents table and the
/// case index (`docs`, `cases`, the route and department rows), and every store in the network
/// inserts each case under it. Random keys land on a different page of each of those B-trees
/// per case, so a synced batch of a thousand new cases dirtied a thousand pages of each; ids
/// that grow append to the same few pages (issue #14). The clock only orders: a wrong clock makes
/// ids that sort out of place but stay unique (56 random bits beside the counter), and nothing
/// reads a date from an id.
pub(crate) fn new_case_id(now_ms: i64) -> Result<String> {
    let random = random_bytes::<10>()?;
    let (ms, counter) = {
        // A poisoned lock still holds a usable pair: ids keep growing from it.
        let mut last = LAST_CASE_ID
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = u64::try_from(now_ms).unwrap_or(0);
        *last = if now > last.0 {
            (now, 0)
        } else if last.1 < CASE_ID_COUNTER_MAX {
            (last.0, last.1 + 1)
        } else {
            (last.0 + 1, 0)
        };
        *last
    };
    // The builder keeps 4 bits of the first byte and 6 of the third (the version and variant
    // take the rest): the counter's 18 bits go there, high bits first, and the random bytes
    // fill the remaining 56 bits.
    let mut bytes = random;
    bytes[0] = ((counter >> 14) & 0x0F) as u8;
    bytes[1] = ((counter >> 6) & 0xFF) as u8;
    bytes[2] = (counter & 0x3F) as u8;
    Ok(uuid::Builder::from_unix_timestamp_millis(ms, &bytes)
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

#[cfg(test)]
mod case_id_tests {
    use super::new_case_id;

    #[test]
    fn case_ids_grow_in_the_order_they_are_made_whatever_the_clock_does() {
        // The same millisecond many times (a fixed clock), then a clock that goes back a day:
        // each id still sorts after the one before, as text (how SQLite compares them).
        let mut clock = vec![1_772_413_200_000_i64; 2_000];
        clock.extend([1_772_413_200_001, 1_772_326_800_000, 1_772_413_200_002]);
        let ids: Vec<String> = clock
            .iter()
            .map(|&ms| new_case_id(ms).expect("random bytes"))
            .collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        let first = uuid::Uuid::parse_str(&ids[0]).expect("a UUID");
        assert_eq!(first.get_version_num(), 7);
        assert_eq!(first.get_variant(), uuid::Variant::RFC4122);
    }
}
