//! Steps 2 to 4: offering what was written since the peer's watermark (`Have`), answering offers
//! with the changes the peer lacks or a `Want`, Automerge's sync protocol where histories
//! diverged, and the watermarks that move as offered chunks complete.

use super::*;

impl Session {
    /// How far the peer may move its watermark of this node: past writes that only echo what the
    /// peer itself sent (documents whose heads the peer is known to hold).
    pub(super) fn idle_upto<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
    ) -> Result<i64, SyncError> {
        let scope = self.scope()?.clone();
        let seq = node.seq()?;
        if seq <= self.offered_upto {
            return Ok(self.offered_upto);
        }
        // Page through the writes in `seq` order: after a large catch-up every document the peer
        // sent is such an echo, and each page is a cheap index read.
        let mut from = self.offered_upto;
        loop {
            let page = node.changed_since(from, &scope, MAX_HAVE)?;
            if page
                .iter()
                .any(|d| self.peer_has.get(&d.doc_id) != Some(&d.heads))
            {
                return Ok(self.offered_upto);
            }
            match page.last() {
                Some(last) if page.len() == MAX_HAVE => from = last.seq,
                _ => break,
            }
        }
        self.offered_upto = seq;
        Ok(self.offered_upto)
    }

    /// `Have` messages for everything written since the last offer, in scope for the peer.
    pub(super) fn offers<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut out = Vec::new();
        let my_seq = node.seq()?;
        loop {
            let docs = node.changed_since(self.offered_upto, &scope, MAX_HAVE)?;
            let full = docs.len() == MAX_HAVE;
            let upto = if full {
                docs.last().map_or(my_seq, |d| d.seq)
            } else {
                my_seq
            };
            let offered: Vec<DocHeads> = docs
                .into_iter()
                .filter(|d| self.peer_has.get(&d.doc_id) != Some(&d.heads))
                .map(|d| DocHeads {
                    id: d.doc_id,
                    heads: from_hashes(&d.heads),
                })
                .collect();
            self.offered_upto = upto;
            // The last `Have` always goes out: its `upto` tells the peer the offers are complete.
            if !offered.is_empty() || out.is_empty() || !full {
                out.push(Msg::Have {
                    docs: offered,
                    upto,
                });
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Offers what was written locally since the last offer (continuous sessions). Nothing while
    /// a bucket summary awaits its answer: that answer's offers cover everything up to the
    /// summary and then what was written meanwhile, where an offer now would list every document
    /// the summary was sent to avoid listing.
    pub fn poll_local<R: Replica + ?Sized>(&mut self, node: &mut R) -> Result<Vec<Msg>, SyncError> {
        if !self.hello_received || self.bucket_upto.is_some() || node.seq()? <= self.offered_upto {
            return Ok(Vec::new());
        }
        // Certificates first: the offers may carry changes by members enrolled since the hello.
        let mut msgs = Vec::new();
        let mine = certs_digest(node);
        if self.certs_shared != Some(mine) {
            msgs.push(Msg::Certs {
                certs: node.members().certs().values().map(Cert::to_json).collect(),
            });
            self.certs_shared = Some(mine);
        }
        msgs.extend(
            self.offers(node)?
                .into_iter()
                .filter(|m| !matches!(m, Msg::Have { docs, .. } if docs.is_empty())),
        );
        Ok(self.sent(msgs))
    }

    pub(super) fn on_have<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        docs: Vec<DocHeads>,
        upto: i64,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut changes = Vec::new();
        let mut wants = Vec::new();
        let mut pending = BTreeSet::new();
        for d in docs {
            if d.id.is_empty() || d.id.len() > 64 {
                return Err(SyncError::Protocol(format!(
                    "document id of {} bytes",
                    d.id.len()
                )));
            }
            let theirs = to_hashes(&d.heads);
            self.peer_has.insert(d.id.clone(), theirs.clone());
            let local = node.heads_and_seq(&d.id)?;
            let mine = local.as_ref().map(|(h, _)| h.clone());
            if mine.as_deref() == Some(&theirs[..]) {
                continue;
            }
            // When the peer's watermark covers this node's last write of the document, the peer
            // holds this version and its different heads are newer: asking is enough, without
            // loading the document to compare histories (the common case of a catch-up). A peer
            // that overstated its watermark only gets Automerge's sync protocol instead.
            let peer_holds_mine = local
                .as_ref()
                .is_some_and(|(_, seq)| *seq <= self.peer_since);
            let behind = if mine.is_some() && !peer_holds_mine {
                node.missing_changes(&d.id, &theirs)?
            } else {
                None
            };
            if let Some(ch) = behind {
                // The peer is behind: send exactly what it lacks, if it may have it.
                if !ch.is_empty() && node.doc_in_scope(&d.id, &scope)? {
                    self.stats.docs_out += 1;
                    changes.push(DocChanges {
                        id: d.id,
                        changes: self.for_peer(ch),
                    });
                }
                continue;
            }
            // Already asked for exactly this version in this session: a continuous peer offers
            // its local changes on every tick and can offer a document again before the answer to
            // the first ask has arrived. Asking again would have it sent twice.
            if self.awaiting.get(&d.id).is_some_and(|t| *t == theirs) {
                pending.insert(d.id);
                continue;
            }
            // This node lacks something. Tell the peer what it has; the peer knows whether that is
            // a plain prefix of its history (then it sends exactly the rest) or not.
            wants.push(DocHeads {
                id: d.id.clone(),
                heads: mine.map(|m| from_hashes(&m)).unwrap_or_default(),
            });
            self.awaiting.insert(d.id.clone(), theirs);
            pending.insert(d.id);
        }
        self.chunks.push_back(Chunk { upto, pending });
        self.settle(node, &HashMap::new())?;
        let mut out = changes_frames(changes, self.batch_target());
        out.extend(batch(
            wants,
            TARGET_BATCH_BYTES,
            |w| w.id.len() + 32 * w.heads.len() + 4,
            |docs| Msg::Want { docs },
        ));
        Ok(out)
    }

    /// Applies received changes or whole documents (one transaction) and settles what arrived.
    pub(super) fn on_received<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        remote: Vec<RemoteDoc>,
    ) -> Result<Vec<Msg>, SyncError> {
        self.scope()?;
        let applied = node.apply_remote(&self.peer, &remote)?;
        self.stats.docs_in += applied.changed;
        // The changed documents' heads come with the batch; only the few that were unchanged
        // (already held) are asked for.
        let mut touched: HashMap<String, Vec<ChangeHash>> = applied.heads.into_iter().collect();
        for d in &remote {
            if !touched.contains_key(&d.doc_id)
                && let Some(h) = node.heads_of(&d.doc_id)?
            {
                touched.insert(d.doc_id.clone(), h);
            }
        }
        for (id, heads) in &touched {
            self.peer_has.insert(id.clone(), heads.clone());
        }
        self.settle(node, &touched)?;
        Ok(Vec::new())
    }

    pub(super) fn on_want<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        docs: Vec<DocHeads>,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut changes = Vec::new();
        let mut saved = Vec::new();
        let mut syncs = Vec::new();
        for d in docs {
            // Only documents this node has and the peer may hold; anything else is answered with
            // silence, which reveals nothing.
            if node.heads_of(&d.id)?.is_none() || !node.doc_in_scope(&d.id, &scope)? {
                return Err(SyncError::Unauthorized(
                    Denial::OutOfScope,
                    format!("the peer asked for document {} outside its scope", d.id),
                ));
            }
            // A peer that holds none of the document gets it whole, as stored, when it speaks
            // version 4: no change is taken out of the document here, and the peer loads it once.
            if d.heads.is_empty()
                && self.version >= SAVED_VERSION
                && let Some(bytes) = node.saved_doc(&d.id)?
            {
                self.stats.docs_out += 1;
                saved.push(DocSaved { id: d.id, bytes });
                continue;
            }
            let theirs = to_hashes(&d.heads);
            if let Some(ch) = node.missing_changes(&d.id, &theirs)? {
                self.stats.docs_out += 1;
                changes.push(DocChanges {
                    id: d.id,
                    changes: self.for_peer(ch),
                });
            } else {
                // Diverged: Automerge's sync protocol finds out what each side lacks.
                let state = self.sync_state(node, &d.id)?;
                let doc = node.doc(&d.id)?.unwrap_or_default();
                if let Some(m) = doc.generate_sync_message(state) {
                    self.stats.docs_out += 1;
                    syncs.push(DocSync {
                        id: d.id,
                        message: m.encode(),
                    });
                }
            }
        }
        let mut out = changes_frames(changes, self.batch_target());
        out.extend(batch(
            saved,
            self.batch_target(),
            |s| s.bytes.len() + s.id.len() + 8,
            |docs| Msg::Saved { docs },
        ));
        out.extend(batch(
            syncs,
            self.batch_target(),
            |s| s.message.len() + s.id.len(),
            |docs| Msg::Sync { docs },
        ));
        Ok(out)
    }

    pub(super) fn on_sync<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        docs: Vec<DocSync>,
    ) -> Result<Vec<Msg>, SyncError> {
        let scope = self.scope()?.clone();
        let mut forks: BTreeMap<String, Automerge> = BTreeMap::new();
        let mut remote = Vec::new();
        let mut budget = yizhan_node::inflate::Budget::default();
        for d in &docs {
            let exists = node.heads_of(&d.id)?.is_some();
            if exists && !node.doc_in_scope(&d.id, &scope)? {
                return Err(SyncError::Unauthorized(
                    Denial::OutOfScope,
                    format!("the peer asked for document {} outside its scope", d.id),
                ));
            }
            // The changes inside are measured before Automerge inflates them (a compression
            // bomb ends the session here, with nothing applied).
            budget
                .check_sync_message(&d.message)
                .map_err(|why| SyncError::Protocol(format!("sync message for {}: {why}", d.id)))?;
            let msg = AmSyncMessage::decode(&d.message).map_err(|e| {
                SyncError::Protocol(format!("sync message for {} does not decode: {e}", d.id))
            })?;
            let stored = node.doc(&d.id)?;
            let before = stored
                .as_ref()
                .map(Automerge::get_heads)
                .unwrap_or_default();
            // A fork that holds changes still waiting for their dependencies continues from where
            // it was, with whatever the store got meanwhile merged in: the peer will not send
            // those changes again in this exchange (they are in its sent set).
            let mut fork = match (self.queued.remove(&d.id), stored) {
                (Some(mut f), Some(mut stored)) => {
                    f.merge(&mut stored).map_err(|e| {
                        SyncError::Protocol(format!("document {} does not merge: {e}", d.id))
                    })?;
                    f
                }
                (Some(f), None) => f,
                (None, stored) => stored.unwrap_or_default(),
            };
            let state = self.sync_state(node, &d.id)?;
            fork.receive_sync_message(state, msg).map_err(|e| {
                SyncError::Protocol(format!("sync message for {} is invalid: {e}", d.id))
            })?;
            let new: Vec<Vec<u8>> = fork
                .get_changes(&before)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect();
            if !new.is_empty() {
                remote.push(RemoteDoc::changes(d.id.clone(), new));
            }
            if !automerge::ReadDoc::get_missing_deps(&fork, &[]).is_empty() {
                self.queued.insert(d.id.clone(), fork.clone());
            }
            forks.insert(d.id.clone(), fork);
        }
        if !remote.is_empty() {
            let applied = node.apply_remote(&self.peer, &remote)?;
            self.stats.docs_in += applied.changed;
        }
        let mut out = Vec::new();
        let mut touched = HashMap::with_capacity(forks.len());
        for (id, fork) in forks {
            // Only answer for documents the peer may hold; a document this node lacks answers
            // with empty heads, which reveals nothing.
            let held = node.heads_of(&id)?;
            if held.is_some() && !node.doc_in_scope(&id, &scope)? {
                continue;
            }
            let state = self.sync_state(node, &id)?;
            if let Some(m) = fork.generate_sync_message(state) {
                let bytes = m.encode();
                self.stats.docs_out += 1;
                out.push(DocSync {
                    id: id.clone(),
                    message: bytes,
                });
            }
            self.peer_has.insert(id.clone(), fork.get_heads());
            if let Some(heads) = held {
                touched.insert(id, heads);
            }
        }
        self.settle(node, &touched)?;
        Ok(batch(
            out,
            self.batch_target(),
            |s| s.message.len() + s.id.len(),
            |docs| Msg::Sync { docs },
        ))
    }

    /// The Automerge sync state with the peer for a document: from memory, else as persisted,
    /// else fresh.
    pub(super) fn sync_state<R: Replica + ?Sized>(
        &mut self,
        node: &R,
        id: &str,
    ) -> Result<&mut AmSyncState, SyncError> {
        if !self.syncs.contains_key(id) {
            let persisted = node
                .sync_state(&self.peer, id)?
                .and_then(|b| AmSyncState::decode(&b).ok());
            self.syncs
                .insert(id.to_string(), persisted.unwrap_or_default());
        }
        self.syncs_dirty = true;
        self.syncs
            .get_mut(id)
            .ok_or_else(|| SyncError::Protocol("sync state vanished".into()))
    }

    /// Persists the sync states touched in this session (they carry the heads both sides are
    /// known to share, so the next session's first message is small).
    pub(super) fn persist_states<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
    ) -> Result<(), SyncError> {
        for (id, state) in &self.syncs {
            node.set_sync_state(&self.peer, id, &state.encode())?;
        }
        Ok(())
    }

    /// Resolves the awaited documents among `touched` (those that just received changes, with
    /// their heads now) and advances the watermark over complete chunks, persisting it. Only
    /// touched documents can have arrived, so a frame costs what it carries, not what is still
    /// outstanding.
    pub(super) fn settle<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        touched: &HashMap<String, Vec<ChangeHash>>,
    ) -> Result<(), SyncError> {
        for (id, heads) in touched {
            let Some(want) = self.awaiting.get(id) else {
                continue;
            };
            // Usually the document now has exactly the offered heads; only a merge with local
            // writes needs the history to tell.
            let arrived = want.iter().all(|h| heads.contains(h)) || {
                let want = want.clone();
                node.known_heads(id, &want)?.len() == want.len()
            };
            if arrived {
                self.awaiting.remove(id);
            }
        }
        let mut advanced = None;
        while let Some(front) = self.chunks.front_mut() {
            front.pending.retain(|id| self.awaiting.contains_key(id));
            if !front.pending.is_empty() {
                break;
            }
            advanced = Some(front.upto);
            self.chunks.pop_front();
        }
        if let Some(upto) = advanced
            && upto > self.received_upto
        {
            self.received_upto = upto;
            node.set_received_seq(&self.peer, upto)?;
        }
        Ok(())
    }
}
