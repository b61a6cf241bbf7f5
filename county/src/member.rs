//! One running node of a county: its store thread and its iroh endpoint.

use anyhow::{Context, Result, anyhow, ensure};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use yizhan_node::handle::NodeThread;
use yizhan_node::network::Station;
use yizhan_node::{Clock, Node, NodeHandle};
use yizhan_sync::net::{SessionReport, SyncNode};
use yizhan_sync::ticket::Ticket;

/// How long one network step (a join, a sync pass) may take before it fails.
const STEP: Duration = Duration::from_secs(60);

/// A running node: its store thread and its iroh endpoint on 127.0.0.1.
#[derive(Debug)]
pub struct Member {
    /// A label, e.g. `T1` or `T1-laptop`.
    pub name: String,
    /// Its station's code.
    pub station: String,
    /// Its station's name.
    pub label: String,
    /// Its tier.
    pub tier: String,
    /// The store.
    pub handle: NodeHandle,
    thread: NodeThread,
    /// The endpoint.
    pub net: Arc<SyncNode>,
    /// Its node id.
    pub id: String,
    /// Where it can be dialed.
    pub addrs: Vec<SocketAddr>,
    /// Reports of every session it dialed or accepted that ended.
    pub reports: Arc<Mutex<Vec<SessionReport>>>,
}

impl Member {
    /// Starts `node`'s store thread and its endpoint on 127.0.0.1 (inside a tokio runtime).
    pub async fn start(name: &str, node: Node) -> Result<Member> {
        let station = node.identity().station.clone();
        let (label, tier) = node
            .station()
            .map(|s| (s.name.clone(), s.tier.as_str().to_string()))
            .with_context(|| format!("{name} has no station in its roster"))?;
        let (handle, thread) = NodeHandle::spawn(node)?;
        let (tx, mut rx) = mpsc::channel::<SessionReport>(64);
        let net = SyncNode::bind(handle.clone(), SocketAddr::from(([127, 0, 0, 1], 0)), tx).await?;
        let addrs = net.loopback_addrs();
        ensure!(
            !addrs.is_empty(),
            "{name}: the endpoint bound no IPv4 socket"
        );
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = reports.clone();
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                if let Ok(mut s) = sink.lock() {
                    s.push(r);
                }
            }
        });
        Ok(Member {
            name: name.to_string(),
            station,
            label,
            tier,
            handle,
            thread,
            id: net.node_id().to_string(),
            net: Arc::new(net),
            addrs,
            reports,
        })
    }

    /// Runs `f` on the store thread, waiting on tokio's blocking pool.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
    ) -> Result<T> {
        let h = self.handle.clone();
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || h.call(f))
            .await?
            .with_context(|| format!("at {name}"))
    }

    /// An invitation for `station` at this node, as `yizhan invite` prints it.
    pub async fn invite(&self, station: Station) -> Result<Ticket> {
        let addrs: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        self.call(move |n| Ticket::invite(n, station, 7, addrs))
            .await
    }

    /// A new node of `station` in `dir`, on `clock`, enrolled through a ticket (encoded and
    /// decoded, as a clerk pastes it) redeemed over the network here.
    pub async fn enrol(
        &self,
        dir: &Path,
        name: &str,
        station: &Station,
        clock: Clock,
    ) -> Result<Member> {
        let ticket = Ticket::decode(&self.invite(station.clone()).await?.encode())?;
        let node = tokio::time::timeout(STEP, yizhan_sync::net::join(&ticket, dir, clock))
            .await
            .map_err(|_| anyhow!("{name} could not join at {} in {STEP:?}", self.name))??;
        Member::start(name, node).await
    }

    /// Drops this member's store handle and endpoint; the returned thread ends once every other
    /// handle to the store (a window's) is gone.
    pub fn stop(self) -> NodeThread {
        self.thread
    }

    /// One sync pass dialed from here.
    pub async fn sync_once(&self, other: &Member) -> Result<SessionReport> {
        let r = tokio::time::timeout(STEP, self.net.sync_once(&other.id, &other.addrs))
            .await
            .map_err(|_| anyhow!("sync {} → {} hung", self.name, other.name))??;
        Ok(r)
    }
}
