//! Applying the case documents of a received batch: the checks and the CPU work per document on
//! worker threads, the SQL on the store's thread (issue #14).
//!
//! [`CaseCheck::prepare`] decodes the received changes (each hashed) and checks that their
//! authors are members, merges them into the stored document, reads the case back, folds it,
//! checks the scopes and the authors' stations, computes its index row and saves the document's
//! bytes — everything but SQL, so it runs on [`crate::parallel::map_in_order`]'s workers. The
//! store's thread then writes each [`Prepared`] in the batch's order, in the batch's one
//! transaction: the same checks as before, the same all-or-nothing batch, the first problem in
//! the batch's order reported. The search keys of the batch's new cases are written together at
//! its end, in key order ([`PendingKeys`]).

use super::{Applied, Scope, check_history, decode_changes, load_saved, rejected};
use crate::account::Directory;
use crate::calendar::Calendar;
use crate::case::doc::read_case;
use crate::cert::Members;
use crate::error::Result;
use crate::network::{Roster, Settings};
use crate::node::{CaseView, derive, index_row};
use crate::ops::membership::member_of;
use crate::station::Tier;
use crate::store::index::{self, IndexRow, PendingKeys};
use crate::store::{DocType, Held, WriteTx};
use automerge::{ActorId, Automerge, ChangeHash};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// A received case document: its id, the stored document (if any) and what the peer sent.
pub(super) struct CaseInput<'a> {
    pub doc_id: String,
    /// The document held here, loaded on the worker.
    pub existing: Option<Held>,
    pub payload: CasePayload<'a>,
}

/// What a peer sent of a case document.
pub(super) enum CasePayload<'a> {
    /// Its changes, as they came (decoded on the worker).
    Changes(&'a [Vec<u8>]),
    /// The whole document's bytes ([`super::Payload::Saved`]), loaded on a worker.
    Saved(&'a [u8]),
}

/// What the checks make of a received case document.
pub(super) enum Prepared {
    /// Every change was known here already: the stored document, to go back to the cache.
    Unchanged {
        doc_id: String,
        stored: Option<Automerge>,
    },
    /// Outside this node's scope, in a bundle made for a wider one: skipped.
    OutOfScope,
    /// Merged, checked and saved, ready to be written.
    Changed(Box<ChangedCase>),
}

/// A merged case document, checked, with what the store writes for it.
pub(super) struct ChangedCase {
    doc_id: String,
    doc: Merged,
    /// Its heads now.
    heads: Vec<ChangeHash>,
    /// The snapshot (new document) or the increment since the heads before.
    saved: Vec<u8>,
    view: CaseView,
    row: IndexRow,
}

/// A changed case document, as the store takes it.
enum Merged {
    /// New here: the document, for the cache, unless the batch is too large to cache.
    New(Option<Automerge>),
    /// Held here before: the document and its heads before the merge.
    Changed {
        am: Automerge,
        before: Vec<ChangeHash>,
    },
}

/// Everything the checks of one batch read, shared by the workers.
pub(super) struct CaseCheck<'a> {
    pub calendar: &'a Calendar,
    pub settings: &'a Settings,
    pub accounts: &'a Directory,
    pub roster: &'a Roster,
    pub my_scope: &'a Scope,
    pub sender_scope: &'a Scope,
    /// Each author's (node id) station and tier, for the authors of the batch's network and
    /// people documents' changes.
    pub authors: &'a BTreeMap<String, (String, Tier)>,
    /// The certificates, for the authors of cases' changes, known only once decoded.
    pub members: &'a Members,
    pub today: NaiveDate,
    /// Skip documents outside this node's scope instead of refusing the batch (bundles).
    pub skip_out_of_scope: bool,
    /// Whether new documents go to the cache (a small batch: a continuous session's).
    pub cache_new: bool,
    /// This node's actor, for the documents loaded here.
    pub actor: &'a ActorId,
}

impl CaseCheck<'_> {
    /// Merges, reads, folds, checks and saves one received case document (no SQL).
    pub(super) fn prepare(&self, input: CaseInput<'_>) -> Result<Prepared> {
        let CaseInput {
            doc_id,
            existing,
            payload,
        } = input;
        let is_new = existing.is_none();
        let mut am = match existing {
            Some(held) => held.load(&doc_id, self.actor)?,
            None => Automerge::default(),
        };
        let before = am.get_heads();
        // A whole document that is new here is stored as it came: it loaded strictly, so it
        // reads back as this very document, and saving it again would only cost time. So are
        // the changes to a held document when each is provably new here (`increment`):
        // `save_after` would rebuild them from the merged document's operations.
        let mut received = None;
        let mut increment = None;
        // Each author of what arrived must be a member, whatever else is wrong with the
        // document: checked before it is merged.
        let authors: Vec<(String, Tier)> = match payload {
            CasePayload::Changes(encoded) => {
                let changes = decode_changes(&doc_id, encoded)?;
                let authors = self.authors_of(&doc_id, changes.iter().map(|c| c.actor_id()))?;
                if !is_new && all_new(&before, &changes) {
                    let parts: Vec<&[u8]> = changes.iter().map(|c| c.raw_bytes()).collect();
                    increment = Some(parts.concat());
                }
                am.apply_changes(changes)
                    .map_err(|e| rejected(&doc_id, e.to_string()))?;
                authors
            }
            CasePayload::Saved(bytes) => {
                let mut loaded = load_saved(&doc_id, bytes)?;
                if is_new {
                    am = loaded;
                    received = Some(bytes.to_vec());
                } else {
                    am.merge(&mut loaded)
                        .map_err(|e| rejected(&doc_id, e.to_string()))?;
                }
                self.authors_of(
                    &doc_id,
                    am.get_changes_meta(&before)
                        .iter()
                        .map(|m| m.actor.as_ref()),
                )?
            }
        };
        check_history(&am, &doc_id)?;
        if am.get_heads() == before {
            return Ok(Prepared::Unchanged {
                doc_id,
                stored: (!is_new).then_some(am),
            });
        }
        let case = read_case(&am, &doc_id).map_err(|e| rejected(&doc_id, e.to_string()))?;
        if case.id != doc_id {
            return Err(rejected(&doc_id, "the document's id does not match"));
        }
        let view = derive(
            case,
            self.calendar,
            self.settings,
            self.accounts,
            self.today,
        );
        let route = &view.state.route;
        if !self.my_scope.covers_route(route) {
            if self.skip_out_of_scope {
                return Ok(Prepared::OutOfScope);
            }
            return Err(rejected(&doc_id, "the case is not in this station's scope"));
        }
        if !self.sender_scope.covers_route(route) {
            return Err(rejected(&doc_id, "the case is not in the sender's scope"));
        }
        for (station, tier) in &authors {
            // A station on the route, or an ancestor of one (a township's 督办 on its village's
            // case).
            if *tier != Tier::City && !route.iter().any(|r| self.roster.is_within(r, station)) {
                return Err(rejected(
                    &doc_id,
                    format!("station {station} never held this case"),
                ));
            }
        }
        let saved = if is_new {
            received.unwrap_or_else(|| am.save_nocompress())
        } else {
            increment.unwrap_or_else(|| am.save_after(&before))
        };
        let row = index_row(&view, self.roster);
        let heads = am.get_heads();
        // A document not cached is dropped here, on a worker, not on the store's thread.
        let doc = if is_new {
            Merged::New(self.cache_new.then_some(am))
        } else {
            Merged::Changed { am, before }
        };
        Ok(Prepared::Changed(Box::new(ChangedCase {
            doc_id,
            doc,
            heads,
            saved,
            view,
            row,
        })))
    }

    /// The station and tier of each author (an actor of the document's changes, a node id)
    /// once: a member that is not revoked, else the document is refused.
    fn authors_of<'b>(
        &self,
        doc_id: &str,
        actors: impl Iterator<Item = &'b ActorId>,
    ) -> Result<Vec<(String, Tier)>> {
        let mut ids: Vec<String> = actors.map(|a| hex::encode(a.to_bytes())).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.iter()
            .map(|author| {
                if let Some(known) = self.authors.get(author) {
                    return Ok(known.clone());
                }
                let cert = member_of(self.members, self.roster, author)
                    .map_err(|e| rejected(doc_id, format!("change by a non-member: {e}")))?;
                Ok((cert.body.station.code.clone(), cert.body.station.tier()))
            })
            .collect()
    }
}

/// Whether each of `changes` is new to a document whose heads are `heads`, proven by its
/// dependencies alone: a change that builds on a head, or on a change proven new before it in
/// the list, is not in the document (nothing there builds on a head). Then the changes' own
/// bytes are exactly what the merge adds, in an order the store loads them back in. A change
/// that builds on neither (a concurrent branch from older history, or one already held), or
/// one listed twice, makes the caller ask the merged document instead.
fn all_new(heads: &[ChangeHash], changes: &[automerge::Change]) -> bool {
    let mut new: Vec<ChangeHash> = Vec::with_capacity(changes.len());
    for c in changes {
        let builds_on_new = c
            .deps()
            .iter()
            .any(|d| heads.contains(d) || new.contains(d));
        if !builds_on_new || new.contains(&c.hash()) {
            return false;
        }
        new.push(c.hash());
    }
    !new.is_empty()
}

/// What the store's thread needs beside a prepared case to queue its notices (issue #15).
pub(super) struct NoticeContext<'a> {
    pub roster: &'a Roster,
    pub templates: &'a crate::notice::Templates,
    /// This node's id.
    pub me: &'a str,
    pub now_ms: i64,
}

/// Writes one prepared case in the batch's transaction: the document, its index rows and the
/// notices this node sends for it.
pub(super) fn write(
    wtx: &mut WriteTx<'_>,
    prepared: Prepared,
    notices: &NoticeContext<'_>,
    keys: &mut PendingKeys,
    applied: &mut Applied,
) -> Result<()> {
    match prepared {
        Prepared::Unchanged { doc_id, stored } => {
            if let Some(am) = stored {
                wtx.put_back(&doc_id, am)?;
            }
            applied.unchanged += 1;
        }
        Prepared::OutOfScope => applied.out_of_scope += 1,
        Prepared::Changed(c) => {
            let c = *c;
            let (doc_id, view) = (c.doc_id, c.view);
            match c.doc {
                Merged::New(am) => {
                    wtx.put_new_doc_saved(&doc_id, DocType::Case, &c.heads, c.saved, am)?;
                    index::insert_new_deferring_keys(wtx.sql(), &c.row, keys)?;
                }
                Merged::Changed { am, before } => {
                    wtx.put_doc_saved(&doc_id, DocType::Case, am, Some(&before), c.saved)?;
                    index::upsert_deferring_keys(wtx.sql(), &c.row, keys)?;
                }
            }
            // A notice whose event names this node as its sender is queued in the batch's
            // transaction; one already queued (or sent) is left alone.
            crate::ops::notices::queue_doc(
                wtx.sql(),
                &view.doc,
                crate::notice::Context {
                    roster: notices.roster,
                    templates: notices.templates,
                    due: view.deadline.due_on,
                },
                notices.me,
                notices.now_ms,
            )?;
            applied.changed += 1;
            applied.heads.push((doc_id, c.heads));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::all_new;
    use automerge::transaction::Transactable as _;
    use automerge::{ActorId, Automerge, AutomergeError, Change, ROOT};

    /// One more change to `am` by `actor`, returned decoded as a peer would send it.
    fn change(am: &mut Automerge, actor: u8, value: &str) -> Change {
        am.set_actor(ActorId::from(vec![actor; 16]));
        let before = am.get_heads();
        am.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "v", value))
            .unwrap();
        am.get_changes(&before).pop().unwrap()
    }

    #[test]
    fn only_changes_that_build_on_the_heads_or_on_each_other_are_proven_new() {
        let mut held = Automerge::new();
        let first = change(&mut held, 1, "a");
        let heads = held.get_heads();
        let mut peer = held.fork();
        let c1 = change(&mut peer, 2, "b");
        let c2 = change(&mut peer, 2, "c");
        assert!(
            all_new(&heads, &[c1.clone(), c2.clone()]),
            "a chain on the head"
        );
        assert!(all_new(&heads, std::slice::from_ref(&c1)));
        // Out of causal order, listed twice, empty, or already held: not proven.
        assert!(!all_new(&heads, &[c2, c1.clone()]));
        assert!(!all_new(&heads, &[c1.clone(), c1.clone()]));
        assert!(!all_new(&heads, &[]));
        assert!(!all_new(&heads, &[first, c1]));
        // A branch from older history: the holder changed the document meanwhile, so the
        // peer's change builds on a change that is no longer a head.
        let mut branch = held.fork();
        let b1 = change(&mut branch, 3, "d");
        let _own = change(&mut held, 1, "e");
        assert!(!all_new(&held.get_heads(), &[b1]));
    }
}
