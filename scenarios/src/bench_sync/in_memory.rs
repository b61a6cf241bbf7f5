//! What is measured without sockets: the sans-I/O session driven in memory between the two
//! store threads, the store's floor for a catch-up without any session, and the per-document
//! cost of the store calls a session makes.

use super::peer::call;
use super::workload::heads;
use crate::measure::{process_cpu_ms, thread_cpu_ms};
use anyhow::{Result, anyhow};
use automerge::ChangeHash;
use serde_json::{Value, json};
use std::time::Instant;
use yizhan_node::NodeHandle;
use yizhan_node::replica::{Payload, RemoteDoc};
use yizhan_sync::proto;
use yizhan_sync::session::Session;
use yizhan_sync::testing::{Link, Pair as SessionPair, Side};

/// on the second.
pub(super) fn probe_costs(h: &NodeHandle, ids: &[String]) -> Result<Value> {
    let ids = ids.to_vec();
    call(h, move |node| {
        let us = |t: Instant, n: usize| t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
        let t = Instant::now();
        let mut heads = Vec::with_capacity(ids.len());
        for id in &ids {
            heads.push(node.heads_of(id)?.unwrap_or_default());
        }
        let heads_of_us = us(t, ids.len());
        let t = Instant::now();
        for _ in 0..2 {
            for (id, hd) in ids.iter().zip(&heads) {
                node.known_heads(id, hd)?;
            }
        }
        let known_heads_all_us = us(t, 2 * ids.len());
        let small = ids.len().min(yizhan_node::store::DEFAULT_CACHE_DOCS / 2);
        let t = Instant::now();
        for (id, hd) in ids.iter().zip(&heads).take(small) {
            node.known_heads(id, hd)?;
        }
        let known_heads_load_us = us(t, small);
        let t = Instant::now();
        for (id, hd) in ids.iter().zip(&heads).take(small) {
            node.known_heads(id, hd)?;
        }
        let known_heads_hit_us = us(t, small);
        Ok(json!({
            "docs": ids.len(),
            "cache_docs": yizhan_node::store::DEFAULT_CACHE_DOCS,
            "heads_of_us": heads_of_us,
            "known_heads_over_all_us": known_heads_all_us,
            "known_heads_load_us": known_heads_load_us,
            "known_heads_cached_us": known_heads_hit_us,
        }))
    })
}

/// One run of [`store_floor`].
pub(super) struct Floor {
    /// The township reading what the city lacks.
    pub read_ms: f64,
    /// The city applying it, in all.
    pub apply_ms: f64,
    /// The process's CPU time meanwhile (the city's store thread and its workers: the township
    /// is idle), steadier than the wall time on a shared machine.
    pub apply_cpu_ms: f64,
    /// Of which the documents it held, as changes.
    pub changes_ms: f64,
    /// Of which the documents new to it, whole.
    pub whole_ms: f64,
    /// Documents changed at the city.
    pub changed: usize,
}

/// The store's floor for a catch-up, without the session: the township reads what the city
/// lacks as the session sends it (since protocol version 4: a document the city does not hold at
/// all whole, as stored; the others' missing changes, `missing_changes` against the city's heads)
/// and the city applies it (`apply_remote`, in frames of the session's target size, changes
/// first and whole documents after, as `Session` batches them).
pub(super) fn store_floor(town: &NodeHandle, city: &NodeHandle, ids: &[String]) -> Result<Floor> {
    let before = heads(city, ids)?;
    let pairs: Vec<(String, Option<Vec<ChangeHash>>)> = ids.iter().cloned().zip(before).collect();
    let ((changes, whole), read_ms) = call(town, move |node| {
        let t = Instant::now();
        let (mut changes, mut whole) = (Vec::new(), Vec::new());
        for (id, theirs) in pairs {
            match theirs {
                None => {
                    let bytes = node
                        .saved_doc(&id)?
                        .ok_or_else(|| yizhan_node::NodeError::CaseNotFound(id.clone()))?;
                    whole.push(RemoteDoc::saved(id, bytes));
                }
                Some(h) => {
                    let missing = node
                        .missing_changes(&id, &h)?
                        .ok_or_else(|| yizhan_node::NodeError::CaseNotFound(id.clone()))?;
                    changes.push(RemoteDoc::changes(id, missing));
                }
            }
        }
        Ok(((changes, whole), t.elapsed().as_secs_f64() * 1e3))
    })?;
    let sender = call(town, |n| Ok(n.identity().node_id.clone()))?;
    call(city, move |node| {
        let t = Instant::now();
        let cpu = process_cpu_ms();
        let mut changed = 0;
        let mut split = Vec::new();
        for docs in [changes, whole] {
            let part = Instant::now();
            let mut batch: Vec<RemoteDoc> = Vec::new();
            let mut bytes = 0;
            for doc in docs {
                let n = match &doc.payload {
                    Payload::Changes(c) => c.iter().map(Vec::len).sum(),
                    Payload::Saved(b) => b.len(),
                };
                if !batch.is_empty() && bytes + n > proto::TARGET_BATCH_BYTES {
                    changed += node.apply_remote(&sender, &batch)?.changed;
                    batch.clear();
                    bytes = 0;
                }
                bytes += n;
                batch.push(doc);
            }
            if !batch.is_empty() {
                changed += node.apply_remote(&sender, &batch)?.changed;
            }
            split.push(part.elapsed().as_secs_f64() * 1e3);
        }
        Ok(Floor {
            read_ms,
            apply_ms: t.elapsed().as_secs_f64() * 1e3,
            apply_cpu_ms: process_cpu_ms() - cpu,
            changes_ms: split[0],
            whole_ms: split[1],
            changed,
        })
    })
}

/// A session between `a` (dialer, one-shot) and `b` (accepting, continuous as over iroh), in
/// memory through the shared driver (`yizhan_sync::testing::Pair`), until both are idle. Each
/// turn moves the pair onto `b`'s store thread to deliver everything queued for it, then onto
/// `a`'s; the pair times each message kind's handling and the store thread's CPU time for it.
pub(super) fn sync_in_memory(a: &NodeHandle, b: &NodeHandle) -> Result<Link> {
    let a_id = call(a, |n| Ok(n.identity().node_id.clone()))?;
    let b_id = call(b, |n| Ok(n.identity().node_id.clone()))?;
    let sb = call(b, move |n| Ok(Session::new(n, &a_id)))?;
    let (mut pair, started) = call(a, move |n| {
        let sa = Session::new(n, &b_id);
        let mut pair = SessionPair::open(sa, sb, false).with_cpu_meter(thread_cpu_ms);
        let started = pair.start(n);
        Ok((pair, started))
    })?;
    started.map_err(|e| anyhow!("start: {e}"))?;
    let mut rounds = 0;
    while !pair.is_quiet() && rounds < 1_000 {
        rounds += 1;
        for (h, side) in [(b, Side::Acceptor), (a, Side::Dialer)] {
            let (p, r) = call(h, move |n| {
                let r = pair.deliver(side, n, usize::MAX);
                Ok((pair, r))
            })?;
            pair = p;
            r.map_err(|e| anyhow!("in-memory session: {e}"))?;
        }
    }
    let mut link = pair
        .finish()
        .map_err(|e| anyhow!("the in-memory sessions did not finish: {e}"))?;
    link.rounds = rounds;
    Ok(link)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::bench_sync::workload::{
        Intake, case_count, create_pair, differing, lower_bound, make_changes, take_in,
    };
    use crate::county::County;
    use crate::rng::Rng;

    /// The pieces of the benchmark on two small real stores: enrolment, intake, changes, the
    /// lower bound and the in-memory session (no sockets).
    #[test]
    fn a_small_catch_up_in_memory_converges_in_few_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let county = County::new();
        let (c, t) = create_pair(&tmp.path().join("c"), &tmp.path().join("t"), &county).unwrap();
        let intake = Intake::new(&t).unwrap();
        let (ch, cth) = NodeHandle::spawn(c).unwrap();
        let (th, tth) = NodeHandle::spawn(t).unwrap();
        let mut rng = Rng::new(1);
        take_in(&th, &intake, &mut rng, 60, 25, false).unwrap();
        let first = sync_in_memory(&th, &ch).unwrap();
        assert!(first.rounds <= 4, "{first:?}");
        assert_eq!(case_count(&ch).unwrap(), 60);
        let idle = sync_in_memory(&th, &ch).unwrap();
        assert!(idle.bytes < 8_192, "{idle:?}");
        let w = make_changes(&th, &intake, &mut rng, 10, 20, 25).unwrap();
        assert_eq!(w.all_ids().len(), 30);
        assert!(w.actions >= 20);
        let ids = w.all_ids();
        let before = heads(&ch, &ids).unwrap();
        assert_eq!(before.iter().filter(|h| h.is_none()).count(), 10);
        let (lb, n) = lower_bound(&th, &ids, &before).unwrap();
        assert!(lb > 0 && n >= 30, "{lb} bytes, {n} changes");
        assert_eq!(differing(&th, &ch, &ids).unwrap(), 30);
        let link = sync_in_memory(&th, &ch).unwrap();
        assert!(link.rounds <= 4, "{link:?}");
        assert_eq!(differing(&th, &ch, &ids).unwrap(), 0);
        assert!(link.by_kind.keys().any(|k| k.starts_with("Changes")));
        drop((ch, th));
        cth.join();
        tth.join();
    }
}
