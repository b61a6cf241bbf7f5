//! The iroh adapter: endpoint, router, connections and the loop that feeds a [`Session`].
//!
//! This module is thin on purpose: it moves frames between a QUIC stream and the sans-I/O
//! session, runs every session step on the store thread (through [`NodeHandle`]), and keeps
//! dialing known peers with backoff. Each connection has one bidirectional stream.
//!
//! A session runs three tasks over that stream: a reader that always drains the incoming side, a
//! writer that owns the outgoing side, and the loop in between that feeds the session. The loop
//! never waits on a write: it queues frames for the writer and goes back to reading. Two sides
//! that both answer with large batches (first contact between big stores) would otherwise each
//! block writing while the other blocks writing too, once the QUIC windows fill. The queue holds
//! at most what the session has already built in memory for the messages it answered.
//!
//! The parts: `mod.rs` the `SyncNode` (accepting, dialing with backoff, "sync now", the live
//! sessions) and the protocol versions remembered per peer; `endpoint.rs` the iroh endpoint as
//! every node binds it; `stream.rs` the session loop over a stream pair (its reader and writer
//! tasks, frames, the store thread); `enrol.rs` enrolment over the network, both the inviting
//! side's protocol handler and the joining side's [`join`].

use crate::proto::{self, JoinReply, JoinRequest, MAX_FRAME, Msg};
use crate::session::{MIN_VERSION, Session, SessionStats, VERSION};
use crate::ticket::Ticket;
use crate::{Denial, ENROL_ALPN, SYNC_ALPN, SyncError};
use iroh::endpoint::{Connection, QuicTransportConfig, presets};
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr, PublicKey, RelayMode, SecretKey};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{mpsc, watch};
use yizhan_node::cert::{Cert, short};
use yizhan_node::enrol::{Enrolment, generate_secret, node_id_of};
use yizhan_node::replica::Contact;
use yizhan_node::{Clock, Node, NodeHandle};

mod endpoint;
mod enrol;
mod stream;

pub use endpoint::{Discovery, bind_endpoint};
use enrol::EnrolProtocol;
pub use enrol::join;
pub(crate) use stream::on_store;
pub use stream::sync_stream;
use stream::{Sessions, read_frame};

/// How often a continuous session looks for local writes it was not told about: those of another
/// process on the same data directory (the command line beside a running node). Writes committed
/// through this process's store thread are offered as soon as its `seq` notification fires.
const SLOW_POLL: Duration = Duration::from_secs(3);
/// Longest wait between dial attempts to an unreachable peer: a failed dial costs a few hundred
/// bytes, and a station whose link comes back should not wait long to be noticed.
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// How often an idle continuous session says it is still there (see [`Session::heartbeat`]).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a side that is done waits for the peer to read everything before closing.
const LINGER: Duration = Duration::from_secs(5);

/// What happened in one session, reported to the caller (and printed by `serve` as JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionReport {
    /// The peer's node id.
    pub peer: String,
    /// The peer's station, if its hello was verified.
    pub station: Option<String>,
    /// Counters.
    #[serde(flatten)]
    pub stats: SessionStats,
    /// Bytes read from the peer (frames, with headers).
    pub bytes_in: u64,
    /// Bytes written to the peer.
    pub bytes_out: u64,
    /// Wall time in milliseconds.
    pub ms: u64,
    /// Why it ended badly, if it did.
    pub error: Option<String>,
    /// Whether the peer refused this node, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Denial>,
}

/// What a running session has done so far, for a status display. Updated after every message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LiveSession {
    /// Whether this node dialed.
    pub dialer: bool,
    /// The peer's station, once its hello was verified.
    pub station: Option<String>,
    /// Bytes read from the peer so far.
    pub bytes_in: u64,
    /// Bytes written to the peer so far.
    pub bytes_out: u64,
    /// Bytes queued for the peer and not yet written (what is left of the answers in flight).
    pub unsent_bytes: u64,
    /// Documents the peer offered that have not arrived yet.
    pub awaiting: usize,
    /// Documents that changed here in this session.
    pub docs_in: usize,
    /// Documents this side sent changes for in this session.
    pub docs_out: usize,
}

/// The sessions running now, by peer node id.
pub type LiveSessions = Arc<Mutex<HashMap<String, LiveSession>>>;

/// "Sync now": a generation counter and the peer it is for (`None`: every peer). Dialers waiting
/// out a backoff dial at once, and running sessions offer their local writes at once.
pub type Kick = watch::Receiver<(u64, Option<String>)>;

fn kicked(kick: &Kick, peer: &str) -> bool {
    kick.borrow().1.as_deref().is_none_or(|p| p == peer)
}

/// The addresses among `addrs` that parse as `IP:PORT` (a peer's stored addresses).
pub fn parse_addrs(addrs: &[String]) -> Vec<SocketAddr> {
    addrs.iter().filter_map(|a| a.parse().ok()).collect()
}

/// Where a node listening on `addrs` is reachable: unspecified bind addresses become loopback
/// (an invitation for another machine names a LAN address with `--addr`).
pub fn reachable(addrs: &[SocketAddr]) -> Vec<String> {
    addrs
        .iter()
        .map(|a| {
            let mut a = *a;
            if a.ip().is_unspecified() {
                a.set_ip(if a.is_ipv4() {
                    [127, 0, 0, 1].into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            a.to_string()
        })
        .collect()
}

fn node_id_hex(key: &PublicKey) -> String {
    hex::encode(key.as_bytes())
}

fn public_key(node_id: &str) -> Result<PublicKey, SyncError> {
    let bytes = hex::decode(node_id)
        .map_err(|_| SyncError::Protocol(format!("bad node id {node_id:?}")))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| SyncError::Protocol(format!("bad node id {node_id:?}")))?;
    PublicKey::from_bytes(&arr).map_err(|_| SyncError::Protocol(format!("bad node id {node_id:?}")))
}

/// The protocol versions this node speaks with each peer: the highest it offers (lowered only
/// by tests that play a version 2 node) and, per peer, a lower version after that peer refused
/// the higher one. Kept in memory: a restarted node tries the newest version again once.
#[derive(Debug)]
pub(crate) struct Versions {
    max: AtomicU32,
    peers: Mutex<HashMap<String, u32>>,
}

impl Versions {
    fn new() -> Versions {
        Versions {
            max: AtomicU32::new(VERSION),
            peers: Mutex::new(HashMap::new()),
        }
    }

    fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    /// The version to offer `peer` when dialing it.
    fn for_peer(&self, peer: &str) -> u32 {
        let known = self.peers.lock().ok().and_then(|p| p.get(peer).copied());
        known.map_or(self.max(), |v| v.min(self.max()))
    }

    /// After a session with `peer` offered `offered`: if the peer refused the version, the next
    /// dial offers one less and `true` says to dial again at once.
    fn refused(&self, peer: &str, offered: u32, report: &SessionReport) -> bool {
        if report.refused != Some(Denial::Version) || offered <= MIN_VERSION {
            return false;
        }
        tracing::info!(peer = %short(peer), "the peer does not speak protocol version {offered}: dialing again with {}", offered - 1);
        if let Ok(mut p) = self.peers.lock() {
            p.insert(peer.to_string(), offered - 1);
        }
        true
    }
}

#[derive(Debug, Clone)]
struct SyncProtocol {
    sessions: Sessions,
    versions: Arc<Versions>,
    reports: mpsc::Sender<SessionReport>,
}

impl ProtocolHandler for SyncProtocol {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let peer = node_id_hex(&connection.remote_id());
        let (send, recv) = connection.accept_bi().await?;
        let report = self
            .sessions
            .run(&peer, false, true, self.versions.max(), send, recv)
            .await;
        if report.error.is_some() {
            // Let the refusal reach the peer before the connection goes: it closes after reading.
            let _ = tokio::time::timeout(LINGER, connection.closed()).await;
        }
        let _ = self.reports.send(report).await;
        connection.close(0u32.into(), b"bye");
        Ok(())
    }
}

/// A node's sync endpoint: accepts peers and enrolments, dials peers.
#[derive(Debug)]
pub struct SyncNode {
    router: Router,
    node_id: String,
    sessions: Sessions,
    shutdown_tx: watch::Sender<bool>,
    kick_tx: watch::Sender<(u64, Option<String>)>,
    reports: mpsc::Sender<SessionReport>,
    versions: Arc<Versions>,
}

impl SyncNode {
    /// Binds the endpoint on `listen` and starts accepting. Reports of finished incoming
    /// sessions go to `reports`.
    pub async fn bind(
        handle: NodeHandle,
        listen: SocketAddr,
        reports: mpsc::Sender<SessionReport>,
    ) -> Result<SyncNode, SyncError> {
        SyncNode::bind_with(handle, listen, &Discovery::default(), reports).await
    }

    /// Like [`SyncNode::bind`], with mDNS and/or a relay.
    pub async fn bind_with(
        handle: NodeHandle,
        listen: SocketAddr,
        discovery: &Discovery,
        reports: mpsc::Sender<SessionReport>,
    ) -> Result<SyncNode, SyncError> {
        let secret = on_store(&handle, |node| node.secret_key()).await?;
        let endpoint = bind_endpoint(
            &secret,
            listen,
            vec![SYNC_ALPN.to_vec(), ENROL_ALPN.to_vec()],
            discovery,
        )
        .await?;
        let node_id = node_id_hex(&endpoint.id());
        let (shutdown_tx, shutdown) = watch::channel(false);
        let (kick_tx, kick) = watch::channel((0, None));
        let sessions = Sessions {
            handle: handle.clone(),
            live: LiveSessions::default(),
            shutdown,
            kick,
        };
        let versions = Arc::new(Versions::new());
        let router = Router::builder(endpoint)
            .accept(
                SYNC_ALPN,
                SyncProtocol {
                    sessions: sessions.clone(),
                    versions: versions.clone(),
                    reports: reports.clone(),
                },
            )
            .accept(
                ENROL_ALPN,
                EnrolProtocol {
                    handle: handle.clone(),
                },
            )
            .spawn();
        Ok(SyncNode {
            router,
            node_id,
            sessions,
            shutdown_tx,
            kick_tx,
            reports,
            versions,
        })
    }

    /// Speak at most protocol version `version` from now on, dialing and accepting (clamped to
    /// the versions this build speaks): how tests and benchmarks play a node of an earlier
    /// version, which refuses any other.
    #[doc(hidden)]
    pub fn speak_at_most(&self, version: u32) {
        self.versions
            .max
            .store(version.clamp(MIN_VERSION, VERSION), Ordering::Relaxed);
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The addresses the endpoint listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.router.endpoint().bound_sockets()
    }

    /// The bound IPv4 sockets as addresses a peer on this machine dials (127.0.0.1 and the
    /// port): what tests, benchmarks and the in-process county hand to each other.
    pub fn loopback_addrs(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = self
            .local_addrs()
            .iter()
            .filter(|a| a.is_ipv4())
            .map(|a| SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, a.port())))
            .collect();
        out.dedup();
        out
    }

    /// Where other machines may reach this node: the interfaces' addresses iroh found (IPv4
    /// before IPv6; loopback and link-local ones left out). A person chooses among them for an
    /// invitation; nothing dials them by itself.
    pub fn lan_addrs(&self) -> Vec<String> {
        let mut direct: Vec<SocketAddr> = self
            .router
            .endpoint()
            .addr()
            .ip_addrs()
            .copied()
            .filter(|a| match a.ip() {
                std::net::IpAddr::V4(ip) => !ip.is_loopback() && !ip.is_link_local(),
                std::net::IpAddr::V6(ip) => !ip.is_loopback() && !ip.is_unicast_link_local(),
            })
            .collect();
        direct.sort_by_key(|a| (a.is_ipv6(), *a));
        direct.dedup();
        direct.iter().map(ToString::to_string).collect()
    }

    /// Whether a session with `peer` is running.
    pub fn is_active(&self, peer: &str) -> bool {
        self.sessions
            .live
            .lock()
            .map(|a| a.contains_key(peer))
            .unwrap_or(false)
    }

    /// The sessions running now, with their progress.
    pub fn live(&self) -> HashMap<String, LiveSession> {
        self.sessions
            .live
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// "Sync now" with one peer, or with every peer (`None`): a dialer waiting out its backoff
    /// dials at once, and a running session offers this node's writes at once.
    pub fn sync_now(&self, peer: Option<String>) {
        self.kick_tx.send_modify(|(generation, target)| {
            *generation += 1;
            *target = peer;
        });
    }

    async fn connect(
        &self,
        peer: &str,
        addrs: &[SocketAddr],
        alpn: &[u8],
    ) -> Result<Connection, SyncError> {
        let mut addr = EndpointAddr::new(public_key(peer)?);
        for a in addrs {
            addr = addr.with_ip_addr(*a);
        }
        self.router
            .endpoint()
            .connect(addr, alpn)
            .await
            .map_err(|e| SyncError::Unreachable(format!("{}: {e}", short(peer))))
    }

    /// One sync pass with a peer: exchange until both sides are idle, then close. A peer that
    /// refuses this node's protocol version (a node of an earlier version) is dialed again at
    /// once with the version before.
    pub async fn sync_once(
        &self,
        peer: &str,
        addrs: &[SocketAddr],
    ) -> Result<SessionReport, SyncError> {
        loop {
            let version = self.versions.for_peer(peer);
            let report = self.sync_once_speaking(peer, addrs, version).await?;
            if self.versions.refused(peer, version, &report) {
                continue;
            }
            return match (&report.error, report.refused) {
                (Some(e), Some(d)) => Err(SyncError::Refused(d, e.clone())),
                (Some(e), None) => Err(SyncError::Io(e.clone())),
                (None, _) => Ok(report),
            };
        }
    }

    async fn sync_once_speaking(
        &self,
        peer: &str,
        addrs: &[SocketAddr],
        version: u32,
    ) -> Result<SessionReport, SyncError> {
        let conn = self.connect(peer, addrs, SYNC_ALPN).await?;
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| SyncError::Io(e.to_string()))?;
        let report = self
            .sessions
            .run(peer, true, false, version, send, recv)
            .await;
        conn.close(0u32.into(), b"done");
        Ok(report)
    }

    /// Keeps a continuous session with a peer, reconnecting with backoff, until shutdown.
    pub async fn keep_synced(&self, peer: String, addrs: Vec<SocketAddr>) {
        let mut backoff = Duration::from_millis(500);
        let mut shutdown = self.sessions.shutdown.clone();
        let mut kick = self.sessions.kick.clone();
        kick.borrow_and_update();
        loop {
            if *shutdown.borrow() {
                return;
            }
            if !self.is_active(&peer) {
                let version = self.versions.for_peer(&peer);
                match self.connect(&peer, &addrs, SYNC_ALPN).await {
                    Ok(conn) => match conn.open_bi().await {
                        Ok((send, recv)) => {
                            let report = self
                                .sessions
                                .run(&peer, true, true, version, send, recv)
                                .await;
                            conn.close(0u32.into(), b"bye");
                            if report.error.is_none() {
                                backoff = Duration::from_millis(500);
                            }
                            let again = self.versions.refused(&peer, version, &report);
                            let _ = self.reports.send(report).await;
                            if again {
                                continue;
                            }
                        }
                        Err(e) => tracing::debug!(peer = %short(&peer), "open stream failed: {e}"),
                    },
                    Err(e) => {
                        let p = peer.clone();
                        let msg = e.stored();
                        let _ = on_store(&self.sessions.handle, move |node| {
                            node.record_contact(&p, Contact::Failed(&msg))
                        })
                        .await;
                        tracing::debug!(peer = %short(&peer), "dial failed: {e}");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
                Ok(()) = kick.changed() => {
                    if kicked(&kick, &peer) {
                        backoff = Duration::from_millis(500);
                        continue;
                    }
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Stops every session after the frame in flight and closes the endpoint.
    pub async fn shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.router.shutdown().await;
    }
}

/// The longest frame, re-exported for documentation.
pub const FRAME_LIMIT: usize = MAX_FRAME;
