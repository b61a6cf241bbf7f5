//! The network commands: `invite`, `join`, `serve`, `sync`, `peer`, `bundle` (`revoke` is one
//! call on the node, in the dispatch).
//!
//! The node runs on its store thread ([`NodeHandle`]); the iroh endpoint runs on a tokio runtime
//! made here, so the rest of the command line stays synchronous.

use super::Ctx;
use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use yizhan_node::network::Station;
use yizhan_node::{Clock, Node, NodeHandle};
use yizhan_sync::engine::{Engine, EngineEvent, EngineOptions, WhenBusy};
use yizhan_sync::net::{SessionReport, SyncNode, parse_addrs};
use yizhan_sync::ticket::Ticket;

#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Write every document in scope for a station (or this node's whole scope) to a file.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// The station the bundle is for.
        #[arg(long = "for", value_name = "CODE")]
        for_station: Option<String>,
    },
    /// Merge a bundle file; importing it again, or bundles in any order, changes nothing more.
    Import {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PeerCmd {
    /// Remember a peer and its address.
    Add {
        /// The peer's node id.
        node_id: String,
        /// Its address.
        #[arg(value_name = "ADDR:PORT")]
        addr: String,
    },
    /// List known peers, last contact and progress.
    List,
}

/// `yizhan serve`: the flags given replace the node's own discovery settings.
pub fn serve_command(
    ctx: &Ctx,
    listen: Option<String>,
    mdns: bool,
    relay: Option<String>,
    http: Option<String>,
) -> Result<()> {
    let http = http
        .map(|h| {
            h.parse::<SocketAddr>()
                .map_err(|_| anyhow!("invalid --http {h:?}: expected IP:PORT"))
        })
        .transpose()?;
    let addr = listen
        .map(|l| {
            l.parse()
                .map_err(|_| anyhow!("invalid --listen {l:?}: expected IP:PORT"))
        })
        .transpose()?;
    let discovery = (mdns || relay.is_some()).then_some(yizhan_sync::net::Discovery {
        mdns,
        relay_url: relay,
    });
    serve(ctx.open()?, &ctx.data, addr, discovery, http)
}

/// Runs one `peer` subcommand.
pub fn peer(ctx: &Ctx, cmd: PeerCmd) -> Result<()> {
    match cmd {
        PeerCmd::Add { node_id, addr } => {
            let mut node = ctx.open()?;
            peer_add(&mut node, &node_id, &addr, ctx.json)
        }
        PeerCmd::List => peer_list(&ctx.open()?, ctx.json),
    }
}

/// Runs one `bundle` subcommand.
pub fn bundle(ctx: &Ctx, cmd: BundleCmd) -> Result<()> {
    let mut node = ctx.open()?;
    match cmd {
        BundleCmd::Export { out, for_station } => {
            let r = yizhan_sync::bundle::export(&mut node, &out, for_station.as_deref())?;
            crate::output::done(
                &format!(
                    "wrote {} documents, {} bytes, to {}",
                    r.docs,
                    r.bytes,
                    out.display()
                ),
                ctx.json,
            )
        }
        BundleCmd::Import { file } => {
            let r = yizhan_sync::bundle::import(&mut node, &file)?;
            if ctx.json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                outln!(
                    "{}: {} documents, {} changed, {} already here, {} outside this station's scope",
                    file.display(),
                    r.docs,
                    r.changed,
                    r.unchanged,
                    r.out_of_scope
                );
            }
            Ok(())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("yizhan-net")
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

/// `invite`.
#[allow(clippy::too_many_arguments)]
pub fn invite(
    node: &mut Node,
    code: String,
    name: String,
    tier: String,
    parent: Option<String>,
    valid_days: u32,
    addr: Vec<String>,
    json: bool,
) -> Result<()> {
    let addrs = if addr.is_empty() {
        node.listen_addrs()?
    } else {
        addr
    };
    if addrs.is_empty() {
        bail!(
            "this node has no known address: open the window or start `yizhan serve` first, or pass --addr IP:PORT"
        );
    }
    for a in &addrs {
        a.parse::<SocketAddr>()
            .map_err(|_| anyhow!("invalid --addr {a:?}: expected IP:PORT"))?;
    }
    let parent = parent.unwrap_or_else(|| match tier.as_str() {
        "village" => node.identity().station.clone(),
        _ => node
            .roster()
            .stations
            .values()
            .find(|s| s.parent.is_empty())
            .map(|s| s.code.clone())
            .unwrap_or_default(),
    });
    let parent = if tier == "city" {
        String::new()
    } else {
        parent
    };
    let station = Station {
        code,
        name,
        tier: tier.parse()?,
        parent,
    };
    let inv = node.invite(station, valid_days)?;
    let ticket = Ticket::from_invite(&inv, &node.roster().network_name, addrs);
    let text = ticket.encode();
    if json {
        outln!(
            "{}",
            json!({ "ticket": text, "station": inv.station.code, "ordinal": inv.ordinal, "expires_at": yizhan_node::clock::format_ms(inv.expires_at) })
        );
    } else {
        outln!("{text}");
        eprintln!(
            "邀请 {} {}（第 {} 台），有效至 {}；在新电脑上运行：yizhan join <上面的邀请码>",
            inv.station.code,
            inv.station.name,
            inv.ordinal,
            yizhan_node::clock::format_ms(inv.expires_at)
        );
    }
    Ok(())
}

/// `join`.
pub fn join(data: &Path, clock: Clock, ticket: &str, json: bool) -> Result<()> {
    let ticket = Ticket::decode(ticket)?;
    if data.join(yizhan_node::store::STORE_FILE).exists() {
        bail!(
            "{} already holds a store file (yizhan.sqlite3); choose another --data directory",
            data.display()
        );
    }
    let rt = runtime()?;
    let node = rt.block_on(yizhan_sync::net::join(&ticket, data, clock))?;
    crate::output::status(&node, data, json)
}

/// `peer add`.
fn peer_add(node: &mut Node, node_id: &str, addr: &str, json: bool) -> Result<()> {
    addr.parse::<SocketAddr>()
        .map_err(|_| anyhow!("invalid address {addr:?}: expected IP:PORT"))?;
    node.add_peer(node_id, &[addr.to_string()])?;
    crate::output::done(
        &format!("peer {} at {addr}", yizhan_node::cert::short(node_id)),
        json,
    )
}

/// `peer list`.
fn peer_list(node: &Node, json: bool) -> Result<()> {
    let peers = node.peers()?;
    if json {
        let v: Vec<_> = peers
            .iter()
            .map(|p| {
                json!({
                    "node_id": p.node_id, "station": p.station, "addrs": p.addrs, "received_seq": p.received_seq,
                    "last_contact": p.last_contact.map(yizhan_node::clock::format_ms), "last_error": p.last_error,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let roster = node.roster();
    for p in peers {
        outln!(
            "{} {} {:<24} 最后联系 {}{}",
            &p.node_id[..16.min(p.node_id.len())],
            crate::output::station_name(roster, &p.station),
            p.addrs.join(","),
            p.last_contact
                .map_or("-".to_string(), yizhan_node::clock::format_ms),
            p.last_error.map(|e| format!("  ⚠ {e}")).unwrap_or_default()
        );
    }
    Ok(())
}

fn print_report(r: &SessionReport) {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("event".into(), "session".into());
    }
    outln!("{v}");
}

/// `serve`: the station's sync engine without the window, until SIGINT or SIGTERM. It refuses to
/// start beside a window (or another `serve`) on the same data directory: one engine per
/// directory. With `http` it also serves the progress page (办件查询) on the engine's runtime;
/// the `listening` line then names the page's address as `http`.
pub fn serve(
    node: Node,
    data: &Path,
    listen: Option<SocketAddr>,
    discovery: Option<yizhan_sync::net::Discovery>,
    http: Option<SocketAddr>,
) -> Result<()> {
    let title = format!(
        "{} · {}",
        node.roster().network_name,
        node.station().map(|s| s.name.clone()).unwrap_or_default()
    );
    let (handle, thread) = NodeHandle::spawn(node)?;
    let (tx, mut rx) = mpsc::channel::<EngineEvent>(64);
    let engine = Engine::start(
        handle.clone(),
        EngineOptions {
            data_dir: data.to_path_buf(),
            program: "serve".into(),
            listen,
            discovery,
            when_busy: WhenBusy::Fail,
        },
        Some(tx),
    )?;
    let rt = engine
        .runtime()
        .cloned()
        .ok_or_else(|| anyhow!("the sync engine has no runtime"))?;
    // The notice sender runs beside the engine: the one process that syncs this directory
    // (it holds `sync.lock`) is also the one that sends its notices.
    let sender =
        yizhan::notices::Sender::start(handle.clone(), yizhan::notices::SenderOptions::from_env())
            .context("cannot start the notice sender")?;
    let page = match http {
        Some(addr) => {
            let listener = match rt.block_on(yizhan::web::bind(addr)) {
                Ok(l) => l,
                Err(e) => {
                    sender.stop();
                    engine.stop();
                    drop(handle);
                    thread.join();
                    bail!("cannot serve the progress page on {addr}: {e}");
                }
            };
            let bound = listener.local_addr()?;
            let router = yizhan::web::router(
                handle.clone(),
                &title,
                std::sync::Arc::new(yizhan::web::Limiter::default()),
            );
            Some((
                bound,
                rt.spawn(async move {
                    if let Err(e) = yizhan::web::serve(listener, router).await {
                        tracing::error!("the progress page stopped: {e}");
                    }
                }),
            ))
        }
        None => None,
    };
    let http_addr = page.as_ref().map(|(a, _)| a.to_string());
    let result = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(EngineEvent::Listening { node_id, addrs }) => {
                        outln!("{}", json!({ "event": "listening", "node_id": node_id, "addr": addrs.first(), "addrs": addrs, "http": http_addr }));
                    }
                    Some(EngineEvent::Session(r)) => print_report(&r),
                    Some(EngineEvent::Failed(e)) => bail!("{e}"),
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
        }
        anyhow::Ok(())
    });
    // The page's router holds a handle on the store thread: it must be gone before the thread
    // is joined below.
    if let Some((_, task)) = page {
        task.abort();
        let _ = rt.block_on(task);
    }
    sender.stop();
    engine.stop();
    while let Ok(e) = rx.try_recv() {
        if let EngineEvent::Session(r) = e {
            print_report(&r);
        }
    }
    drop(handle);
    thread.join();
    result?;
    outln!("{}", json!({ "event": "stopped" }));
    Ok(())
}

/// `sync`: one pass with every known peer, then a summary. Beside a running engine (the window
/// or `serve` on the same data directory) it refuses: that engine already keeps every peer in
/// sync, and two endpoints with one key would compete for the same peers.
pub fn sync_once(node: Node, data: &Path, timeout: Duration, json: bool) -> Result<()> {
    if let Some(h) = yizhan_sync::engine::lock_holder(data) {
        bail!(
            "{} (pid {}) already syncs {} continuously; use its 立即同步 (sync now) instead",
            if h.program.is_empty() {
                "another process"
            } else {
                h.program.as_str()
            },
            h.pid,
            data.display()
        );
    }
    let peers = node.peers()?;
    if peers.is_empty() {
        bail!("no peers known: add one with `yizhan peer add NODE_ID ADDR:PORT`");
    }
    // Each peer by its station's name in the human summary (issue #13).
    let names: std::collections::HashMap<String, String> = peers
        .iter()
        .map(|p| {
            let name = if p.station.is_empty() {
                yizhan_node::cert::short(&p.node_id).to_string()
            } else {
                crate::output::station_name(node.roster(), &p.station)
            };
            (p.node_id.clone(), name)
        })
        .collect();
    let (handle, thread) = NodeHandle::spawn(node)?;
    let rt = runtime()?;
    let started = Instant::now();
    let results = rt.block_on(async {
        // Incoming sessions during a one-shot pass are not reported; with the receiver gone their
        // reports are dropped at once instead of filling the channel.
        let (tx, _) = mpsc::channel::<SessionReport>(64);
        let sync = SyncNode::bind(handle.clone(), SocketAddr::from(([0, 0, 0, 0], 0)), tx).await?;
        let mut results = Vec::new();
        for p in &peers {
            let addrs = parse_addrs(&p.addrs);
            let r = tokio::time::timeout(timeout, sync.sync_once(&p.node_id, &addrs)).await;
            results.push((
                p.node_id.clone(),
                match r {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("timed out after {} s", timeout.as_secs())),
                },
            ));
        }
        sync.shutdown().await;
        anyhow::Ok(results)
    })?;
    drop(handle);
    thread.join();
    let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
    if ok == 0 {
        // A refused command: one line with the real reason (a refusal says why — revoked,
        // another network — not that nothing answered), nothing on stdout.
        let first = results
            .iter()
            .find_map(|(_, r)| r.as_ref().err())
            .cloned()
            .unwrap_or_default();
        bail!("no peer synced: {first}");
    }
    let docs_in: usize = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|r| r.stats.docs_in)
        .sum();
    let docs_out: usize = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|r| r.stats.docs_out)
        .sum();
    if json {
        let peers: Vec<_> = results
            .iter()
            .map(|(id, r)| match r {
                Ok(r) => serde_json::to_value(r).unwrap_or_default(),
                Err(e) => json!({ "peer": id, "error": e }),
            })
            .collect();
        outln!(
            "{}",
            json!({ "peers": peers, "reached": ok, "docs_in": docs_in, "docs_out": docs_out, "ms": started.elapsed().as_millis() as u64 })
        );
    } else {
        for (id, r) in &results {
            let name = names.get(id).cloned().unwrap_or_else(|| id.clone());
            match r {
                Ok(r) => outln!(
                    "{name} ✓ 收到 {} 件，发出 {} 件，{} ms",
                    r.stats.docs_in,
                    r.stats.docs_out,
                    r.ms
                ),
                Err(e) => outln!("{name} ✗ {e}"),
            }
        }
    }
    Ok(())
}
