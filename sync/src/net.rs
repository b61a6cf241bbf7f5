//! The iroh adapter: endpoint, router, connections and the loop that feeds a [`Session`].
//!
//! Why one file over 800 lines: the endpoint, the accept and dial paths and the session loop
//! share one set of types (`SyncNode`, `Drive`, the live-session records) and together are the
//! whole of what touches the network.
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

fn transport_config() -> QuicTransportConfig {
    // Rural links drop for minutes or hours. Keep-alives every 5 s notice a dead link quickly; a
    // 30 s idle timeout frees the connection, and the dialer's backoff brings it back when the
    // link returns, resuming from the persisted watermark.
    let mut b = QuicTransportConfig::builder().keep_alive_interval(Duration::from_secs(5));
    if let Ok(t) = Duration::from_secs(30).try_into() {
        b = b.max_idle_timeout(Some(t));
    }
    b.build()
}

/// How a node finds and is found by others, beyond the addresses it is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Announce and look up nodes on the local network with mDNS (where multicast works).
    pub mdns: bool,
    /// A relay server run by the city (`iroh-relay`), for links where direct paths fail.
    pub relay_url: Option<String>,
}

/// Binds an iroh endpoint the way every Yizhan node does (no public relays unless `discovery`
/// names the city's, the rural keep-alive and idle timeouts) and accepting `alpns`. Public so
/// that the comparison benchmark's per-document peer runs on exactly the same transport.
pub async fn bind_endpoint(
    secret: &[u8; 32],
    listen: SocketAddr,
    alpns: Vec<Vec<u8>>,
    discovery: &Discovery,
) -> Result<Endpoint, SyncError> {
    let relay_mode = match &discovery.relay_url {
        None => RelayMode::Disabled,
        Some(url) => {
            let url: iroh::RelayUrl = url
                .parse()
                .map_err(|e| SyncError::Io(format!("invalid relay URL {url:?}: {e}")))?;
            RelayMode::Custom(iroh::RelayMap::from(url))
        }
    };
    let mut builder = Endpoint::builder(presets::Minimal)
        .secret_key(SecretKey::from_bytes(secret))
        .relay_mode(relay_mode)
        .alpns(alpns)
        .transport_config(transport_config());
    if discovery.mdns {
        builder = builder.address_lookup(
            iroh_mdns_address_lookup::MdnsAddressLookup::builder().service_name("yizhan"),
        );
    }
    builder
        .bind_addr(listen)
        .map_err(|e| SyncError::Io(format!("cannot listen on {listen}: {e}")))?
        .bind()
        .await
        .map_err(|e| SyncError::Io(format!("cannot start the endpoint: {e}")))
}

/// Reads one frame; `None` when the peer finished the stream cleanly between frames.
async fn read_frame<T: for<'a> serde::Deserialize<'a>>(
    recv: &mut (impl AsyncRead + Unpin),
) -> Result<Option<(T, usize)>, SyncError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        let n = recv
            .read(&mut header[got..])
            .await
            .map_err(|e| SyncError::Io(format!("read: {e}")))?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(SyncError::Io(
                    "the peer closed the stream inside a frame header".into(),
                ))
            };
        }
        got += n;
    }
    let len = proto::check_len(header)?;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body)
        .await
        .map_err(|e| SyncError::Io(format!("read: {e}")))?;
    let msg = proto::decode(&body)?;
    Ok(Some((msg, len + 4)))
}

/// The writer task: writes queued frames in order, then finishes the stream when the queue is
/// closed. It stops at the first failed write (the peer is gone); the loop notices when its next
/// frame cannot be queued.
async fn write_frames(
    mut send: impl AsyncWrite + Unpin,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    unsent: Arc<AtomicU64>,
) -> Result<(), SyncError> {
    while let Some(frame) = frames.recv().await {
        send.write_all(&frame)
            .await
            .map_err(|e| SyncError::Io(format!("write: {e}")))?;
        unsent.fetch_sub(frame.len() as u64, Ordering::Relaxed);
    }
    send.shutdown()
        .await
        .map_err(|e| SyncError::Io(format!("finish: {e}")))
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

/// How a session runs: one-shot or continuous, and what it reports to and listens for.
#[derive(Debug, Clone)]
struct Drive {
    handle: NodeHandle,
    peer: String,
    /// The highest protocol version to offer or accept.
    version: u32,
    dialer: bool,
    continuous: bool,
    shutdown: watch::Receiver<bool>,
    kick: Kick,
    live: LiveSessions,
}

/// What every session of a node shares: its store, its shutdown, "sync now" and the live status.
#[derive(Debug, Clone)]
struct Sessions {
    handle: NodeHandle,
    live: LiveSessions,
    shutdown: watch::Receiver<bool>,
    kick: Kick,
}

impl Sessions {
    /// Runs one session with `peer` over an open stream pair, speaking protocol `version` at
    /// most, listed among the live sessions while it runs.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        peer: &str,
        dialer: bool,
        continuous: bool,
        version: u32,
        send: impl AsyncWrite + Unpin + Send + 'static,
        recv: impl AsyncRead + Unpin + Send + 'static,
    ) -> SessionReport {
        let _active = ActiveGuard::new(&self.live, peer, dialer);
        let d = Drive {
            handle: self.handle.clone(),
            peer: peer.to_string(),
            version,
            dialer,
            continuous,
            shutdown: self.shutdown.clone(),
            kick: self.kick.clone(),
            live: self.live.clone(),
        };
        drive(d, send, recv).await
    }
}

/// Runs one session over an open stream pair until it is done (one-shot), the peer leaves, or
/// `shutdown` fires. While it runs, its progress is kept in `live` under the peer's id.
async fn drive<R, W>(d: Drive, send: W, mut recv: R) -> SessionReport
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Drive {
        handle,
        peer,
        version,
        dialer,
        continuous,
        mut shutdown,
        mut kick,
        live,
    } = d;
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Result<(Msg, usize), SyncError>>(8);
    let reader = tokio::spawn(async move {
        loop {
            let r = read_frame::<Msg>(&mut recv).await;
            let stop = !matches!(r, Ok(Some(_)));
            let item = match r {
                Ok(Some(m)) => Ok(m),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    // Unbounded on purpose, see the module documentation: a bounded queue here is exactly the
    // deadlock this task exists to prevent.
    let (wtx, wrx) = mpsc::unbounded_channel::<Vec<u8>>();
    let unsent = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_frames(send, wrx, unsent.clone()));
    let mut report = SessionReport {
        peer: peer.clone(),
        station: None,
        stats: SessionStats::default(),
        bytes_in: 0,
        bytes_out: 0,
        ms: 0,
        error: None,
        refused: None,
    };
    let queue = |frame: Vec<u8>, report: &mut SessionReport| -> Result<(), SyncError> {
        report.bytes_out += frame.len() as u64;
        unsent.fetch_add(frame.len() as u64, Ordering::Relaxed);
        wtx.send(frame)
            .map_err(|_| SyncError::Io("the connection closed while writing".into()))
    };
    let show = |report: &SessionReport, awaiting: usize| {
        if let Ok(mut l) = live.lock() {
            l.insert(
                peer.clone(),
                LiveSession {
                    dialer,
                    station: report.station.clone(),
                    bytes_in: report.bytes_in,
                    bytes_out: report.bytes_out,
                    unsent_bytes: unsent.load(Ordering::Relaxed),
                    awaiting,
                    docs_in: report.stats.docs_in,
                    docs_out: report.stats.docs_out,
                },
            );
        }
    };
    show(&report, 0);
    let mut session_after: Option<Session> = None;
    let result: Result<(), SyncError> = async {
        let p = peer.clone();
        let (mut session, out) = on_store(&handle, move |node| {
            let mut s = Session::new(node, &p).speaking(version);
            let out = if dialer { s.start(node) } else { Ok(Vec::new()) };
            Ok((s, out))
        })
        .await?;
        let mut out = out?;
        // Every committed write moves the store's `seq`, local work and received changes alike:
        // the session offers what is new right away, and an idle node wakes for nothing.
        let mut seq = handle.subscribe_seq();
        let mut tick = tokio::time::interval(SLOW_POLL);
        tick.reset();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.reset();
        kick.borrow_and_update();
        let r = loop {
            for m in out.drain(..) {
                queue(proto::encode(&m), &mut report)?;
            }
            report.stats = session.stats().clone();
            report.station = session.peer_station().map(str::to_string);
            show(&report, session.awaiting());
            if !continuous && session.is_done() {
                break Ok(());
            }
            tokio::select! {
                item = rx.recv() => {
                    let Some(item) = item else {
                        // The peer finished its side: normal for a continuous session.
                        break if continuous || session.is_done() { Ok(()) } else {
                            Err(SyncError::Io("the peer closed the connection mid-sync".into()))
                        };
                    };
                    let (msg, n) = item?;
                    report.bytes_in += n as u64;
                    let (s, r) = on_store(&handle, move |node| { let r = session.handle(node, msg); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                Ok(()) = seq.changed(), if continuous => {
                    seq.borrow_and_update();
                    let (s, r) = on_store(&handle, move |node| { let r = session.poll_local(node); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                _ = tick.tick(), if continuous => {
                    let (s, r) = on_store(&handle, move |node| { let r = session.poll_local(node); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                _ = heartbeat.tick(), if continuous => {
                    let (s, r) = on_store(&handle, move |node| { let r = session.heartbeat(node); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                Ok(()) = kick.changed(), if continuous => {
                    if kicked(&kick, &peer) {
                        let (s, r) = on_store(&handle, move |node| { let r = session.poll_local(node); Ok((session, r)) }).await?;
                        session = s;
                        out = r?;
                    }
                }
                _ = shutdown.changed() => break Ok(()),
            }
        };
        session_after = Some(session);
        r
    }
    .await;
    if let Err(e) = &result {
        report.error = Some(e.to_string());
        if let SyncError::Refused(d, _) = e {
            report.refused = Some(*d);
        }
        let _ = queue(
            proto::encode(&Msg::Refused {
                kind: e.denial(),
                reason: e.to_string(),
            }),
            &mut report,
        );
        let p = peer.clone();
        let msg = e.stored();
        // Only members get a row in `peers`; a stranger's failed attempt is just logged.
        if report.station.is_some() || matches!(e, SyncError::Refused(..)) {
            let _ = on_store(&handle, move |node| {
                node.record_contact(&p, Contact::Failed(&msg))
            })
            .await;
        }
        tracing::debug!(peer = %short(&peer), "sync session failed: {e}");
    }
    // Closing the queue lets the writer write what is left and finish this side. A healthy
    // session waits for that however long the link takes (a dead link fails the writes within the
    // QUIC idle timeout); a failed one gives the peer only a moment to read the refusal.
    drop(wtx);
    let written = if result.is_ok() {
        Ok(writer.await)
    } else {
        tokio::time::timeout(LINGER, writer).await
    };
    if report.error.is_none() {
        match written {
            Ok(Ok(Ok(()))) | Err(_) => {}
            Ok(Ok(Err(e))) => report.error = Some(e.to_string()),
            Ok(Err(e)) => report.error = Some(format!("writer task: {e}")),
        }
    }
    // Closing the connection before the peer has read everything could drop this side's last
    // frames: a one-shot side that is done waits, briefly, for the peer to finish its own side.
    // What the peer still says meanwhile is its acknowledgement of this side's last offers
    // (`Ack`), handled so that a clean exchange leaves nothing counted as pending; answers to it
    // are not sent, the exchange being over.
    if report.error.is_none()
        && !continuous
        && let Some(mut session) = session_after
    {
        let _ = tokio::time::timeout(LINGER, async {
            while let Some(Ok((msg, n))) = rx.recv().await {
                report.bytes_in += n as u64;
                if matches!(msg, Msg::Ack { .. }) {
                    let r = on_store(&handle, move |node| {
                        let r = session.handle(node, msg);
                        Ok((session, r))
                    })
                    .await;
                    match r {
                        Ok((s, _)) => session = s,
                        Err(_) => break,
                    }
                }
            }
        })
        .await;
    }
    reader.abort();
    report.ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// One one-shot session over any ordered, reliable byte stream (the iroh adapter uses a QUIC
/// stream; tests use an in-memory pipe with a small buffer to prove that two sides answering with
/// large batches at once do not deadlock). `peer` must be the node id at the other end: the
/// session verifies the peer's certificate against it.
pub async fn sync_stream<R, W>(
    handle: NodeHandle,
    peer: String,
    recv: R,
    send: W,
    dialer: bool,
) -> SessionReport
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (_keep, shutdown) = watch::channel(false);
    let (_kick, kick) = watch::channel((0, None));
    let sessions = Sessions {
        handle,
        live: LiveSessions::default(),
        shutdown,
        kick,
    };
    sessions
        .run(&peer, dialer, false, VERSION, send, recv)
        .await
}

/// Runs `f` on the store thread without stalling the async runtime: the wait for the store
/// happens on tokio's blocking pool.
pub(crate) async fn on_store<T: Send + 'static>(
    handle: &NodeHandle,
    f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
) -> Result<T, SyncError> {
    let h = handle.clone();
    tokio::task::spawn_blocking(move || h.call(f))
        .await
        .map_err(|e| SyncError::Io(format!("store task: {e}")))?
        .map_err(SyncError::from)
}

/// Marks a peer as having a running session for as long as it lives, so that a session whose
/// task is aborted (a link switched off in the demo, a runtime shutting down) does not leave the
/// peer marked forever and block reconnecting.
struct ActiveGuard {
    active: LiveSessions,
    peer: String,
}

impl ActiveGuard {
    fn new(active: &LiveSessions, peer: &str, dialer: bool) -> ActiveGuard {
        if let Ok(mut a) = active.lock() {
            a.insert(
                peer.to_string(),
                LiveSession {
                    dialer,
                    ..LiveSession::default()
                },
            );
        }
        ActiveGuard {
            active: active.clone(),
            peer: peer.to_string(),
        }
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Ok(mut a) = self.active.lock() {
            a.remove(&self.peer);
        }
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

#[derive(Debug, Clone)]
struct EnrolProtocol {
    handle: NodeHandle,
}

impl ProtocolHandler for EnrolProtocol {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let joiner = node_id_hex(&connection.remote_id());
        let (mut send, mut recv) = connection.accept_bi().await?;
        let reply = match read_frame::<JoinRequest>(&mut recv).await {
            Ok(Some((req, _))) => {
                let j = joiner.clone();
                match on_store(&self.handle, move |node| {
                    node.redeem_invite(&req.secret, &j)
                })
                .await
                {
                    Ok(e) => JoinReply::Welcome {
                        cert: e.cert.to_json(),
                        certs: e.certs.iter().map(Cert::to_json).collect(),
                        docs: e.network_docs,
                    },
                    Err(e) => {
                        tracing::warn!(node = %short(&joiner), "enrolment refused: {e}");
                        JoinReply::Refused {
                            reason: e.to_string(),
                        }
                    }
                }
            }
            Ok(None) => JoinReply::Refused {
                reason: "empty request".into(),
            },
            Err(e) => JoinReply::Refused {
                reason: e.to_string(),
            },
        };
        let _ = send.write_all(&proto::encode(&reply)).await;
        let _ = send.finish();
        connection.closed().await;
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

/// Joins a network with a ticket: makes this machine's key, reaches the inviter, receives the
/// certificate and the network documents, and creates the store in `dir`.
pub async fn join(ticket: &Ticket, dir: &Path, clock: Clock) -> Result<Node, SyncError> {
    if clock.now_ms() > ticket.expires_at {
        return Err(SyncError::BadTicket(
            "it has expired; ask for a new one".into(),
        ));
    }
    let secret = generate_secret()?;
    let endpoint = bind_endpoint(
        &secret,
        SocketAddr::from(([0, 0, 0, 0], 0)),
        vec![],
        &Discovery::default(),
    )
    .await?;
    let mut addr = EndpointAddr::new(public_key(&ticket.inviter)?);
    for a in &ticket.addrs {
        if let Ok(sa) = a.parse::<SocketAddr>() {
            addr = addr.with_ip_addr(sa);
        }
    }
    let conn = endpoint
        .connect(addr, ENROL_ALPN)
        .await
        .map_err(|e| SyncError::Unreachable(format!("cannot reach the inviting station: {e}")))?;
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| SyncError::Io(e.to_string()))?;
    send.write_all(&proto::encode(&JoinRequest {
        secret: ticket.secret.clone(),
    }))
    .await
    .map_err(|e| SyncError::Io(format!("write: {e}")))?;
    let _ = send.finish();
    let reply = read_frame::<JoinReply>(&mut recv).await?;
    conn.close(0u32.into(), b"thanks");
    endpoint.close().await;
    let (cert, certs, docs) = match reply {
        Some((JoinReply::Welcome { cert, certs, docs }, _)) => (cert, certs, docs),
        Some((JoinReply::Refused { reason }, _)) => {
            return Err(SyncError::Refused(Denial::Other, reason));
        }
        None => {
            return Err(SyncError::Io(
                "the inviting station closed without answering".into(),
            ));
        }
    };
    let enrolment = Enrolment {
        cert: Cert::from_json(&cert)?,
        certs: certs
            .iter()
            .map(|c| Cert::from_json(c))
            .collect::<Result<_, _>>()?,
        network_docs: docs,
    };
    if enrolment.cert.body.node_id != node_id_of(&secret) {
        return Err(SyncError::Unauthorized(
            Denial::NotMember,
            "the inviting station certified another node".into(),
        ));
    }
    let mut node = Node::join(
        dir,
        clock,
        &secret,
        &ticket.network_id,
        &ticket.root_key,
        &enrolment,
    )?;
    node.add_peer(&ticket.inviter, &ticket.addrs)?;
    // Everything in the new store came from the inviter: nothing is pending for it.
    let seq = node.seq()?;
    node.set_acked_seq(&ticket.inviter, seq)?;
    Ok(node)
}

/// The longest frame, re-exported for documentation.
pub const FRAME_LIMIT: usize = MAX_FRAME;
