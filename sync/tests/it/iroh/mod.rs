//! Several real nodes syncing over real iroh endpoints on loopback, each store on its own thread
//! (`NodeHandle`): enrolment through tickets, scope, a partition healed, parallel approval on two
//! city nodes, refusal of strangers and revoked nodes, push on a continuous session, and what an
//! idle reconnect and a catch-up cost on the wire.
//!
//! `mod.rs` holds the harness (a node on its store thread with its endpoint, enrolment over a
//! ticket, polling); `county.rs` a county of six nodes with partitions, parallel approval and
//! strangers and revoked nodes refused; `live.rs` sessions between a city and a township (push,
//! contact, a refusal's reason); `cost.rs` what idle reconnects, catch-ups and a new device cost
//! on the wire.

mod cost;
mod county;
mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use yizhan_node::case::Action;
use yizhan_node::case::deadline::{Deadline, Light};
use yizhan_node::handle::NodeThread;
use yizhan_node::network::Station;
use yizhan_node::query::CaseFilter;
use yizhan_node::{Clock, NewCase, Node, NodeHandle};
use yizhan_sync::net::{SessionReport, SyncNode};
use yizhan_sync::ticket::Ticket;

use crate::common::{NOW, city};

const CLOCK: Clock = Clock::Fixed(NOW);
/// The longest one sync pass may take before the test fails rather than hangs.
const PASS: Duration = Duration::from_secs(30);

/// A running node: its store thread and its iroh endpoint on 127.0.0.1.
struct Peer {
    name: String,
    station: String,
    handle: NodeHandle,
    _thread: NodeThread,
    net: Arc<SyncNode>,
    id: String,
    addrs: Vec<SocketAddr>,
    /// Reports of sessions this node accepted.
    accepted: Arc<Mutex<Vec<SessionReport>>>,
}

impl Peer {
    async fn start(name: &str, node: Node) -> Peer {
        let station = node.identity().station.clone();
        let (handle, thread) = NodeHandle::spawn(node).unwrap();
        let (tx, mut rx) = mpsc::channel::<SessionReport>(64);
        let net = SyncNode::bind(handle.clone(), SocketAddr::from(([127, 0, 0, 1], 0)), tx)
            .await
            .unwrap();
        let addrs = net.loopback_addrs();
        assert!(!addrs.is_empty(), "no IPv4 socket bound");
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let sink = accepted.clone();
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                sink.lock().unwrap().push(r);
            }
        });
        Peer {
            name: name.to_string(),
            station,
            handle,
            _thread: thread,
            id: net.node_id().to_string(),
            net: Arc::new(net),
            addrs,
            accepted,
        }
    }

    /// Runs `f` on the store thread (waiting on tokio's blocking pool, not on a worker).
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
    ) -> T {
        let h = self.handle.clone();
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || h.call(f))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("at {name}: {e}"))
    }

    /// An invitation at this node, as `yizhan invite` prints it.
    async fn invite(&self, code: &str, tier: &str, parent: &str) -> Ticket {
        let st = Station {
            code: code.into(),
            name: format!("{code}站"),
            tier: tier.parse().expect("a tier"),
            parent: parent.into(),
        };
        let addrs: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        self.call(move |n| Ticket::invite(n, st, 7, addrs)).await
    }

    /// Enrols a new node of `code` through a ticket redeemed over the network at this node.
    async fn enrol(&self, dir: &Path, code: &str, tier: &str, parent: &str) -> Peer {
        let ticket = Ticket::decode(&self.invite(code, tier, parent).await.encode()).unwrap();
        let node = tokio::time::timeout(PASS, yizhan_sync::net::join(&ticket, dir, CLOCK))
            .await
            .expect("join timed out")
            .unwrap_or_else(|e| panic!("{code} could not join at {}: {e}", self.name));
        assert_eq!(node.identity().station, code);
        assert_eq!(
            node.peers().unwrap()[0].node_id,
            self.id,
            "join remembers the inviter"
        );
        Peer::start(code, node).await
    }

    async fn try_sync(&self, other: &Peer) -> Result<SessionReport, String> {
        match tokio::time::timeout(PASS, self.net.sync_once(&other.id, &other.addrs)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => panic!("sync {} → {} hung for {PASS:?}", self.name, other.name),
        }
    }

    /// One sync pass dialed from here, which must succeed.
    async fn sync(&self, other: &Peer) -> SessionReport {
        let r = self
            .try_sync(other)
            .await
            .unwrap_or_else(|e| panic!("sync {} → {}: {e}", self.name, other.name));
        assert!(r.error.is_none(), "{r:?}");
        r
    }

    async fn new_case(&self, item: &str, applicant: &str, delegated: bool) -> String {
        let new = NewCase {
            item_code: item.into(),
            applicant_name: applicant.into(),
            delegated,
            entrustment: delegated,
            operator: format!("{}操作员", self.name),
            ..NewCase::default()
        };
        self.call(move |n| Ok(n.new_case(&new)?.doc.id)).await
    }

    async fn act(&self, id: &str, action: Action) {
        let id = id.to_string();
        let op = format!("{}操作员", self.name);
        self.call(move |n| n.act(&id, &action, &op).map(|_| ()))
            .await;
    }

    async fn try_act(&self, id: &str, action: Action) -> Result<(), String> {
        let id = id.to_string();
        let h = self.handle.clone();
        tokio::task::spawn_blocking(move || h.call(move |n| n.act(&id, &action, "操作员")))
            .await
            .unwrap()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn ids(&self) -> BTreeSet<String> {
        self.call(|n| {
            Ok(n.list(&CaseFilter {
                limit: 100_000,
                ..CaseFilter::default()
            })?
            .into_iter()
            .map(|r| r.id)
            .collect())
        })
        .await
    }

    async fn summary(&self, id: &str) -> Summary {
        let id = id.to_string();
        self.call(move |n| {
            let v = n.case(&id)?;
            Ok(Summary {
                status: v.state.status.as_str().to_string(),
                holder: v.state.holder.clone(),
                route: v.state.route.clone(),
                deadline: v.deadline.clone(),
                light: v.light,
                approvals: v.state.approvals.keys().cloned().collect(),
                conflict: v.state.conflict(),
                events: v.doc.events.len(),
            })
        })
        .await
    }

    /// A continuous session with `other`, kept (reconnecting) until the task is aborted.
    fn keep_synced_with(&self, other: &Peer) -> tokio::task::JoinHandle<()> {
        let net = self.net.clone();
        let (id, addrs) = (other.id.clone(), other.addrs.clone());
        tokio::spawn(async move { net.keep_synced(id, addrs).await })
    }

    async fn shutdown(&self) {
        self.net.shutdown().await;
    }
}

/// What every node holding a case must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    status: String,
    holder: String,
    route: Vec<String>,
    deadline: Deadline,
    light: Option<Light>,
    approvals: Vec<String>,
    conflict: bool,
    events: usize,
}

/// Ends the continuous session `task` that `dialer` keeps with `other`, then shuts both down.
async fn stop_live(task: tokio::task::JoinHandle<()>, dialer: &Peer, other: &Peer) {
    task.abort();
    dialer.shutdown().await;
    other.shutdown().await;
}

/// A city node and a node of township T1 enrolled at it over the network, in a new temporary
/// directory (deleted when the returned guard is dropped).
async fn city_and_township() -> (tempfile::TempDir, Peer, Peer) {
    let tmp = tempfile::tempdir().unwrap();
    let c = Peer::start("C", city(&tmp.path().join("c"))).await;
    let t1 = c.enrol(&tmp.path().join("t1"), "T1", "township", "C").await;
    (tmp, c, t1)
}

/// Polls `probe` every 50 ms until it holds or `limit` passes; returns how long it took.
async fn within(limit: Duration, mut probe: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if probe().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// What a node remembers of a peer: (documents it has not acknowledged, last contact, last error).
async fn peer_state(at: &Peer, other: &Peer) -> (usize, Option<i64>, Option<String>) {
    let id = other.id.clone();
    at.call(move |n| match n.peer(&id)? {
        Some(row) => Ok((n.pending_for(&row)?, row.last_contact, row.last_error)),
        // Not met yet.
        None => Ok((0, None, None)),
    })
    .await
}
