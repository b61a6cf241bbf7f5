//! The per-document peer of the comparison benchmark (issue #5): samod, the Rust automerge-repo,
//! over iroh.
//!
//! `yizhan-scenarios samod-peer` is one side of a samod sync, run as its own process (so that
//! its memory is its own and it can run inside a network namespace behind the link emulator):
//!
//! - `--listen ADDR` serves: a samod `Repo` behind an iroh endpoint bound exactly as a Yizhan node binds
//!   its own ([`yizhan_sync::net::bind_endpoint`]). Each incoming connection's bi-directional
//!   stream becomes a samod transport (samod's own length-delimited framing). It prints
//!   `{"event":"listening",…}`, and on SIGTERM `{"event":"stopped",…}` with its counters and
//!   peak memory.
//! - `--dial NODE_ID --addr ADDR --docs FILE` dials: it opens every listed document from its
//!   storage (as a station application showing its cases holds them open; the time this takes is
//!   reported apart and not counted), connects, and waits until, for every document, the peer
//!   has all of this side's changes and this side has all of the peer's — samod's own
//!   `they_have_our_changes` / `we_have_their_changes`. That is how automerge-repo syncs: one
//!   sync exchange per document, over one connection. With `--fetch` the documents are not in
//!   storage and are found through the peer (a new node's first contact). It prints
//!   `{"event":"synced",…}` (or `{"event":"gave_up",…}` at `--timeout`, with the progress).
//!
//! Bytes are counted on the stream (samod frames with their 4-byte length prefixes), as Yizhan's
//! session counts its frames; frames are counted by following the length prefixes.
//!
//! Storage: [`export`] writes a Yizhan store's case documents into a pack file, each under a
//! samod document id derived from its Yizhan id ([`samod_id`]) and keyed as samod keys a
//! compacted snapshot, so that both systems sync the very same Automerge documents. The peer
//! loads the pack into [`PackStorage`], an in-memory samod storage indexed by document (samod's
//! own `InMemoryStorage` scans every key on each document load, which would make 100,000
//! documents quadratic). Whatever the peer receives stays in memory: samod pays no disk writes
//! here, which only favours it in the comparison.

use anyhow::{Context, Result, anyhow, bail};
use automerge::Automerge;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{EndpointAddr, PublicKey};
use samod::storage::{Storage, StorageKey};
use samod::{BackoffConfig, DialError, Dialer, DocumentId, Repo, Transport};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The ALPN of the benchmark's samod connections.
mod counted;

use counted::{Counters, counted};

const ALPN: &[u8] = b"yizhan-bench/samod/1";

/// Arguments of `samod-peer`.
#[derive(Debug, Clone, clap::Args)]
pub struct PeerArgs {
    /// The documents this peer starts with (a pack written by [`export`]); none if absent.
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// Serve on this address.
    #[arg(long, conflicts_with = "dial")]
    pub listen: Option<SocketAddr>,
    /// Dial this node (hex node id); needs --addr and --docs.
    #[arg(long, requires_all = ["addr", "docs"])]
    pub dial: Option<String>,
    /// The address to dial.
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// The samod document ids to sync, one per line.
    #[arg(long)]
    pub docs: Option<PathBuf>,
    /// The documents are not in storage: find them through the peer (first contact).
    #[arg(long)]
    pub fetch: bool,
    /// Give up after this many seconds of syncing, reporting the progress.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

/// Hands each accepted iroh connection to the samod repo.
#[derive(Debug, Clone)]
struct SamodProtocol {
    acceptor: samod::AcceptorHandle,
    counters: Arc<Counters>,
}

impl ProtocolHandler for SamodProtocol {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let (send, recv) = connection.accept_bi().await?;
        let io = counted(connection.clone(), send, recv, &self.counters);
        if self.acceptor.accept_tokio_io(io).is_err() {
            connection.close(1u32.into(), b"stopped");
            return Ok(());
        }
        // samod drives the stream from here; the handler lives as long as the connection.
        connection.closed().await;
        Ok(())
    }
}

/// Dials the serving peer over iroh, once per connection attempt.
struct IrohDialer {
    endpoint: iroh::Endpoint,
    peer: EndpointAddr,
    counters: Arc<Counters>,
}

impl Dialer for IrohDialer {
    type Error = std::io::Error;

    fn url(&self) -> samod::Url {
        // The URL only names the dialer in samod's logs.
        samod::Url::parse("iroh://bench-peer/").unwrap_or_else(|_| unreachable!())
    }

    fn connect(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Transport, DialError<Self::Error>>> + Send + 'static>>
    {
        let endpoint = self.endpoint.clone();
        let peer = self.peer.clone();
        let counters = self.counters.clone();
        Box::pin(async move {
            let conn = endpoint
                .connect(peer, ALPN)
                .await
                .map_err(DialError::transient)?;
            let (send, recv) = conn.open_bi().await.map_err(DialError::transient)?;
            Ok(Transport::from_tokio_io(counted(
                conn, send, recv, &counters,
            )))
        })
    }
}

/// The samod document id of a Yizhan document: 16 bytes from two FNV-1a hashes of its id, so
/// that every process derives the same one.
pub fn samod_id(yizhan_id: &str) -> Result<DocumentId> {
    let fnv = |seed: u64| {
        yizhan_id.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut bytes = Vec::with_capacity(16);
    bytes.extend_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes.extend_from_slice(&fnv(0x8422_2325_cbf2_9ce4).to_be_bytes());
    DocumentId::try_from(bytes).map_err(|e| anyhow!("samod id of {yizhan_id}: {e}"))
}

/// Writes the case documents of the Yizhan store in `store_dir` into the pack file `to`, each as
/// one snapshot the way samod compacts: records of (document id, compaction hash, bytes), each
/// part prefixed by its 4-byte big-endian length. Returns the number written.
pub fn export(store_dir: &Path, to: &Path) -> Result<usize> {
    let path = store_dir.join(yizhan_node::store::STORE_FILE);
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    let mut docs = conn.prepare("SELECT doc_id, snapshot FROM docs WHERE doc_type = 'case'")?;
    let mut changes = conn.prepare("SELECT data FROM doc_changes WHERE doc_id = ?1 ORDER BY id")?;
    let file =
        std::fs::File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut put = |part: &[u8]| -> Result<()> {
        let len = u32::try_from(part.len()).context("a document over 4 GiB")?;
        out.write_all(&len.to_be_bytes())?;
        out.write_all(part)?;
        Ok(())
    };
    let mut written = 0;
    let mut rows = docs.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let snapshot: Vec<u8> = row.get(1)?;
        let mut doc =
            Automerge::load(&snapshot).with_context(|| format!("document {id} does not load"))?;
        let incremental = changes
            .query_map([&id], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for data in incremental {
            doc.load_incremental(&data)
                .with_context(|| format!("a change of document {id} does not load"))?;
        }
        let hash = samod_core::CompactionHash::new(&doc.get_heads());
        put(samod_id(&id)?.to_string().as_bytes())?;
        put(hash.to_string().as_bytes())?;
        put(&doc.save())?;
        written += 1;
    }
    out.flush()?;
    out.into_inner()
        .map_err(|e| anyhow!("cannot write {}: {e}", to.display()))?
        .sync_all()?;
    Ok(written)
}

/// One document's entries in [`PackStorage`].
type DocEntries = HashMap<StorageKey, Vec<u8>>;

/// An in-memory samod storage indexed by document id (the first part of every document key).
#[derive(Clone, Default)]
pub struct PackStorage(Arc<Mutex<HashMap<String, DocEntries>>>);

impl PackStorage {
    /// Loads a pack written by [`export`].
    pub fn load(path: &Path) -> Result<PackStorage> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut map: HashMap<String, DocEntries> = HashMap::new();
        let mut rest = bytes.as_slice();
        let bad = |what: &str| anyhow!("{}: cut off inside a {what}", path.display());
        let take = |rest: &mut &[u8], what: &str| -> Result<Vec<u8>> {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| bad(what))?;
            let len = u32::from_be_bytes(*len) as usize;
            let part = tail.get(..len).ok_or_else(|| bad(what))?.to_vec();
            *rest = &tail[len..];
            Ok(part)
        };
        while !rest.is_empty() {
            let id = String::from_utf8(take(&mut rest, "document id")?)?;
            let hash = String::from_utf8(take(&mut rest, "compaction hash")?)?;
            let data = take(&mut rest, "snapshot")?;
            let key = StorageKey::from_parts([id.as_str(), "snapshot", hash.as_str()])
                .map_err(|e| anyhow!("{}: bad key for {id}: {e}", path.display()))?;
            map.entry(id).or_default().insert(key, data);
        }
        Ok(PackStorage(Arc::new(Mutex::new(map))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DocEntries>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Storage for PackStorage {
    fn load(&self, key: StorageKey) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let first = (&key).into_iter().next().cloned().unwrap_or_default();
        let found = self.lock().get(&first).and_then(|m| m.get(&key).cloned());
        std::future::ready(found)
    }

    fn load_range(
        &self,
        prefix: StorageKey,
    ) -> impl Future<Output = HashMap<StorageKey, Vec<u8>>> + Send {
        let first = (&prefix).into_iter().next().cloned();
        let map = self.lock();
        let found = match first {
            Some(first) => map
                .get(&first)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| prefix.is_prefix_of(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            None => map
                .values()
                .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
                .collect(),
        };
        std::future::ready(found)
    }

    fn put(&self, key: StorageKey, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let first = (&key).into_iter().next().cloned().unwrap_or_default();
        self.lock().entry(first).or_default().insert(key, data);
        std::future::ready(())
    }

    fn delete(&self, key: StorageKey) -> impl Future<Output = ()> + Send {
        let first = (&key).into_iter().next().cloned().unwrap_or_default();
        if let Some(m) = self.lock().get_mut(&first) {
            m.remove(&key);
        }
        std::future::ready(())
    }
}

/// The peak resident memory of this process (VmHWM), in MiB.
fn hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn say(v: Value) {
    println!("{v}");
}

/// `samod-peer`.
pub fn samod_peer(args: &PeerArgs) -> Result<()> {
    // Four workers on two cores: samod's hub holds one mutex for long stretches with many
    // documents open, and iroh's own tasks (keep-alives among them) must still get a thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_name("yz-samod")
        .enable_all()
        .build()?;
    let out = match (&args.listen, &args.dial) {
        (Some(listen), None) => rt.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let stop = async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            };
            serve(args, *listen, stop, say).await
        })?,
        (None, Some(peer)) => rt.block_on(dial(args, peer))?,
        _ => bail!("samod-peer needs --listen ADDR or --dial NODE_ID"),
    };
    say(out);
    // Leave at once: shutting down many documents' actors cleanly takes long and measures
    // nothing.
    std::process::exit(0);
}

async fn repo(pack: Option<&Path>) -> Result<Repo> {
    let storage = match pack {
        Some(p) => PackStorage::load(p)?,
        None => PackStorage::default(),
    };
    Ok(Repo::build_tokio().with_storage(storage).load().await)
}

/// Serves until `stop` resolves; `on_listening` gets the node id and port. Returns the counters.
async fn serve(
    args: &PeerArgs,
    listen: SocketAddr,
    stop: impl Future<Output = ()>,
    on_listening: impl FnOnce(Value),
) -> Result<Value> {
    let repo = repo(args.pack.as_deref()).await?;
    let acceptor = repo
        .make_acceptor(samod::Url::parse("iroh://bench-server/")?)
        .map_err(|_| anyhow!("the samod repo stopped"))?;
    let endpoint = yizhan_sync::net::bind_endpoint(
        &[1u8; 32],
        listen,
        vec![ALPN.to_vec()],
        &yizhan_sync::net::Discovery::default(),
    )
    .await?;
    let node_id = hex::encode(endpoint.id().as_bytes());
    let port = endpoint
        .bound_sockets()
        .into_iter()
        .find(SocketAddr::is_ipv4)
        .map(|a| a.port());
    let counters = Arc::new(Counters::default());
    let router = Router::builder(endpoint)
        .accept(
            ALPN,
            SamodProtocol {
                acceptor,
                counters: counters.clone(),
            },
        )
        .spawn();
    on_listening(json!({ "event": "listening", "node_id": node_id, "port": port }));
    stop.await;
    let mut out = counters.json();
    out["event"] = json!("stopped");
    out["hwm_mib"] = json!(hwm_mib());
    drop(router);
    Ok(out)
}

fn read_ids(path: &Path) -> Result<Vec<DocumentId>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<DocumentId>()
                .map_err(|e| anyhow!("{}: bad document id {l:?}: {e}", path.display()))
        })
        .collect()
}

/// Opens the documents, dials, and waits until every one is in sync (or `--timeout`). Returns
/// the figures.
async fn dial(args: &PeerArgs, peer: &str) -> Result<Value> {
    let ids = read_ids(args.docs.as_deref().context("--dial needs --docs")?)?;
    let addr = args.addr.context("--dial needs --addr")?;
    let key: [u8; 32] = hex::decode(peer)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("bad node id {peer:?}"))?;
    let peer_addr =
        EndpointAddr::new(PublicKey::from_bytes(&key).map_err(|e| anyhow!("bad node id: {e}"))?)
            .with_ip_addr(addr);
    let repo = repo(args.pack.as_deref()).await?;
    let limit = Duration::from_secs(args.timeout);

    // Open every document from storage first (not timed with the sync, but bounded by the same
    // limit: samod 0.16's hub visits every document actor on each event, so opening N documents
    // costs on the order of N² steps).
    let t = Instant::now();
    let mut handles = Vec::with_capacity(ids.len());
    if !args.fetch {
        // `Repo::find` does the hub's work synchronously under samod's lock, so the lookups are
        // started on a blocking thread: the limit below must be able to fire while they run.
        let (repo2, ids2) = (repo.clone(), ids.clone());
        let started = tokio::task::spawn_blocking(move || {
            let mut set = JoinSet::new();
            for id in ids2 {
                let find = repo2.find(id.clone());
                set.spawn(async move { (id, find.await) });
            }
            set
        });
        let opening = async {
            let mut set = started.await?;
            while let Some(r) = set.join_next().await {
                let (id, found) = r?;
                match found {
                    Ok(Some(h)) => {
                        handles.push(h);
                        if handles.len() % 2_000 == 0 {
                            eprintln!(
                                "samod-peer: {:.0} s, {} documents open",
                                t.elapsed().as_secs_f64(),
                                handles.len()
                            );
                        }
                    }
                    Ok(None) => bail!("document {id} is not in the pack"),
                    Err(_) => bail!("the samod repo stopped"),
                }
            }
            anyhow::Ok(())
        };
        if tokio::time::timeout(limit, opening).await.is_err() {
            return Ok(json!({
                "event": "gave_up", "phase": "opening", "timeout_s": args.timeout,
                "docs": ids.len(), "docs_opened": handles.len(),
                "ms": t.elapsed().as_secs_f64() * 1e3, "hwm_mib": hwm_mib(),
            }));
        }
    }
    say(json!({ "event": "opened", "docs": handles.len(), "ms": t.elapsed().as_millis() as u64 }));

    let endpoint = yizhan_sync::net::bind_endpoint(
        &[2u8; 32],
        SocketAddr::from(([0, 0, 0, 0], 0)),
        vec![],
        &yizhan_sync::net::Discovery::default(),
    )
    .await?;
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let dialer = repo
        .dial(
            BackoffConfig::default(),
            Arc::new(IrohDialer {
                endpoint: endpoint.clone(),
                peer: peer_addr,
                counters: counters.clone(),
            }),
        )
        .map_err(|_| anyhow!("the samod repo stopped"))?;
    tokio::time::timeout(limit, dialer.established())
        .await
        .map_err(|_| anyhow!("no connection within {} s", args.timeout))?
        .map_err(|e| anyhow!("cannot connect: {e:?}"))?;
    // One task per document, as automerge-repo runs one sync per document. A connection that
    // drops is redialed by samod under a new connection id, so each task waits on whichever
    // connection is current, looking again every few seconds. The current id is looked up by one
    // task every second: `connected_peers` copies every document's state, so asking it from
    // every task would cost this harness, not samod, the square of the documents.
    let current = Arc::new(Mutex::new(None));
    let watcher = {
        let (repo, current) = (repo.clone(), current.clone());
        tokio::spawn(async move {
            loop {
                let id = repo.connected_peers().0.first().map(|c| c.id);
                *current
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = id;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    *current
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        repo.connected_peers().0.first().map(|c| c.id);
    let done = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let mut set = JoinSet::new();
    if args.fetch {
        for id in &ids {
            let (find, done) = (repo.find(id.clone()), done.clone());
            set.spawn(async move {
                let found = matches!(find.await, Ok(Some(_)));
                if found {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                found
            });
        }
    } else {
        for h in handles {
            let (done, current, seen) = (done.clone(), current.clone(), seen.clone());
            set.spawn(async move {
                loop {
                    let now = *current
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let Some(conn) = now else {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    };
                    seen.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(conn);
                    let both = async {
                        h.they_have_our_changes(conn).await;
                        h.we_have_their_changes(conn).await;
                    };
                    if tokio::time::timeout(Duration::from_secs(5), both)
                        .await
                        .is_ok()
                    {
                        break;
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                true
            });
        }
    }
    // Progress on stderr every 10 s, for whoever watches a long run.
    let progress = {
        let done = done.clone();
        let total = ids.len();
        tokio::spawn(async move {
            let t = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                eprintln!(
                    "samod-peer: {:.0} s, {} of {total} documents in sync",
                    t.elapsed().as_secs_f64(),
                    done.load(Ordering::Relaxed)
                );
            }
        })
    };
    let all = async {
        let mut missing = 0u64;
        while let Some(r) = set.join_next().await {
            if !matches!(r, Ok(true)) {
                missing += 1;
            }
        }
        missing
    };
    let mut out = match tokio::time::timeout(limit, all).await {
        Ok(0) => json!({ "event": "synced" }),
        Ok(missing) => json!({ "event": "failed", "missing": missing }),
        Err(_) => json!({ "event": "gave_up", "phase": "syncing", "timeout_s": args.timeout }),
    };
    progress.abort();
    watcher.abort();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let counts = counters.json();
    if let (Some(o), Some(c)) = (out.as_object_mut(), counts.as_object()) {
        o.extend(c.clone());
    }
    out["ms"] = json!(ms);
    out["docs"] = json!(ids.len());
    out["docs_done"] = json!(done.load(Ordering::Relaxed));
    // Connections the sync needed (more than one: samod redialed after a drop).
    out["connections"] = json!(
        seen.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
            .max(1)
    );
    out["hwm_mib"] = json!(hwm_mib());
    Ok(out)
}

#[cfg(test)]
mod tests;
