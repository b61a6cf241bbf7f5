//! A running node for the benchmark: its store thread, its iroh endpoint on loopback, and the
//! reports of the sessions it accepted.

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use yizhan_node::handle::NodeThread;
use yizhan_node::{Node, NodeHandle};
use yizhan_sync::net::{SessionReport, SyncNode};

/// Runs `f` on a node's store thread and waits.
pub(crate) fn call<T: Send + 'static>(
    h: &NodeHandle,
    f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
) -> Result<T> {
    Ok(h.call(f)?)
}

/// A running node: its store thread and its iroh endpoint on 127.0.0.1.
pub(crate) struct Peer {
    pub(super) name: &'static str,
    pub(crate) handle: NodeHandle,
    thread: NodeThread,
    pub(super) net: SyncNode,
    pub(super) id: String,
    pub(super) addrs: Vec<SocketAddr>,
    /// Reports of sessions this node accepted.
    accepted: Arc<Mutex<Vec<SessionReport>>>,
}

impl Peer {
    /// Lets the node finish what a burst leaves for its idle moments (merging the burst's
    /// search keys, the WAL checkpoint), as a station that took its cases in over months has
    /// long done, so that a timed sync does not share the store thread with it.
    pub(super) fn settle(&self) -> Result<()> {
        self.handle.call(|node| {
            while node.diagnostics().idle()? {}
            Ok(())
        })?;
        Ok(())
    }

    pub(super) fn start(rt: &Runtime, name: &'static str, node: Node) -> Result<Peer> {
        let (handle, thread) = NodeHandle::spawn(node)?;
        let (tx, mut rx) = mpsc::channel::<SessionReport>(64);
        let net = rt
            .block_on(SyncNode::bind(
                handle.clone(),
                SocketAddr::from(([127, 0, 0, 1], 0)),
                tx,
            ))
            .map_err(|e| anyhow!("{name}: cannot bind: {e}"))?;
        let addrs = net.loopback_addrs();
        ensure!(
            !addrs.is_empty(),
            "{name}: no IPv4 socket bound: {:?}",
            net.local_addrs()
        );
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let sink = accepted.clone();
        rt.spawn(async move {
            while let Some(r) = rx.recv().await {
                if let Ok(mut v) = sink.lock() {
                    v.push(r);
                }
            }
        });
        Ok(Peer {
            name,
            handle,
            thread,
            id: net.node_id().to_string(),
            net,
            addrs,
            accepted,
        })
    }

    /// One `sync_once` dialed from here: the dialer's report and the wall time around the call
    /// (connection set-up included), in ms.
    pub(super) fn sync_to(
        &self,
        rt: &Runtime,
        other: &Peer,
        limit: Duration,
    ) -> Result<(SessionReport, f64)> {
        let t = Instant::now();
        let r = rt
            .block_on(timeout(limit, self.net.sync_once(&other.id, &other.addrs)))
            .with_context(|| format!("sync {} → {} took over {limit:?}", self.name, other.name))?
            .map_err(|e| anyhow!("sync {} → {}: {e}", self.name, other.name))?;
        let wall = t.elapsed().as_secs_f64() * 1e3;
        if let Some(e) = &r.error {
            bail!("sync {} → {}: {e}", self.name, other.name);
        }
        Ok((r, wall))
    }

    /// The report of the latest session this node accepted, waiting briefly for it.
    pub(super) fn last_accepted(&self, before: usize) -> Option<SessionReport> {
        for _ in 0..200 {
            if let Ok(v) = self.accepted.lock()
                && v.len() > before
            {
                return v.last().cloned();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub(super) fn accepted_len(&self) -> usize {
        self.accepted.lock().map(|v| v.len()).unwrap_or(0)
    }

    pub(crate) fn stop(self, rt: &Runtime) {
        rt.block_on(self.net.shutdown());
        drop(self.net);
        drop(self.handle);
        self.thread.join();
    }
}

/// `f`, or an error once `limit` has passed.
async fn timeout<F: Future>(limit: Duration, f: F) -> Result<F::Output> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| anyhow!("timed out"))
}
