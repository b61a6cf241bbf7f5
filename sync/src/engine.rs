//! The sync engine a station runs: the same in `yizhan serve` and in the window.
//!
//! [`Engine::start`] returns at once. On its own tokio runtime (threads `yizhan-net`) it then
//!
//! 1. takes the data directory's sync lock (`sync.lock`, an OS file lock: exactly one engine per
//!    data directory, and a crashed process's lock goes with the process). When another process
//!    holds it, the engine either fails (`serve`) or waits and takes over when that process ends
//!    (the window, which meanwhile shows the other engine's progress through the store);
//! 2. binds the node's endpoint on the configured address ([`yizhan_node::replica::SyncConfig`]),
//!    else on the port it listened on last time (so tickets and peers' addresses stay valid),
//!    else on any port, and records where it listens;
//! 3. keeps a continuous session with every known peer, redialing with backoff, and picks up
//!    peers added meanwhile (`yizhan peer add`, a join) every two seconds.
//!
//! Its [`EngineStatus`] is a snapshot kept behind a mutex for a window to read every frame;
//! events (listening, each finished session) also go to an optional channel for `serve` to
//! print. [`Engine::stop`] stops every session after the frame in flight and releases the lock.

use crate::SyncError;
use crate::net::{Discovery, LiveSession, SessionReport, SyncNode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use yizhan_node::NodeHandle;

/// The lock file in a data directory.
pub const LOCK_FILE: &str = "sync.lock";

/// How often the engine looks for peers added beside it.
const RESCAN: Duration = Duration::from_secs(2);
/// How often a waiting engine tries to take the lock over.
const RETRY_LOCK: Duration = Duration::from_secs(3);
/// How long [`Engine::stop`] waits for sessions to finish their frame in flight.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Who holds a data directory's sync lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holding process.
    pub pid: u32,
    /// What it is: `window` or `serve`.
    pub program: String,
}

/// What to do when another process already syncs the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenBusy {
    /// Fail with [`SyncError::Busy`] (`yizhan serve`).
    Fail,
    /// Wait, showing the other engine, and take over when it ends (the window).
    Wait,
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The data directory (for the lock file).
    pub data_dir: PathBuf,
    /// `window` or `serve`, written into the lock file.
    pub program: String,
    /// An address to listen on instead of the node's configured one (`serve --listen`).
    pub listen: Option<SocketAddr>,
    /// Discovery instead of the node's configured one (`serve --mdns --relay`).
    pub discovery: Option<Discovery>,
    /// What to do when another process syncs the directory.
    pub when_busy: WhenBusy,
}

/// Where the engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineState {
    /// Taking the lock and binding.
    Starting,
    /// Another process syncs this data directory; this engine waits for it to end.
    Elsewhere(Option<LockHolder>),
    /// Listening and dialing.
    Running {
        /// This node's id.
        node_id: String,
        /// Where it listens, as recorded for invitations (loopback for unspecified binds).
        addrs: Vec<String>,
        /// This machine's network addresses with the listening port, for invitations of other
        /// machines.
        lan: Vec<String>,
        /// A remembered port that was taken, so another was used (tickets made before name the
        /// old one).
        port_moved: Option<u16>,
    },
    /// It could not start (the reason), and will not retry.
    Failed(String),
    /// Stopped.
    Stopped,
}

/// A snapshot of the engine for a status display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStatus {
    /// Where the engine is.
    pub state: EngineState,
    /// Sessions running now, by peer node id.
    pub live: BTreeMap<String, LiveSession>,
    /// The last finished session with each peer.
    pub last: BTreeMap<String, SessionReport>,
}

impl Default for EngineStatus {
    fn default() -> Self {
        EngineStatus {
            state: EngineState::Starting,
            live: BTreeMap::new(),
            last: BTreeMap::new(),
        }
    }
}

/// What the engine tells `serve`.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    /// The endpoint is up.
    Listening {
        /// This node's id.
        node_id: String,
        /// Where it can be reached.
        addrs: Vec<String>,
    },
    /// A session ended.
    Session(SessionReport),
    /// The engine could not start.
    Failed(String),
}

/// A running sync engine. Dropping it stops it like [`Engine::stop`].
#[derive(Debug)]
pub struct Engine {
    rt: Option<tokio::runtime::Runtime>,
    status: Arc<Mutex<EngineStatus>>,
    kick: watch::Sender<(u64, Option<String>)>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Reads who holds a data directory's sync lock, if anyone does (a lock file left by a process
/// that ended does not count: the OS released its lock).
pub fn lock_holder(data_dir: &Path) -> Option<LockHolder> {
    let path = data_dir.join(LOCK_FILE);
    let file = File::options().read(true).write(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => Some(read_holder(&path).unwrap_or(LockHolder {
            pid: 0,
            program: String::new(),
        })),
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Takes the sync lock: `Ok(None)` when another process holds it.
fn take_lock(data_dir: &Path, program: &str) -> Result<Option<File>, SyncError> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| SyncError::Io(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(SyncError::Io(format!(
                "cannot lock {}: {e}",
                path.display()
            )));
        }
    }
    let holder = LockHolder {
        pid: std::process::id(),
        program: program.to_string(),
    };
    let text = serde_json::to_string(&holder).unwrap_or_default();
    file.set_len(0)
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.flush())
        .map_err(|e| SyncError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(Some(file))
}

impl Engine {
    /// Starts the engine for the node behind `handle`; returns at once (see the module
    /// documentation). `events` receives what `serve` prints.
    pub fn start(
        handle: NodeHandle,
        options: EngineOptions,
        events: Option<mpsc::Sender<EngineEvent>>,
    ) -> Result<Engine, SyncError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("yizhan-net")
            .enable_all()
            .build()
            .map_err(|e| SyncError::Io(format!("cannot start the network runtime: {e}")))?;
        let status = Arc::new(Mutex::new(EngineStatus::default()));
        let (kick, _) = watch::channel((0, None));
        let (stop, stop_rx) = watch::channel(false);
        let task = rt.spawn(run(
            handle,
            options,
            events,
            status.clone(),
            kick.clone(),
            stop_rx,
        ));
        Ok(Engine {
            rt: Some(rt),
            status,
            kick,
            stop,
            task: Some(task),
        })
    }

    /// The engine's state and sessions now. Never blocks for long: a mutex held only to copy.
    pub fn status(&self) -> EngineStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// "Sync now" with one peer or with all (`None`).
    pub fn sync_now(&self, peer: Option<String>) {
        self.kick.send_modify(|(generation, target)| {
            *generation += 1;
            *target = peer;
        });
    }

    /// The engine's runtime, for a caller that waits on signals beside it (`serve`).
    pub fn runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.rt.as_ref().map(tokio::runtime::Runtime::handle)
    }

    /// Stops every session after the frame in flight, closes the endpoint and releases the lock.
    /// Waits at most a few seconds.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let (Some(rt), Some(task)) = (self.rt.take(), self.task.take()) {
            let _ = rt.block_on(async { tokio::time::timeout(STOP_WAIT, task).await });
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn set_state(status: &Mutex<EngineStatus>, state: EngineState) {
    if let Ok(mut s) = status.lock() {
        s.state = state;
    }
}

/// The engine's life: lock, bind, dial, until stopped.
async fn run(
    handle: NodeHandle,
    options: EngineOptions,
    events: Option<mpsc::Sender<EngineEvent>>,
    status: Arc<Mutex<EngineStatus>>,
    kick: watch::Sender<(u64, Option<String>)>,
    mut stop: watch::Receiver<bool>,
) {
    let fail = |msg: String| {
        let status = status.clone();
        let events = events.clone();
        async move {
            set_state(&status, EngineState::Failed(msg.clone()));
            if let Some(tx) = events {
                let _ = tx.send(EngineEvent::Failed(msg)).await;
            }
        }
    };
    // 1. The lock.
    let lock = loop {
        let dir = options.data_dir.clone();
        let program = options.program.clone();
        match tokio::task::spawn_blocking(move || take_lock(&dir, &program)).await {
            Ok(Ok(Some(file))) => break file,
            Ok(Ok(None)) => {
                let holder = read_holder(&options.data_dir.join(LOCK_FILE));
                if options.when_busy == WhenBusy::Fail {
                    let who = holder.map_or_else(
                        || "another process".to_string(),
                        |h| format!("{} (pid {})", h.program, h.pid),
                    );
                    return fail(format!(
                        "{who} already syncs {}: only one sync engine runs per data directory",
                        options.data_dir.display()
                    ))
                    .await;
                }
                set_state(&status, EngineState::Elsewhere(holder));
            }
            Ok(Err(e)) => return fail(e.to_string()).await,
            Err(e) => return fail(format!("lock task: {e}")).await,
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_LOCK) => {}
            _ = stop.changed() => {
                set_state(&status, EngineState::Stopped);
                return;
            }
        }
    };
    set_state(&status, EngineState::Starting);

    // 2. The endpoint.
    let config =
        match crate::net::on_store(&handle, |n| Ok((n.sync_config()?, n.listen_addrs()?))).await {
            Ok(c) => c,
            Err(e) => return fail(e.to_string()).await,
        };
    let (config, last_addrs) = config;
    let discovery = options.discovery.clone().unwrap_or(Discovery {
        mdns: config.mdns,
        relay_url: config.relay.clone(),
    });
    let configured = match (&options.listen, &config.listen) {
        (Some(a), _) => Some(*a),
        (None, Some(text)) => match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => return fail(format!("invalid listen address {text:?}")).await,
        },
        (None, None) => None,
    };
    // Without a configured address, the port of last time (tickets and peers name it).
    let remembered = last_addrs
        .iter()
        .filter_map(|a| a.parse::<SocketAddr>().ok())
        .map(|a| a.port())
        .find(|p| *p != 0);
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    let (tx, mut reports) = mpsc::channel::<SessionReport>(64);
    let mut port_moved = None;
    let bound = match (configured, remembered) {
        (Some(a), _) => SyncNode::bind_with(handle.clone(), a, &discovery, tx.clone()).await,
        (None, Some(port)) => {
            let a = SocketAddr::from(([0, 0, 0, 0], port));
            match SyncNode::bind_with(handle.clone(), a, &discovery, tx.clone()).await {
                Ok(s) => Ok(s),
                Err(e) => {
                    tracing::warn!("port {port} of last time is taken ({e}); listening elsewhere");
                    port_moved = Some(port);
                    SyncNode::bind_with(handle.clone(), any, &discovery, tx.clone()).await
                }
            }
        }
        (None, None) => SyncNode::bind_with(handle.clone(), any, &discovery, tx.clone()).await,
    };
    drop(tx);
    let sync = match bound {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(e.to_string()).await,
    };
    let addrs = crate::net::reachable(&sync.local_addrs());
    let mut lan = sync.lan_addrs();
    let a = addrs.clone();
    if let Err(e) = crate::net::on_store(&handle, move |n| n.set_listen_addrs(&a)).await {
        sync.shutdown().await;
        return fail(e.to_string()).await;
    }
    set_state(
        &status,
        EngineState::Running {
            node_id: sync.node_id().to_string(),
            addrs: addrs.clone(),
            lan: lan.clone(),
            port_moved,
        },
    );
    if let Some(tx) = &events {
        let _ = tx
            .send(EngineEvent::Listening {
                node_id: sync.node_id().to_string(),
                addrs: addrs.clone(),
            })
            .await;
    }

    // 3. Dial every known peer, forward "sync now", collect reports.
    let mut kick_rx = kick.subscribe();
    let mut dialing = HashSet::new();
    let mut rescan = tokio::time::interval(RESCAN);
    let mut show = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = rescan.tick() => {
                // The interfaces' addresses are found after binding, and change with the network.
                let now = sync.lan_addrs();
                if now != lan {
                    lan = now;
                    if let Ok(mut s) = status.lock()
                        && let EngineState::Running { lan: shown, .. } = &mut s.state
                    {
                        shown.clone_from(&lan);
                    }
                }
                let peers = match crate::net::on_store(&handle, |n| n.peers()).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!("cannot read the peers: {e}");
                        continue;
                    }
                };
                for p in peers {
                    if p.addrs.is_empty() || !dialing.insert(p.node_id.clone()) {
                        continue;
                    }
                    let s = sync.clone();
                    let addrs = crate::net::parse_addrs(&p.addrs);
                    tokio::spawn(async move { s.keep_synced(p.node_id, addrs).await });
                }
            }
            _ = show.tick() => {
                let live = sync.live();
                if let Ok(mut s) = status.lock() {
                    s.live = live.into_iter().collect();
                }
            }
            Ok(()) = kick_rx.changed() => {
                let target = kick_rx.borrow_and_update().1.clone();
                sync.sync_now(target);
            }
            Some(r) = reports.recv() => {
                if let Ok(mut s) = status.lock() {
                    s.last.insert(r.peer.clone(), r.clone());
                }
                if let Some(tx) = &events {
                    let _ = tx.send(EngineEvent::Session(r)).await;
                }
            }
            _ = stop.changed() => break,
        }
    }
    sync.shutdown().await;
    while let Ok(r) = reports.try_recv() {
        if let Some(tx) = &events {
            let _ = tx.send(EngineEvent::Session(r)).await;
        }
    }
    drop(lock);
    if let Ok(mut s) = status.lock() {
        s.state = EngineState::Stopped;
        s.live.clear();
    }
}
