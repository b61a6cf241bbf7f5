//! A county of real nodes in this process: real stores, real iroh endpoints on 127.0.0.1,
//! enrolled through tickets redeemed over the network, each link a continuous session that can be
//! cut and healed; a seeded workload; and the invariants checked at the end.
//!
//! A link is cut by stopping the child's session task (the connection drops, the parent's side
//! ends) and healed by starting it again; the child then catches up from its watermarks. This is
//! the partition of the in-process mode: on one loopback interface iroh would route around a
//! packet-level cut, so link *quality* (delay, loss, bandwidth) needs the namespace lab.

use crate::rng::Rng;
use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use yizhan_node::case::Action;
use yizhan_node::handle::NodeThread;
use yizhan_node::network::Station;
use yizhan_node::query::CaseFilter;
use yizhan_node::replica::Scope;
use yizhan_node::{Clock, InitParams, NewCase, Node, NodeHandle};
use yizhan_sync::net::{SessionReport, SyncNode};
use yizhan_sync::ticket::Ticket;

/// 2026-03-02T09:00:00+08:00, a Monday: day 0 of every scenario.
pub const DAY0: i64 = 1_772_413_200_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// How long one network step (a join, a probe) may take before the run fails.
const STEP: Duration = Duration::from_secs(60);

/// The stations of the scenario county: code, name, tier, parent.
pub const LAYOUT: &[(&str, &str, &str, &str)] = &[
    ("C", "市政务服务中心", "city", ""),
    ("T1", "北格镇便民服务中心", "township", "C"),
    ("T2", "西温庄乡便民服务中心", "township", "C"),
    ("V11", "北格村便民服务站", "village", "T1"),
    ("V12", "张花村便民服务站", "village", "T1"),
    ("V21", "西温庄村便民服务站", "village", "T2"),
    ("V22", "郝家堡村便民服务站", "village", "T2"),
];

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "丽娟", "德明", "玉梅", "海峰",
];
const VILLAGE_ITEMS: &[&str] = &["TS-004", "TS-005", "TS-007", "TS-010", "TS-014", "TS-017"];
const TOWNSHIP_ITEMS: &[&str] = &["TS-001", "TS-003", "TS-004", "TS-006", "TS-012", "TS-016"];
const CITY_ITEMS: &[&str] = &["CT-001", "CT-002", "CT-003", "CT-009", "CT-013"];

fn loopback(bound: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = bound
        .iter()
        .filter(|a| a.is_ipv4())
        .map(|a| SocketAddr::from((Ipv4Addr::LOCALHOST, a.port())))
        .collect();
    out.dedup();
    out
}

/// A running node: its store thread and its iroh endpoint.
#[derive(Debug)]
pub struct Member {
    /// A label, e.g. `T1` or `T1-laptop`.
    pub name: String,
    /// Its station's code.
    pub station: String,
    /// Its tier.
    pub tier: String,
    /// The store.
    pub handle: NodeHandle,
    _thread: NodeThread,
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
    pub async fn start(name: &str, node: Node) -> Result<Member> {
        let station = node.identity().station.clone();
        let tier = node
            .station()
            .map(|s| s.tier.as_str().to_string())
            .unwrap_or_else(|_| "village".into());
        let (handle, thread) = NodeHandle::spawn(node)?;
        let (tx, mut rx) = mpsc::channel::<SessionReport>(64);
        let net = SyncNode::bind(handle.clone(), SocketAddr::from(([127, 0, 0, 1], 0)), tx).await?;
        let addrs = loopback(&net.local_addrs());
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
            tier,
            handle,
            _thread: thread,
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

    /// An invitation for `code` at this node, as `yizhan invite` prints it.
    pub async fn invite(&self, code: &str) -> Result<Ticket> {
        let &(code, name, tier, parent) = LAYOUT
            .iter()
            .find(|s| s.0 == code)
            .ok_or_else(|| anyhow!("no station {code} in the layout"))?;
        let st = Station {
            code: code.into(),
            name: name.into(),
            tier: tier.parse()?,
            parent: parent.into(),
        };
        let addrs: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        self.call(move |n| {
            let inv = n.invite(st, 7)?;
            Ok(Ticket {
                network_id: inv.network_id,
                network_name: n.roster().network_name.clone(),
                root_key: inv.root_key,
                inviter: inv.inviter,
                addrs,
                station: inv.station.code.clone(),
                station_name: inv.station.name.clone(),
                tier: inv.station.tier,
                secret: inv.secret,
                expires_at: inv.expires_at,
            })
        })
        .await
    }

    /// A new node of `code`, enrolled through a ticket redeemed over the network here.
    pub async fn enrol(&self, dir: &Path, name: &str, code: &str) -> Result<Member> {
        let ticket = Ticket::decode(&self.invite(code).await?.encode())?;
        let node = tokio::time::timeout(
            STEP,
            yizhan_sync::net::join(&ticket, dir, Clock::Fixed(DAY0)),
        )
        .await
        .map_err(|_| anyhow!("{name} could not join at {} in {STEP:?}", self.name))??;
        Member::start(name, node).await
    }

    /// One sync pass dialed from here.
    pub async fn sync_once(&self, other: &Member) -> Result<SessionReport> {
        let r = tokio::time::timeout(STEP, self.net.sync_once(&other.id, &other.addrs))
            .await
            .map_err(|_| anyhow!("sync {} → {} hung", self.name, other.name))??;
        Ok(r)
    }
}

/// One link, child dialing parent.
#[derive(Debug)]
pub struct Link {
    /// The dialing member.
    pub child: usize,
    /// The member it dials.
    pub parent: usize,
    session: Option<JoinHandle<()>>,
}

/// Heads of every document a node holds, by id.
type HeadsMap = BTreeMap<String, Vec<automerge::ChangeHash>>;

/// The running county.
#[derive(Debug)]
pub struct Lab {
    /// Where the stores live.
    pub dir: PathBuf,
    /// Every node.
    pub members: Vec<Member>,
    /// Every link.
    pub links: Vec<Link>,
    /// The workload: its randomness, the cases acknowledged, the actions applied and refused.
    pub work: Workload,
    /// Simulated day.
    pub day: i64,
    /// Members taken out of the county (revoked): no link, not checked.
    pub retired: BTreeSet<usize>,
    /// Whether every endpoint has been shut down.
    closed: bool,
}

impl Lab {
    /// The standard county: a city, two townships, two villages under each, every link up.
    pub async fn county(dir: &Path, seed: u64) -> Result<Lab> {
        let city = Node::init(
            &dir.join("C"),
            Clock::Fixed(DAY0),
            &InitParams {
                network_name: "太原市政务服务网".into(),
                code: "C".into(),
                name: LAYOUT[0].1.into(),
            },
        )?;
        let mut lab = Lab {
            dir: dir.to_path_buf(),
            members: vec![Member::start("C", city).await?],
            links: Vec::new(),
            work: Workload::new(seed),
            day: 0,
            retired: BTreeSet::new(),
            closed: false,
        };
        for &(code, _, _, parent) in &LAYOUT[1..] {
            lab.add(code, code, parent).await?;
        }
        Ok(lab)
    }

    /// Enrols a node `name` of station `code` at the member named `at`, and links it to `at`.
    pub async fn add(&mut self, name: &str, code: &str, at: &str) -> Result<usize> {
        let p = self.index(at)?;
        let member = self.members[p]
            .enrol(&self.dir.join(name), name, code)
            .await?;
        self.members.push(member);
        let child = self.members.len() - 1;
        self.links.push(Link {
            child,
            parent: p,
            session: None,
        });
        let l = self.links.len() - 1;
        self.set_link(l, true);
        Ok(child)
    }

    /// A member by name.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.members
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| anyhow!("no member {name}"))
    }

    /// The link whose child is `name`.
    pub fn link_of(&self, name: &str) -> Result<usize> {
        let c = self.index(name)?;
        self.links
            .iter()
            .position(|l| l.child == c)
            .ok_or_else(|| anyhow!("{name} has no link"))
    }

    /// Takes a member out of the county: its link is cut for good and the invariants skip it.
    pub fn retire(&mut self, m: usize) {
        for l in 0..self.links.len() {
            if self.links[l].child == m {
                self.set_link(l, false);
            }
        }
        self.retired.insert(m);
    }

    /// Cuts or heals a link.
    pub fn set_link(&mut self, l: usize, up: bool) {
        let Some(link) = self.links.get_mut(l) else {
            return;
        };
        if up && self.retired.contains(&link.child) {
            return;
        }
        match (up, link.session.take()) {
            (true, None) => {
                let child = self.members[link.child].net.clone();
                let parent = &self.members[link.parent];
                let (peer, addrs) = (parent.id.clone(), parent.addrs.clone());
                link.session = Some(tokio::spawn(async move {
                    child.keep_synced(peer, addrs).await;
                }));
            }
            (true, Some(s)) => link.session = Some(s),
            (false, Some(s)) => s.abort(),
            (false, None) => {}
        }
    }

    /// Cuts or heals every link.
    pub fn set_all(&mut self, up: bool) {
        for l in 0..self.links.len() {
            self.set_link(l, up);
        }
    }

    /// Moves every node's clock to simulated day `day`, 09:00.
    pub async fn set_day(&mut self, day: i64) -> Result<()> {
        self.day = day;
        let clock = Clock::Fixed(DAY0 + day * DAY_MS);
        for m in &self.members {
            m.call(move |n| {
                n.set_clock(clock);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Takes in `n` cases at member `m`: a village takes in delegated township items and forwards
    /// them; a township or city takes in its own items.
    pub async fn intake(&mut self, m: usize, n: usize) -> Result<Vec<String>> {
        let batch = self.work.intake_batch(&self.members[m].tier, n);
        let ids = self.members[m].call(intake_op(batch)).await?;
        self.work.acknowledged.extend(ids.iter().cloned());
        Ok(ids)
    }

    /// One day's handling at member `m` (see [`handle_op`]).
    pub async fn handle_day(&mut self, m: usize, max: usize) -> Result<()> {
        let seed = self.work.rng.next_u64();
        let (done, refused) = self.members[m].call(handle_op(seed, max)).await?;
        self.work.actions += done;
        self.work.refused_actions += refused;
        Ok(())
    }

    /// A simulated day of work everywhere: `per_station` intakes at each member, then handling.
    pub async fn work_day(&mut self, per_station: usize) -> Result<()> {
        let active: Vec<usize> = self.active().map(|(i, _)| i).collect();
        for &m in &active {
            self.intake(m, per_station).await?;
        }
        for &m in &active {
            self.handle_day(m, 500).await?;
        }
        Ok(())
    }

    /// Waits until the city holds every one of `ids`; the time it took.
    pub async fn wait_at_city(&self, ids: &[String], limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let probe = ids.to_vec();
            if self.members[0]
                .call(move |n| Ok(probe.iter().all(|id| n.case(id).is_ok())))
                .await?
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!(
                    "{} cases did not all reach the city within {limit:?}",
                    ids.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the invariants read of each member still in the county, the city first.
    pub fn probes(&self) -> Vec<Probe> {
        self.active()
            .map(|(_, m)| Probe {
                name: m.name.clone(),
                station: m.station.clone(),
                handle: m.handle.clone(),
            })
            .collect()
    }

    /// The members still in the county, with their indexes.
    fn active(&self) -> impl Iterator<Item = (usize, &Member)> {
        self.members
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.retired.contains(i))
    }

    /// Whether every node holds exactly the city's documents in its scope, with the same heads
    /// (with the city holding everything, that is every pair agreeing on every shared document).
    pub async fn converged(&self) -> Result<bool> {
        let probes = self.probes();
        tokio::task::spawn_blocking(move || converged(&probes)).await?
    }

    /// Waits until converged; the time it took.
    pub async fn wait_converged(&self, limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if self.converged().await? {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                let report = self.invariants().await?;
                let links: Vec<String> = self
                    .links
                    .iter()
                    .map(|l| {
                        let (c, p) = (&self.members[l.child], &self.members[l.parent]);
                        format!(
                            "{}–{} {}{}",
                            c.name,
                            p.name,
                            if l.session.is_some() { "up" } else { "cut" },
                            if c.net.is_active(&p.id) {
                                " (session running)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect();
                bail!(
                    "the county did not converge within {limit:?}: {}; links: {}",
                    report["convergence"],
                    links.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How long a case taken in at `village` takes to be visible at the city.
    pub async fn village_to_city(&mut self, village: &str) -> Result<Duration> {
        let v = self.index(village)?;
        let started = Instant::now();
        let id = self
            .intake(v, 1)
            .await?
            .pop()
            .ok_or_else(|| anyhow!("no case"))?;
        loop {
            let probe = id.clone();
            if self.members[0]
                .call(move |n| Ok(n.case(&probe).is_ok()))
                .await?
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > STEP {
                bail!("a case from {village} did not reach the city within {STEP:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The four invariants, each with its result and details (see [`invariants`]).
    pub async fn invariants(&self) -> Result<Value> {
        let probes = self.probes();
        let acknowledged = self.work.acknowledged.clone();
        tokio::task::spawn_blocking(move || invariants(&probes, &acknowledged)).await?
    }

    /// Ends every session and endpoint, both sides of each link reporting, and sums the reports
    /// per link. Endpoints close from the leaves up (children were enrolled after their
    /// parents): a child's closing ends its session with the parent cleanly on both sides while
    /// the parent still runs and reports it.
    pub async fn link_report(&mut self) -> Result<Value> {
        let count = |m: &Member, peer: &str| {
            m.reports
                .lock()
                .map(|r| r.iter().filter(|r| r.peer == peer).count())
                .unwrap_or_default()
        };
        for c in (0..self.members.len()).rev() {
            // The links on which `c` is the child and a session runs: wait for one more report
            // on each side once `c` closes.
            let waits: Vec<(usize, usize, usize)> = self
                .links
                .iter()
                .filter(|l| l.child == c && l.session.is_some())
                .map(|l| {
                    let p = &self.members[l.parent];
                    (
                        l.parent,
                        count(p, &self.members[c].id),
                        count(&self.members[c], &p.id),
                    )
                })
                .collect();
            self.members[c].net.shutdown().await;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let all_in = waits.iter().all(|&(p, at_parent, at_child)| {
                    let (child, parent) = (&self.members[c], &self.members[p]);
                    count(parent, &child.id) > at_parent && count(child, &parent.id) > at_child
                });
                if all_in {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.closed = true;
        self.set_all(false);
        let mut out = Vec::new();
        for l in &self.links {
            let (c, p) = (&self.members[l.child], &self.members[l.parent]);
            let mut bytes = (0u64, 0u64);
            let mut msgs = (0usize, 0usize);
            let mut sessions = 0usize;
            let mut errors: BTreeSet<String> = BTreeSet::new();
            let mut waited = (0usize, 0usize);
            // Sessions the parent accepted from this child: their counters are the parent's view.
            if let Ok(reports) = p.reports.lock() {
                for r in reports.iter().filter(|r| r.peer == c.id) {
                    sessions += 1;
                    bytes.0 += r.bytes_in;
                    bytes.1 += r.bytes_out;
                    msgs.0 += r.stats.msgs_in;
                    msgs.1 += r.stats.msgs_out;
                    waited.1 += r.stats.round_trips;
                    errors.extend(r.error.clone());
                }
            }
            // The child's side of the same sessions. A session ended by cutting the link (its
            // task stopped) leaves no report on the child's side; the last one always does.
            let mut child_sessions = 0usize;
            if let Ok(reports) = c.reports.lock() {
                for r in reports.iter().filter(|r| r.peer == p.id) {
                    child_sessions += 1;
                    waited.0 += r.stats.round_trips;
                }
            }
            out.push(json!({
                "link": format!("{}–{}", c.name, p.name),
                "sessions": sessions,
                "bytes_up": bytes.0, "bytes_down": bytes.1,
                "messages_up": msgs.0, "messages_down": msgs.1,
                "round_trips": waited.0 + waited.1,
                "round_trips_child_waited": waited.0,
                "round_trips_parent_waited": waited.1,
                "sessions_reported_by_child": child_sessions,
                "session_errors": errors,
                "retired": self.retired.contains(&l.child),
            }));
        }
        Ok(Value::Array(out))
    }

    /// Stops every session and endpoint.
    pub async fn shutdown(&mut self) {
        self.set_all(false);
        if !self.closed {
            self.closed = true;
            for m in &self.members {
                m.net.shutdown().await;
            }
        }
    }
}

/// The county's workload: seeded intake and handling, with what the nodes acknowledged. The
/// in-process county runs it on its members; the namespace county on stores shared with
/// `yizhan serve` processes.
#[derive(Debug)]
pub struct Workload {
    /// The workload's randomness.
    pub rng: Rng,
    /// Every case id a node acknowledged (its write committed).
    pub acknowledged: BTreeSet<String>,
    /// Actions applied.
    pub actions: u64,
    /// Actions refused by the nodes (not allowed at that moment); counted, not fatal.
    pub refused_actions: u64,
}

impl Workload {
    /// A workload drawn from `seed`.
    pub fn new(seed: u64) -> Workload {
        Workload {
            rng: Rng::new(seed),
            acknowledged: BTreeSet::new(),
            actions: 0,
            refused_actions: 0,
        }
    }

    fn name(&mut self) -> String {
        format!("{}{}", self.rng.pick(SURNAMES), self.rng.pick(GIVEN))
    }

    /// The applications `n` intakes bring at a node of `tier`: a village takes in delegated
    /// township items, a township or the city its own items.
    pub fn intake_batch(&mut self, tier: &str, n: usize) -> Vec<NewCase> {
        let items: &[&str] = match tier {
            "village" => VILLAGE_ITEMS,
            "township" => TOWNSHIP_ITEMS,
            _ => CITY_ITEMS,
        };
        let delegated = tier == "village";
        (0..n)
            .map(|_| NewCase {
                item_code: (*self.rng.pick(items)).into(),
                applicant_name: self.name(),
                delegated,
                entrustment: delegated,
                operator: "窗口".into(),
                ..NewCase::default()
            })
            .collect()
    }

    /// Takes in `n` cases at the node on `handle` (of `tier`), waiting on its store thread.
    pub fn intake_on(&mut self, handle: &NodeHandle, tier: &str, n: usize) -> Result<Vec<String>> {
        let batch = self.intake_batch(tier, n);
        let ids = handle.call(intake_op(batch))?;
        self.acknowledged.extend(ids.iter().cloned());
        Ok(ids)
    }

    /// One day's handling at the node on `handle` (see [`handle_op`]), waiting on its store
    /// thread.
    pub fn handle_day_on(&mut self, handle: &NodeHandle, max: usize) -> Result<()> {
        let seed = self.rng.next_u64();
        let (done, refused) = handle.call(handle_op(seed, max))?;
        self.actions += done;
        self.refused_actions += refused;
        Ok(())
    }
}

/// Takes in `batch` at a node; a village forwards each case to its township at once. The ids,
/// acknowledged (committed).
pub fn intake_op(
    batch: Vec<NewCase>,
) -> impl FnOnce(&mut Node) -> yizhan_node::Result<Vec<String>> + Send + 'static {
    move |node| {
        let parent = node.station()?.parent.clone();
        let views = node.new_cases(&batch)?;
        let ids: Vec<String> = views.into_iter().map(|v| v.doc.id).collect();
        if node.station()?.tier() == yizhan_node::station::Tier::Village {
            let forwards: Vec<(String, Action)> = ids
                .iter()
                .map(|id| (id.clone(), Action::Forward { to: parent.clone() }))
                .collect();
            node.act_many(&forwards, "代办员")?;
        }
        Ok(ids)
    }
}

/// One day's handling at a node: each case it holds (up to `max`) moves one step (accept, a
/// one-time notice now and then, departments' approvals, complete, deliver, rate, follow up, a
/// video consult now and then). Steps the node refuses are counted, not fatal. Returns the
/// actions applied and refused.
pub fn handle_op(
    seed: u64,
    max: usize,
) -> impl FnOnce(&mut Node) -> yizhan_node::Result<(u64, u64)> + Send + 'static {
    move |node| {
        let mut rng = Rng::new(seed);
        let me = node.identity().station.clone();
        let rows = node.list(&CaseFilter {
            holder: Some(me),
            limit: max,
            ..CaseFilter::default()
        })?;
        let (mut done, mut refused) = (0u64, 0u64);
        for row in rows {
            let view = node.case(&row.id)?;
            let st = &view.state;
            let mut tries: Vec<Action> = Vec::new();
            if rng.chance(0.05) {
                tries.push(Action::Consult {
                    with: "县医保局".into(),
                    minutes: 15,
                    summary: "视频连线答疑".into(),
                });
            }
            match row.status.as_str() {
                "submitted" if rng.chance(0.1) => tries.push(Action::RequestMaterials {
                    missing: vec!["户口簿".into()],
                }),
                "submitted" | "awaiting_materials" => tries.push(Action::Accept),
                "accepted" => {
                    let undecided: Vec<String> = view
                        .doc
                        .item
                        .departments
                        .iter()
                        .filter(|d| !st.approvals.contains_key(*d))
                        .cloned()
                        .collect();
                    match undecided.first() {
                        Some(d) => tries.push(Action::Approve { dept: d.clone() }),
                        None => tries.push(Action::Complete),
                    }
                }
                "completed" => tries.push(Action::Deliver),
                "delivered" if st.rating.is_none() => tries.push(Action::Rate {
                    level: u8::try_from(rng.range(1, 6)).unwrap_or(1),
                    comment: String::new(),
                }),
                "delivered" if st.follow_up.is_some() => tries.push(Action::FollowUp {
                    summary: "已回访，群众认可整改".into(),
                }),
                _ => {}
            }
            for a in tries {
                match node.act(&row.id, &a, "窗口") {
                    Ok(_) => done += 1,
                    Err(_) => refused += 1,
                }
            }
        }
        Ok((done, refused))
    }
}

/// What the invariants read of one node: its name, its station and its store.
#[derive(Debug, Clone)]
pub struct Probe {
    /// A label, e.g. `T1`.
    pub name: String,
    /// Its station's code.
    pub station: String,
    /// Its store.
    pub handle: NodeHandle,
}

impl Probe {
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
    ) -> Result<T> {
        self.handle
            .call(f)
            .with_context(|| format!("at {}", self.name))
    }
}

/// Every node's documents with their heads.
fn heads(nodes: &[Probe]) -> Result<Vec<HeadsMap>> {
    nodes
        .iter()
        .map(|p| {
            p.call(|n| {
                let scope = n.my_scope();
                Ok(n.changed_since(0, &scope, usize::MAX)?
                    .into_iter()
                    .map(|d| (d.doc_id, d.heads))
                    .collect::<HeadsMap>())
            })
        })
        .collect()
}

/// For each node: the city's (`nodes[0]`'s) documents in that node's scope, with the city's heads.
fn expected(nodes: &[Probe]) -> Result<Vec<HeadsMap>> {
    let city = nodes.first().ok_or_else(|| anyhow!("no city"))?;
    nodes
        .iter()
        .map(|p| {
            let station = p.station.clone();
            city.call(move |n| {
                let scope = n.scope_of(&station);
                Ok(n.changed_since(0, &scope, usize::MAX)?
                    .into_iter()
                    .map(|d| (d.doc_id, d.heads))
                    .collect::<HeadsMap>())
            })
        })
        .collect()
}

/// Whether every node holds exactly the city's documents in its scope, with the same heads
/// (with the city holding everything, that is every pair agreeing on every shared document).
/// `nodes[0]` is the city. Blocks on the store threads.
pub fn converged(nodes: &[Probe]) -> Result<bool> {
    Ok(heads(nodes)? == expected(nodes)?)
}

/// The four invariants over `nodes` (the city first), each with its result and details:
/// convergence, no loss of the `acknowledged` cases, scope, agreement. Blocks on the store
/// threads.
pub fn invariants(nodes: &[Probe], acknowledged: &BTreeSet<String>) -> Result<Value> {
    let heads = heads(nodes)?;
    let expected = expected(nodes)?;
    let names: Vec<String> = nodes.iter().map(|p| p.name.clone()).collect();
    let mut diverged = Vec::new();
    for (i, (h, e)) in heads.iter().zip(&expected).enumerate() {
        if h != e {
            let missing = e.keys().filter(|k| !h.contains_key(*k)).count();
            let differ = e
                .iter()
                .filter(|(k, v)| h.get(*k).is_some_and(|hv| hv != *v))
                .count();
            let extra = h.keys().filter(|k| !e.contains_key(*k)).count();
            let examples: Vec<String> = e
                .iter()
                .filter(|(k, v)| h.get(*k) != Some(*v))
                .map(|(k, v)| {
                    let short = |hs: &[automerge::ChangeHash]| {
                        hs.iter()
                            .map(|x| x.to_string()[..8].to_string())
                            .collect::<Vec<_>>()
                            .join("+")
                    };
                    format!(
                        "{k}: city {} here {}",
                        short(v),
                        h.get(k).map_or("-".to_string(), |x| short(x))
                    )
                })
                .take(3)
                .collect();
            diverged.push(json!({"node": names[i], "missing": missing,
                "different_heads": differ, "extra": extra, "examples": examples}));
        }
    }
    let city_docs = &heads[0];
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !city_docs.contains_key(*id))
        .collect();
    let mut out_of_scope = Vec::new();
    for m in nodes {
        let n = m.call(|n| {
            let all = n.changed_since(0, &Scope::All, usize::MAX)?.len();
            let mine = n.changed_since(0, &n.my_scope(), usize::MAX)?.len();
            Ok(all - mine.min(all))
        })?;
        if n > 0 {
            out_of_scope.push(json!({"node": m.name, "documents": n}));
        }
    }
    // Agreement: status, due date and light of each case, against the city's.
    let mut rows = Vec::new();
    for m in nodes {
        rows.push(m.call(|n| {
            // Lists are paged (the store caps a page), so walk every page.
            let mut all = BTreeMap::new();
            loop {
                let page = n.list(&CaseFilter {
                    limit: 5_000,
                    offset: all.len(),
                    sort: yizhan_node::query::Sort::Oldest,
                    ..CaseFilter::default()
                })?;
                let len = page.len();
                all.extend(
                    page.into_iter()
                        .map(|r| (r.id, (r.status, r.due_on, r.light))),
                );
                if len < 5_000 {
                    break;
                }
            }
            Ok(all)
        })?);
    }
    let mut disagree = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let n = r
            .iter()
            .filter(|(id, v)| rows[0].get(*id).is_some_and(|c| c != *v))
            .count();
        if n > 0 {
            disagree.push(json!({"node": names[i], "cases": n}));
        }
    }
    Ok(json!({
        "convergence": {"ok": diverged.is_empty(), "diverged": diverged},
        "no_loss": {"ok": lost.is_empty(), "acknowledged": acknowledged.len(),
            "lost": lost.len()},
        "scope": {"ok": out_of_scope.is_empty(), "violations": out_of_scope},
        "agreement": {"ok": disagree.is_empty(), "disagreements": disagree,
            "cases_compared": rows.iter().map(BTreeMap::len).sum::<usize>()},
    }))
}
