//! The bucket summary: when the peer has lost its watermark of this node, a first contact over
//! many documents sends, per bucket of documents, the XOR of their `(doc, heads)` hashes instead
//! of listing them all; the peer asks only for the buckets that differ.

use super::*;

/// Below this many documents in scope, a first contact lists them all instead of summarising.
pub(super) const REPAIR_MIN: usize = 1_000;

/// The bucket of a document and its contribution to the bucket's hash.
fn bucket_of(doc_id: &str, heads: &[ChangeHash]) -> (u8, [u8; 16]) {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(doc_id.as_bytes());
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    for head in sorted {
        h.update(head.0);
    }
    let d: [u8; 32] = h.finalize().into();
    let mut part = [0u8; 16];
    part.copy_from_slice(&d[..16]);
    (d[16], part)
}

/// Per bucket, the XOR of its documents' hashes: equal sets of `(doc, heads)` give equal
/// summaries whatever order they were written in.
pub(super) fn bucket_hashes(docs: &[yizhan_node::replica::DocHeads]) -> Vec<[u8; 16]> {
    let mut out = vec![[0u8; 16]; BUCKETS];
    for d in docs {
        let (b, part) = bucket_of(&d.doc_id, &d.heads);
        for (x, y) in out[usize::from(b)].iter_mut().zip(part) {
            *x ^= y;
        }
    }
    out
}

impl Session {
    pub(super) fn on_buckets<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        hashes: &[[u8; 16]],
    ) -> Result<Vec<Msg>, SyncError> {
        if hashes.len() != BUCKETS {
            return Err(SyncError::Protocol(format!(
                "a summary of {} buckets",
                hashes.len()
            )));
        }
        let mine = bucket_hashes(&node.changed_since(0, &self.scope()?.clone(), usize::MAX)?);
        let buckets: Vec<u16> = (0..BUCKETS)
            .filter(|&i| mine[i] != hashes[i])
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        Ok(vec![Msg::BucketWant { buckets }])
    }

    pub(super) fn on_bucket_want<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        buckets: &[u16],
    ) -> Result<Vec<Msg>, SyncError> {
        let upto = self.bucket_upto.take().ok_or_else(|| {
            SyncError::Protocol("asked for buckets that were never offered".into())
        })?;
        let wanted: BTreeSet<u16> = buckets.iter().copied().collect();
        // In `seq` order: documents in matching buckets are already at the peer, so each chunk
        // may carry the `seq` of its last document as its watermark, and an interrupted repair
        // resumes after the chunks that were committed.
        let docs: Vec<(i64, DocHeads)> = node
            .changed_since(0, &self.scope()?.clone(), usize::MAX)?
            .into_iter()
            .filter(|d| {
                d.seq <= upto && wanted.contains(&u16::from(bucket_of(&d.doc_id, &d.heads).0))
            })
            .map(|d| {
                (
                    d.seq,
                    DocHeads {
                        id: d.doc_id,
                        heads: from_hashes(&d.heads),
                    },
                )
            })
            .collect();
        self.offered_upto = upto;
        let mut out = Vec::new();
        let n_chunks = docs.len().div_ceil(MAX_HAVE);
        if n_chunks == 0 {
            out.push(Msg::Have {
                docs: Vec::new(),
                upto,
            });
        }
        for (i, c) in docs.chunks(MAX_HAVE).enumerate() {
            let chunk_upto = if i + 1 == n_chunks {
                upto
            } else {
                c.last().map_or(upto, |(s, _)| *s)
            };
            out.push(Msg::Have {
                docs: c.iter().map(|(_, d)| d.clone()).collect(),
                upto: chunk_upto,
            });
        }
        // Anything written while the summary travelled is offered as usual.
        out.extend(
            self.offers(node)?
                .into_iter()
                .filter(|m| !matches!(m, Msg::Have { docs, .. } if docs.is_empty())),
        );
        Ok(out)
    }
}
