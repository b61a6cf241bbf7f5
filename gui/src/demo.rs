//! `yizhan demo`: a whole county on this machine.
//!
//! Seven real nodes (city 市政务服务中心, townships 东岭镇 and 西湾乡, two villages under each),
//! each with its own SQLite store under one directory, its own `NodeHandle` store thread and its
//! own iroh endpoint on 127.0.0.1. They are enrolled exactly as stations are in the field (an
//! invitation at the parent, redeemed by the new node, which joins with its own key), only
//! in-process instead of over a ticket. Every village keeps a continuous session with its
//! township and every township with the city (`SyncNode::keep_synced`), so a case taken in at a
//! village flows up by itself.
//!
//! A link is "cut" by stopping the child's session task: the connection drops, the parent's side
//! ends, and nothing moves between the two until the link is restored, when the child dials
//! again and catches up from its watermarks. Cutting the session rather than the packets is
//! honest on one loopback interface: iroh would route around a packet filter on the same host
//! (see issue #5 for emulated links in network namespaces).
//!
//! The county answers the window from memory ([`County`]): a background task refreshes each
//! station's sync status and case count twice a second. `--headless` prints what flows where
//! and takes commands on stdin (`cut V11`, `restore V11`, `new V11 3`, `stream on`, `quit`).

use crate::app::{County, LinkInfo, StationSyncStatus};
use anyhow::{Context, Result, anyhow, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use yizhan_node::case::Action;
use yizhan_node::handle::NodeThread;
use yizhan_node::network::Station;
use yizhan_node::query::CaseFilter;
use yizhan_node::{Clock, InitParams, NewCase, Node, NodeHandle};
use yizhan_sync::net::SyncNode;

/// How often the county refreshes its status snapshot.
const STATUS_EVERY: Duration = Duration::from_millis(500);
/// How often the stream of applications brings in a case.
const STREAM_EVERY: Duration = Duration::from_millis(1_500);

/// One station of the demo county: code, name, tier, parent.
const LAYOUT: &[(&str, &str, &str, &str)] = &[
    ("C", "清河市政务服务中心", "city", ""),
    ("T1", "东岭镇便民服务中心", "township", "C"),
    ("T2", "西湾乡便民服务中心", "township", "C"),
    ("V11", "桃园村便民服务站", "village", "T1"),
    ("V12", "柳树村便民服务站", "village", "T1"),
    ("V21", "石桥村便民服务站", "village", "T2"),
    ("V22", "河口村便民服务站", "village", "T2"),
];

/// Surnames and given names for generated villagers.
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "孙", "马",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "丽娟", "德明", "玉梅", "海峰", "春花", "国庆", "小燕", "文斌",
];
/// Township items a village proxy agent takes in on a villager's behalf (代办).
const DELEGATED_ITEMS: &[&str] = &["TS-004", "TS-005", "TS-007", "TS-010", "TS-014", "TS-017"];

/// A small seeded generator (xorshift64*): the demo's data is the same on every run.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let n = items.len().max(1) as u64;
        items[usize::try_from(self.next() % n).unwrap_or(0)]
    }

    fn name(&mut self) -> String {
        format!("{}{}", self.pick(SURNAMES), self.pick(GIVEN))
    }
}

/// Options of `yizhan demo`.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where the stores live; a temporary directory, removed at exit, when absent.
    pub dir: Option<PathBuf>,
    /// Seed of the generated cases.
    pub seed: u64,
}

/// One running station.
#[derive(Debug)]
struct DemoStation {
    code: String,
    label: String,
    handle: NodeHandle,
    node_id: String,
    sync: Arc<SyncNode>,
    addrs: Vec<SocketAddr>,
}

/// One link, child to parent.
#[derive(Debug)]
struct DemoLink {
    child: usize,
    parent: usize,
    session: Option<JoinHandle<()>>,
}

/// What the background task last saw, for the window and the headless printer.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    status: Vec<StationSyncStatus>,
    cases: Vec<u64>,
}

/// The demo county: seven nodes, six links, a stream of applications.
#[derive(Debug)]
pub struct DemoCounty {
    rt: Option<tokio::runtime::Runtime>,
    stations: Vec<DemoStation>,
    threads: Vec<NodeThread>,
    links: Vec<DemoLink>,
    stream: Option<JoinHandle<()>>,
    snapshot: Arc<Mutex<Snapshot>>,
    rng: Arc<Mutex<Rng>>,
    _tmp: Option<tempfile::TempDir>,
}

fn station(code: &str) -> Option<Station> {
    LAYOUT
        .iter()
        .find(|s| s.0 == code)
        .and_then(|&(code, name, tier, parent)| {
            Some(Station {
                code: code.into(),
                name: name.into(),
                tier: tier.parse().ok()?,
                parent: parent.into(),
            })
        })
}

/// Enrols a node for `code` at `parent` in-process: invite, redeem, join with its own key.
fn enrol(parent: &mut Node, code: &str, dir: &Path) -> Result<Node> {
    let st = station(code).ok_or_else(|| anyhow!("no station {code} in the demo layout"))?;
    let invite = parent.invite(st, 7)?;
    let secret = yizhan_node::enrol::generate_secret()?;
    let joiner = yizhan_node::enrol::node_id_of(&secret);
    let enrolment = parent.redeem_invite(&invite.secret, &joiner)?;
    Ok(Node::join(
        dir,
        Clock::System,
        &secret,
        &invite.network_id,
        &invite.root_key,
        &enrolment,
    )?)
}

/// Takes in a delegated case at a village and forwards it to the village's township.
fn village_intake(node: &mut Node, rng: &mut Rng) -> yizhan_node::Result<String> {
    let township = node.station()?.parent.clone();
    let view = node.new_case(&NewCase {
        item_code: rng.pick(DELEGATED_ITEMS).into(),
        applicant_name: rng.name(),
        delegated: true,
        entrustment: true,
        handed_over: vec!["身份证复印件".into(), "户口簿复印件".into()],
        operator: "代办员".into(),
        ..NewCase::default()
    })?;
    node.act(&view.doc.id, &Action::Forward { to: township }, "代办员")?;
    Ok(view.doc.id)
}

/// A few weeks' worth of work at each station, so that every screen has something to show.
fn seed(node: &mut Node, tier: &str, rng: &mut Rng) -> Result<()> {
    match tier {
        "village" => {
            for _ in 0..6 {
                village_intake(node, rng)?;
            }
            for item in ["VL-001", "VL-005", "VL-006"] {
                let v = node.new_case(&NewCase {
                    item_code: item.into(),
                    applicant_name: rng.name(),
                    operator: "代办员".into(),
                    ..NewCase::default()
                })?;
                node.act(&v.doc.id, &Action::Accept, "代办员")?;
                node.act(&v.doc.id, &Action::Complete, "代办员")?;
            }
        }
        "township" => {
            for i in 0..12 {
                // Completed cases use items without departments; the building permit
                // (TS-006, two departments in parallel) waits on one of them.
                let item = if i % 4 == 3 {
                    rng.pick(&["TS-003", "TS-004", "TS-007"])
                } else {
                    rng.pick(&["TS-003", "TS-004", "TS-006", "TS-007"])
                };
                let v = node.new_case(&NewCase {
                    item_code: item.into(),
                    applicant_name: rng.name(),
                    operator: "窗口".into(),
                    ..NewCase::default()
                })?;
                let id = v.doc.id;
                match i % 4 {
                    0 => {}
                    1 => {
                        node.act(&id, &Action::Accept, "窗口")?;
                        if item == "TS-006" {
                            let dept = "乡镇农业农村办公室".to_string();
                            node.act(&id, &Action::Approve { dept }, "农业农村办")?;
                        }
                    }
                    2 => {
                        node.act(
                            &id,
                            &Action::RequestMaterials {
                                missing: vec!["收入证明".into()],
                            },
                            "窗口",
                        )?;
                    }
                    _ => {
                        node.act(&id, &Action::Accept, "窗口")?;
                        node.act(&id, &Action::Complete, "窗口")?;
                        node.act(&id, &Action::Deliver, "窗口")?;
                        let level = if i % 8 == 3 { 5 } else { 1 };
                        node.act(
                            &id,
                            &Action::Rate {
                                level,
                                comment: String::new(),
                            },
                            "窗口",
                        )?;
                    }
                }
            }
        }
        _ => {
            for i in 0..8 {
                let v = node.new_case(&NewCase {
                    item_code: rng.pick(&["CT-001", "CT-002", "CT-009", "CT-013"]).into(),
                    applicant_name: rng.name(),
                    operator: "综合窗口".into(),
                    ..NewCase::default()
                })?;
                if i % 2 == 0 {
                    node.act(&v.doc.id, &Action::Accept, "综合窗口")?;
                }
            }
        }
    }
    Ok(())
}

impl DemoCounty {
    /// Builds the county, seeds it and starts every session.
    pub fn start(opts: &DemoOptions) -> Result<DemoCounty> {
        let (tmp, dir) = match &opts.dir {
            Some(d) => {
                if d.join("C").exists() {
                    bail!(
                        "{} already holds a demo county; give an empty directory",
                        d.display()
                    );
                }
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("yizhan-demo-")
                    .tempdir()
                    .context("cannot create a directory for the demo stores")?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let mut rng = Rng(opts.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        // Enrol in layout order: each parent exists before its children.
        let mut nodes: Vec<Node> = Vec::new();
        for &(code, name, _, parent) in LAYOUT {
            let path = dir.join(code);
            let node = if parent.is_empty() {
                Node::init(
                    &path,
                    Clock::System,
                    &InitParams {
                        network_name: "清河市".into(),
                        code: code.into(),
                        name: name.into(),
                    },
                )?
            } else {
                let p = LAYOUT
                    .iter()
                    .position(|s| s.0 == parent)
                    .ok_or_else(|| anyhow!("no parent {parent} for {code}"))?;
                enrol(&mut nodes[p], code, &path)?
            };
            nodes.push(node);
        }
        for (node, &(_, _, tier, _)) in nodes.iter_mut().zip(LAYOUT) {
            seed(node, tier, &mut rng)?;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("yizhan-demo")
            .enable_all()
            .build()
            .context("cannot start the demo's runtime")?;
        let mut stations = Vec::new();
        let mut threads = Vec::new();
        for (node, &(code, name, _, _)) in nodes.into_iter().zip(LAYOUT) {
            let node_id = node.identity().node_id.clone();
            let (handle, thread) = NodeHandle::spawn(node)?;
            // Reports of sessions that end are not needed: the status task reads the stores.
            let (reports, mut drain) = mpsc::channel(16);
            rt.spawn(async move { while drain.recv().await.is_some() {} });
            let listen = SocketAddr::from(([127, 0, 0, 1], 0));
            let sync = rt.block_on(SyncNode::bind(handle.clone(), listen, reports))?;
            let addrs = sync.local_addrs();
            stations.push(DemoStation {
                code: code.into(),
                label: name.into(),
                handle,
                node_id,
                sync: Arc::new(sync),
                addrs,
            });
            threads.push(thread);
        }
        let links = LAYOUT
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.3.is_empty())
            .filter_map(|(child, s)| {
                let parent = LAYOUT.iter().position(|p| p.0 == s.3)?;
                Some(DemoLink {
                    child,
                    parent,
                    session: None,
                })
            })
            .collect();
        let mut county = DemoCounty {
            rt: Some(rt),
            stations,
            threads,
            links,
            stream: None,
            snapshot: Arc::new(Mutex::new(Snapshot::default())),
            rng: Arc::new(Mutex::new(rng)),
            _tmp: tmp,
        };
        for i in 0..county.links.len() {
            county.set_link(i, true);
        }
        county.spawn_status();
        Ok(county)
    }

    fn rt(&self) -> Option<&tokio::runtime::Runtime> {
        self.rt.as_ref()
    }

    /// The window's station slots, in layout order.
    pub fn slots(&self) -> Vec<crate::app::StationSlot> {
        self.stations
            .iter()
            .map(|s| crate::app::StationSlot {
                label: s.label.clone(),
                handle: s.handle.clone(),
                sync: None,
            })
            .collect()
    }

    /// The index of a station by code.
    pub fn station_index(&self, code: &str) -> Option<usize> {
        self.stations.iter().position(|s| s.code == code)
    }

    /// The link whose child is the station `code`.
    pub fn link_of(&self, code: &str) -> Option<usize> {
        let s = self.station_index(code)?;
        self.links.iter().position(|l| l.child == s)
    }

    /// A station's store handle.
    pub fn handle(&self, code: &str) -> Option<NodeHandle> {
        Some(self.stations[self.station_index(code)?].handle.clone())
    }

    /// Takes in `n` delegated cases at village `code` and forwards them to its township.
    pub fn intake(&self, code: &str, n: usize) -> Result<Vec<String>> {
        let handle = self
            .handle(code)
            .ok_or_else(|| anyhow!("no station {code} in the demo county"))?;
        let rng = self.rng.clone();
        Ok(handle.call(move |node| {
            let mut rng = rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (0..n).map(|_| village_intake(node, &mut rng)).collect()
        })?)
    }

    /// Each station's case count, as last observed.
    pub fn case_counts(&self) -> Vec<(String, u64)> {
        let snap = self
            .snapshot
            .lock()
            .map(|s| s.cases.clone())
            .unwrap_or_default();
        self.stations
            .iter()
            .zip(snap.into_iter().chain(std::iter::repeat(0)))
            .map(|(s, n)| (s.code.clone(), n))
            .collect()
    }

    fn spawn_status(&self) {
        let Some(rt) = self.rt() else { return };
        let snapshot = self.snapshot.clone();
        let stations: Vec<(String, NodeHandle, Arc<SyncNode>)> = self
            .stations
            .iter()
            .map(|s| (s.label.clone(), s.handle.clone(), s.sync.clone()))
            .collect();
        let ids: Vec<String> = self.stations.iter().map(|s| s.node_id.clone()).collect();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(STATUS_EVERY);
            loop {
                tick.tick().await;
                let mut snap = Snapshot::default();
                for (label, handle, sync) in &stations {
                    let h = handle.clone();
                    let observed = tokio::task::spawn_blocking(move || {
                        h.call(|node| {
                            let cases = node.count(&CaseFilter::default())?;
                            let peers = node.peers()?;
                            let mut pending = 0;
                            for p in &peers {
                                pending += node.pending_for(p).unwrap_or(0);
                            }
                            Ok((cases, peers, pending))
                        })
                    })
                    .await;
                    let Ok(Ok((cases, peers, pending))) = observed else {
                        continue;
                    };
                    let connected = ids.iter().filter(|id| sync.is_active(id)).count();
                    let last = peers.iter().filter_map(|p| p.last_contact).max();
                    let last_error = peers
                        .iter()
                        .filter(|p| p.last_contact.is_none() || p.last_error.is_some())
                        .find_map(|p| p.last_error.clone());
                    snap.cases.push(cases);
                    snap.status.push(StationSyncStatus {
                        label: label.clone(),
                        connected_peers: connected,
                        pending_docs: pending,
                        last_sync_ms: last,
                        last_error,
                    });
                }
                if let Ok(mut s) = snapshot.lock() {
                    *s = snap;
                }
            }
        });
    }

    /// Stops every session and store thread.
    pub fn shutdown(&mut self) {
        self.set_streaming(false);
        if let Some(rt) = self.rt.take() {
            for l in &mut self.links {
                if let Some(t) = l.session.take() {
                    t.abort();
                }
            }
            for s in &self.stations {
                let sync = s.sync.clone();
                rt.block_on(async move { sync.shutdown().await });
            }
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        self.stations.clear();
        for t in self.threads.drain(..) {
            t.join();
        }
    }
}

impl Drop for DemoCounty {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl County for DemoCounty {
    fn links(&self) -> Vec<LinkInfo> {
        self.links
            .iter()
            .enumerate()
            .map(|(id, l)| LinkInfo {
                id,
                a: self.stations[l.child].label.clone(),
                b: self.stations[l.parent].label.clone(),
                up: l.session.is_some(),
            })
            .collect()
    }

    fn set_link(&mut self, id: usize, up: bool) {
        let Some(rt) = self.rt.as_ref() else { return };
        let Some(link) = self.links.get_mut(id) else {
            return;
        };
        match (up, link.session.take()) {
            (true, None) => {
                let child = self.stations[link.child].sync.clone();
                let parent = &self.stations[link.parent];
                let (peer, addrs) = (parent.node_id.clone(), parent.addrs.clone());
                link.session = Some(rt.spawn(async move { child.keep_synced(peer, addrs).await }));
            }
            (true, Some(running)) => link.session = Some(running),
            // Dropping the session's future drops its connection: the parent's side ends too.
            (false, Some(running)) => running.abort(),
            (false, None) => {}
        }
    }

    fn streaming(&self) -> bool {
        self.stream.is_some()
    }

    fn set_streaming(&mut self, on: bool) {
        match (on, self.stream.take()) {
            (true, None) => {
                let Some(rt) = self.rt() else { return };
                let villages: Vec<NodeHandle> = LAYOUT
                    .iter()
                    .zip(&self.stations)
                    .filter(|(l, _)| l.2 == "village")
                    .map(|(_, s)| s.handle.clone())
                    .collect();
                let rng = self.rng.clone();
                self.stream = Some(rt.spawn(async move {
                    let mut tick = tokio::time::interval(STREAM_EVERY);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        let i = {
                            let mut r = rng
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            usize::try_from(r.next() % villages.len().max(1) as u64).unwrap_or(0)
                        };
                        let Some(h) = villages.get(i).cloned() else {
                            return;
                        };
                        let rng = rng.clone();
                        let made = tokio::task::spawn_blocking(move || {
                            h.call(move |n| {
                                let mut r = rng
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                village_intake(n, &mut r)
                            })
                        })
                        .await;
                        if let Ok(Err(e)) = made {
                            tracing::warn!("demo intake failed: {e}");
                        }
                    }
                }));
            }
            (true, Some(s)) => self.stream = Some(s),
            (false, Some(s)) => s.abort(),
            (false, None) => {}
        }
    }

    fn sync_status(&self) -> Vec<StationSyncStatus> {
        self.snapshot
            .lock()
            .map(|s| s.status.clone())
            .unwrap_or_default()
    }
}

/// Runs the county without a window: prints each station's case count as it changes and takes
/// commands on stdin until `quit`, end of input, or Ctrl-C.
pub fn run_headless(mut county: DemoCounty, out: &mut dyn std::io::Write) -> Result<()> {
    writeln!(out, "demo county running headless; stores and endpoints:")?;
    for s in &county.stations {
        let addrs: Vec<String> = s.addrs.iter().map(ToString::to_string).collect();
        writeln!(out, "  {:<4} {}  {}", s.code, s.label, addrs.join(","))?;
    }
    writeln!(
        out,
        "commands: cut CODE | restore CODE | new CODE [N] | stream on|off | counts | quit"
    )?;
    out.flush()?;
    let (tx, mut rx) = mpsc::channel::<String>(16);
    std::thread::Builder::new()
        .name("yizhan-demo-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        })
        .context("cannot read commands")?;
    let mut last: Vec<(String, u64)> = Vec::new();
    let mut stdin_open = true;
    let rt_handle = county
        .rt()
        .map(|r| r.handle().clone())
        .ok_or_else(|| anyhow!("the county is not running"))?;
    loop {
        let command = rt_handle.block_on(async {
            tokio::select! {
                line = rx.recv(), if stdin_open => Some(line),
                _ = tokio::time::sleep(Duration::from_millis(500)) => None,
                _ = tokio::signal::ctrl_c() => Some(Some("quit".to_string())),
            }
        });
        let counts = county.case_counts();
        if counts != last && counts.iter().any(|c| c.1 > 0) {
            let line: Vec<String> = counts
                .iter()
                .map(|(code, n)| {
                    let before = last.iter().find(|c| &c.0 == code).map_or(*n, |c| c.1);
                    if *n > before {
                        format!("{code} {n} (+{})", n - before)
                    } else {
                        format!("{code} {n}")
                    }
                })
                .collect();
            writeln!(
                out,
                "[{}] cases: {}",
                chrono::Local::now().format("%H:%M:%S"),
                line.join("  ")
            )?;
            out.flush()?;
            last = counts;
        }
        let Some(line) = command else { continue };
        let Some(line) = line else {
            stdin_open = false;
            continue;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            [] => continue,
            ["quit"] | ["exit"] => break,
            ["cut" | "restore", code] => match county.link_of(code) {
                Some(id) => {
                    let up = words[0] == "restore";
                    county.set_link(id, up);
                    format!("link {code} {}", if up { "restored" } else { "cut" })
                }
                None => format!("error: {code} has no link to a parent (try V11, T1 …)"),
            },
            ["new", code] | ["new", code, _] => {
                let n = match words.get(2).map(|w| w.parse::<usize>()) {
                    None => Ok(1),
                    Some(Ok(n)) if (1..=1_000).contains(&n) => Ok(n),
                    Some(_) => Err(format!(
                        "error: {:?} is not a count from 1 to 1000",
                        words[2]
                    )),
                };
                match n {
                    Err(e) => e,
                    Ok(n) => match county.intake(code, n) {
                        Ok(ids) => format!(
                            "{code}: took in {} case(s) and forwarded them: {}",
                            ids.len(),
                            ids.join(" ")
                        ),
                        Err(e) => format!("error: {e:#}"),
                    },
                }
            }
            ["stream", on @ ("on" | "off")] => {
                county.set_streaming(*on == "on");
                format!("stream {on}")
            }
            ["counts"] => {
                let c: Vec<String> = county
                    .case_counts()
                    .iter()
                    .map(|(code, n)| format!("{code} {n}"))
                    .collect();
                c.join("  ")
            }
            _ => format!("error: unknown command {line:?}"),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    county.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::Instant;

    /// Polls `f` until it is true or `secs` pass.
    fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn holds(county: &DemoCounty, code: &str, ids: &[String]) -> bool {
        let h = county.handle(code).unwrap();
        let ids = ids.to_vec();
        h.call(move |n| Ok(ids.iter().all(|id| n.case(id).is_ok())))
            .unwrap()
    }

    fn holds_none(county: &DemoCounty, code: &str, ids: &[String]) -> bool {
        let h = county.handle(code).unwrap();
        let ids = ids.to_vec();
        h.call(move |n| Ok(ids.iter().all(|id| n.case(id).is_err())))
            .unwrap()
    }

    #[test]
    fn a_village_works_offline_and_its_cases_reach_the_city_when_the_link_returns() {
        let tmp = tempfile::tempdir().unwrap();
        let mut county = DemoCounty::start(&DemoOptions {
            dir: Some(tmp.path().to_path_buf()),
            seed: 1,
        })
        .unwrap();
        assert_eq!(county.links().len(), 6);
        let v11 = county.link_of("V11").unwrap();
        county.set_link(v11, false);
        assert!(!county.links()[v11].up);
        let offline = county.intake("V11", 3).unwrap();
        // Another village's case proves the county is syncing meanwhile.
        let online = county.intake("V12", 1).unwrap();
        assert!(
            eventually(60, || holds(&county, "C", &online)),
            "V12's case never reached the city"
        );
        assert!(holds_none(&county, "C", &offline));
        assert!(holds_none(&county, "T1", &offline));
        county.set_link(v11, true);
        assert!(
            eventually(60, || holds(&county, "C", &offline)),
            "V11's cases never reached the city after the link came back"
        );
        assert!(holds(&county, "T1", &offline));
        // Scope: the other township never sees them.
        assert!(holds_none(&county, "T2", &offline));
        county.shutdown();
    }
}
