//! `bench-sync`: what sync costs between a city node and a township node holding the same cases.
//!
//! Two real stores (SQLite, Automerge), each `Node` on its own `NodeHandle` store thread, each
//! with a real iroh endpoint (`SyncNode::bind` on 127.0.0.1:0); the township dials the city with
//! `SyncNode::sync_once`. The township is enrolled at the city in-process (invite, redeem,
//! `Node::join`). Measured:
//!
//! 1. **First contact**: the township takes in N cases (`new_cases`, batches of 5,000) and syncs
//!    them to the city once: wall time and bytes on the wire. If that stalls past
//!    `--first-contact-timeout`, it is reported as a miss and completed through the sans-I/O
//!    session in memory, so that the rest can still be measured.
//! 2. **Idle reconnect**: `sync_once` again with nothing new, `--idle-runs` times: wall time
//!    (target < 50 ms) and bytes (`bytes_in + bytes_out`, target < 8 KiB); the first one after
//!    the first contact also on its own; and a few with the city dialing.
//! 3. **Catch-up**, `--catchup-runs` times: with the township offline, half of `--changed` new
//!    cases and half existing cases acted on (accept, approve, forward through `act_many`), then
//!    one `sync_once`: wall time until converged (target < 3 s, on the median), the process's CPU
//!    time meanwhile, bytes, the lower bound (the encoded changes the city lacks, from its heads
//!    captured before, in Automerge's encoding; `crate::bounds` for the xz -9 bound beside it) and their
//!    ratio (target ≤ 0.35 since issue #14), messages.
//! 4. **Round trips**: the same kind of catch-up through the sans-I/O `Session` driven in memory
//!    (as `sync/tests/session.rs` does), at `--changed`/10 and `--changed` documents, counting
//!    round trips, frames, bytes and handling time per message kind: the round trips must not
//!    grow with the number of documents.
//! 5. **Diagnosis**: the store's floor for the same amount of change without the session
//!    (`changes_for` at the township + `apply_remote` at the city), and the per-document cost of
//!    the store calls the session makes (`heads_of`, `known_heads` loading or cached).
//! 6. **Memory**: the process's peak resident memory (VmHWM), both nodes in this process.
//!
//! Each figure is checked against its target and reported PASS or MISS; a miss does not change
//! the exit status (this is a report, not a test).

use crate::county::{CITY, CITY_NAME, County, NETWORK_NAME, People};
use crate::measure::{Summary, memory_mib, summarize};
use crate::rng::Rng;
use anyhow::{Context, Result, anyhow, bail, ensure};
use automerge::ChangeHash;
use serde_json::{Value, json};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use yizhan_node::case::{Action, Status};
use yizhan_node::catalog::{CaseKind, ServiceItem};
use yizhan_node::handle::NodeThread;
use yizhan_node::network::Station;
use yizhan_node::replica::RemoteDoc;
use yizhan_node::station::Tier;
use yizhan_node::store::STORE_FILE;
use yizhan_node::{Clock, InitParams, NewCase, Node, NodeHandle};
use yizhan_sync::net::{SessionReport, SyncNode};
use yizhan_sync::proto;
use yizhan_sync::session::Session;
use yizhan_sync::testing::{Link, Pair as SessionPair, Side};

/// 2026-03-02T09:00:00+08:00, a Monday: the fixed clock of both nodes.
pub(crate) const NOW: i64 = 1_772_413_200_000;
/// The generated stores' sidecar, in `DIR/base`.
const SIDECAR: &str = "bench-sync.json";
/// Bump when the generated stores change shape, so that old ones are not reused.
const FORMAT: u64 = 3;
/// The township (the first of the simulated county).
pub(crate) const TOWNSHIP: &str = "T01";
/// Actions per `act_many` transaction.
const ACT_BATCH: usize = 1_000;

/// Arguments of `bench-sync`.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// Cases both stores hold before the catch-up [default: 100000; 10000 with --quick].
    #[arg(long)]
    pub cases: Option<usize>,
    /// Documents changed at the township while offline: half new cases, half existing cases
    /// acted on [default: 5000; 500 with --quick].
    #[arg(long)]
    pub changed: Option<usize>,
    /// A small run (--cases 10000 --changed 500), under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Print the JSON report on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Keep the generated stores (after the first contact) in DIR/base and reuse them on later
    /// runs with the same --cases and --seed; each run works on a copy in DIR/work. Without it,
    /// a temporary directory, deleted afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Replace stores in DIR/base that do not match --cases / --seed.
    #[arg(long)]
    pub regenerate: bool,
    /// Seed of the generated cases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Idle reconnects to time.
    #[arg(long, default_value_t = 20)]
    pub idle_runs: usize,
    /// Catch-ups over iroh to time (each with its own changes).
    #[arg(long, default_value_t = 3)]
    pub catchup_runs: usize,
    /// Give up the first contact over iroh after this many seconds (then it is completed in
    /// memory, reported as a miss, and the rest is measured).
    #[arg(long, default_value_t = 300)]
    pub first_contact_timeout: u64,
    /// Cases per `new_cases` transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Measure push instead: two fresh nodes in a continuous session over iroh; the time from a
    /// case committed at the township to its arrival at the city, and the CPU an idle connected
    /// pair uses (see [`bench_push`]).
    #[arg(long)]
    pub push: bool,
    /// Writes timed by --push.
    #[arg(long, default_value_t = 200)]
    pub push_samples: usize,
    /// Seconds of idle measured by --push.
    #[arg(long, default_value_t = 10)]
    pub idle_seconds: u64,
}

impl SyncArgs {
    /// (cases, changed) after --quick.
    fn sizes(&self) -> (usize, usize) {
        let (c, ch) = if self.quick {
            (10_000, 500)
        } else {
            (100_000, 5_000)
        };
        (self.cases.unwrap_or(c), self.changed.unwrap_or(ch))
    }
}

// ---------------------------------------------------------------------------------------------
// Figures and the report.

/// How a figure compares with its target.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// Strictly below.
    Below(f64),
    /// At most.
    AtMost(f64),
    /// At least.
    AtLeast(f64),
}

impl Target {
    fn ok(self, v: f64) -> bool {
        match self {
            Target::Below(t) => v < t,
            Target::AtMost(t) => v <= t,
            Target::AtLeast(t) => v >= t,
        }
    }

    fn text(self, unit: &str) -> String {
        match self {
            Target::Below(t) => format!("<{}{unit}", fmt_val(t, unit)),
            Target::AtMost(t) => format!("≤{}{unit}", fmt_val(t, unit)),
            Target::AtLeast(t) => format!("≥{}{unit}", fmt_val(t, unit)),
        }
    }

    fn limit(self) -> f64 {
        match self {
            Target::Below(t) | Target::AtMost(t) | Target::AtLeast(t) => t,
        }
    }
}

/// One reported figure.
#[derive(Debug, Clone)]
struct Figure {
    id: String,
    label: String,
    unit: &'static str,
    summary: Summary,
    target: Option<Target>,
    /// Which statistics must meet the target.
    judged: &'static [&'static str],
    extra: Value,
}

const P50_P90: &[&str] = &["p50", "p90"];
const MAX: &[&str] = &["max"];

impl Figure {
    fn stat(&self, name: &str) -> f64 {
        match name {
            "p50" => self.summary.p50,
            "p90" => self.summary.p90,
            "p99" => self.summary.p99,
            "mean" => self.summary.mean,
            _ => self.summary.max,
        }
    }

    /// `None` without a target; otherwise the judged statistics that miss it.
    fn misses(&self) -> Option<Vec<&'static str>> {
        let t = self.target?;
        Some(
            self.judged
                .iter()
                .copied()
                .filter(|s| self.stat(s).is_nan() || !t.ok(self.stat(s)))
                .collect(),
        )
    }

    fn result(&self) -> String {
        match self.misses() {
            None => "info".into(),
            Some(m) if m.is_empty() => "PASS".into(),
            Some(m) => format!("MISS ({})", m.join(",")),
        }
    }

    fn to_json(&self) -> Value {
        let s = &self.summary;
        json!({
            "id": self.id, "label": self.label, "unit": self.unit, "n": s.n,
            "min": s.min, "p50": s.p50, "p90": s.p90, "max": s.max, "mean": s.mean,
            "target": self.target.map(Target::limit),
            "target_text": self.target.map(|t| t.text(self.unit)),
            "judged_on": self.judged, "result": self.result(), "detail": self.extra,
        })
    }
}

#[derive(Debug, Default)]
struct Report {
    figures: Vec<Figure>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        id: &str,
        label: impl Into<String>,
        unit: &'static str,
        samples: &[f64],
        target: Option<Target>,
        judged: &'static [&'static str],
        extra: Value,
    ) {
        self.figures.push(Figure {
            id: id.into(),
            label: label.into(),
            unit,
            summary: summarize(samples),
            target,
            judged,
            extra,
        });
    }
}

fn fmt_val(v: f64, unit: &str) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match unit {
        "ms" if v < 10.0 => format!("{v:.2}"),
        "ms" | "MiB" => format!("{v:.1}"),
        "x" => format!("{v:.3}"),
        "B" if v >= 10_000.0 => format!("{:.0}k", v / 1000.0),
        _ => format!("{v:.0}"),
    }
}

/// `/proc/loadavg`: other work on the machine skews the timings; the report says how much.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The workspace's commit and which of `node/` and `sync/` have uncommitted changes: the figures
/// are of the working tree.
fn workspace_git() -> String {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty: Vec<&str> = ["node", "sync"]
                .into_iter()
                .filter(|d| run(&["status", "--porcelain", "--", d]).is_some_and(|s| !s.is_empty()))
                .collect();
            if dirty.is_empty() {
                head
            } else {
                format!("{head} + uncommitted changes in {}", dirty.join(", "))
            }
        }
        None => "unknown".into(),
    }
}

/// Terminal width of a string: CJK characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

// ---------------------------------------------------------------------------------------------
// Nodes.

pub(crate) fn hwm_mib() -> f64 {
    memory_mib().1
}

/// CPU time (user + system) in ms from a `/proc/.../stat` file, at the usual 100 ticks/s.
fn stat_cpu_ms(path: &str) -> f64 {
    parse_stat_cpu_ms(&std::fs::read_to_string(path).unwrap_or_default())
}

fn parse_stat_cpu_ms(text: &str) -> f64 {
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    let rest: Vec<&str> = text
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| rest.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) * 10.0,
        _ => f64::NAN,
    }
}

/// CPU time of the calling thread, ms (10 ms resolution).
fn thread_cpu_ms() -> f64 {
    stat_cpu_ms("/proc/thread-self/stat")
}

/// CPU time of the whole process, ms (10 ms resolution).
fn process_cpu_ms() -> f64 {
    stat_cpu_ms("/proc/self/stat")
}

/// Runs `f` on a node's store thread and waits.
pub(crate) fn call<T: Send + 'static>(
    h: &NodeHandle,
    f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
) -> Result<T> {
    Ok(h.call(f)?)
}

/// A running node: its store thread and its iroh endpoint on 127.0.0.1.
pub(crate) struct Peer {
    name: &'static str,
    pub(crate) handle: NodeHandle,
    thread: NodeThread,
    net: SyncNode,
    id: String,
    addrs: Vec<SocketAddr>,
    /// Reports of sessions this node accepted.
    accepted: Arc<Mutex<Vec<SessionReport>>>,
}

impl Peer {
    fn start(rt: &Runtime, name: &'static str, node: Node) -> Result<Peer> {
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
    fn sync_to(&self, rt: &Runtime, other: &Peer, limit: Duration) -> Result<(SessionReport, f64)> {
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
    fn last_accepted(&self, before: usize) -> Option<SessionReport> {
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

    fn accepted_len(&self) -> usize {
        self.accepted.lock().map(|v| v.len()).unwrap_or(0)
    }

    pub(crate) fn stop(self, rt: &Runtime) {
        rt.block_on(self.net.shutdown());
        drop(self.net);
        drop(self.handle);
        self.thread.join();
    }
}

async fn timeout<F: Future>(limit: Duration, f: F) -> Result<F::Output> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| anyhow!("timed out"))
}

pub(crate) fn township_station(county: &County) -> Result<(usize, Station)> {
    let idx = county
        .index_of(TOWNSHIP)
        .context("the county has no township T01")?;
    let s = &county.stations[idx];
    Ok((
        idx,
        Station {
            code: s.code.clone(),
            name: s.name.clone(),
            tier: Tier::Township,
            parent: CITY.into(),
        },
    ))
}

/// A city store and a township store enrolled at it in-process: invite, redeem, join.
pub(crate) fn create_pair(
    city_dir: &Path,
    town_dir: &Path,
    county: &County,
) -> Result<(Node, Node)> {
    let mut city = Node::init(
        city_dir,
        Clock::Fixed(NOW),
        &InitParams {
            network_name: NETWORK_NAME.into(),
            code: CITY.into(),
            name: CITY_NAME.into(),
        },
    )?;
    let (_, station) = township_station(county)?;
    let town = city.enrol_here(station, town_dir, Clock::Fixed(NOW))?;
    Ok((city, town))
}

/// The items a township hall takes in here: its own items (accepted there) and city items
/// (forwarded up); consultations are left out (they are not accepted or forwarded).
fn intake_items(node: &Node) -> (Vec<ServiceItem>, Vec<ServiceItem>) {
    let pick = |tier: Tier| -> Vec<ServiceItem> {
        node.catalog()
            .items()
            .filter(|i| i.tier == tier && i.kind != CaseKind::Consult)
            .cloned()
            .collect()
    };
    (pick(Tier::Township), pick(Tier::City))
}

/// Intake forms for `n` walk-ins at the township: 85 % township items, 15 % city items.
pub(crate) struct Intake {
    county: County,
    people: People,
    station: usize,
    township_items: Vec<ServiceItem>,
    city_items: Vec<ServiceItem>,
}

impl Intake {
    pub(crate) fn new(node: &Node) -> Result<Intake> {
        let county = County::new();
        let (station, _) = township_station(&county)?;
        let (township_items, city_items) = intake_items(node);
        ensure!(
            !township_items.is_empty() && !city_items.is_empty(),
            "the catalog has no township or no city items"
        );
        Ok(Intake {
            county,
            people: People::new(),
            station,
            township_items,
            city_items,
        })
    }

    fn forms(&self, rng: &mut Rng, n: usize) -> Vec<NewCase> {
        (0..n)
            .map(|_| {
                let items = if rng.chance(0.85) {
                    &self.township_items
                } else {
                    &self.city_items
                };
                let item = rng.pick(items);
                self.people.new_case(rng, &self.county, self.station, item)
            })
            .collect()
    }
}

/// Takes in `n` cases at the node in transactions of `batch`; returns their ids.
pub(crate) fn take_in(
    h: &NodeHandle,
    intake: &Intake,
    rng: &mut Rng,
    n: usize,
    batch: usize,
    progress: bool,
) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    let t = Instant::now();
    while ids.len() < n {
        let forms = intake.forms(rng, batch.max(1).min(n - ids.len()));
        let got = call(h, move |node| {
            Ok(node
                .new_cases(&forms)?
                .into_iter()
                .map(|v| v.doc.id)
                .collect::<Vec<_>>())
        })?;
        ids.extend(got);
        if progress {
            eprintln!(
                "bench-sync: {} / {n} cases taken in ({:.1} s)",
                ids.len(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(ids)
}

/// The actions that change an existing case held by the township, in the order they are taken:
/// a township item is accepted (and its first department approves, for 并联审批 items); a city
/// item is forwarded to the city.
fn plan_actions(tier: Tier, departments: &[String], city: &str) -> Vec<Action> {
    match tier {
        Tier::Township => {
            let mut v = vec![Action::Accept];
            if let Some(d) = departments.first() {
                v.push(Action::Approve { dept: d.clone() });
            }
            v
        }
        _ => vec![Action::Forward { to: city.into() }],
    }
}

/// `k` distinct indexes below `n`, drawn uniformly (a partial Fisher–Yates shuffle), sorted.
fn sample(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    let mut out = idx[..k].to_vec();
    out.sort_unstable();
    out
}

/// What the township changed while offline.
#[derive(Debug, Default)]
pub(crate) struct Workload {
    pub(crate) new_ids: Vec<String>,
    pub(crate) changed_ids: Vec<String>,
    pub(crate) actions: usize,
    ms: f64,
}

impl Workload {
    pub(crate) fn all_ids(&self) -> Vec<String> {
        self.new_ids
            .iter()
            .chain(&self.changed_ids)
            .cloned()
            .collect()
    }
}

/// At the township: `new` new cases, and `changed` existing submitted cases acted on.
pub(crate) fn make_changes(
    h: &NodeHandle,
    intake: &Intake,
    rng: &mut Rng,
    new: usize,
    changed: usize,
    batch: usize,
) -> Result<Workload> {
    let t = Instant::now();
    // Candidates: cases still waiting for acceptance at the township.
    let candidates: Vec<(String, String)> = call(h, |node| {
        let rows = node.diagnostics().rows(
            "SELECT doc_id, item_code FROM cases WHERE status = ?1 AND holder = ?2 ORDER BY doc_id",
            &[Status::Submitted.as_str(), TOWNSHIP],
        )?;
        let text = |v: &rusqlite::types::Value| match v {
            rusqlite::types::Value::Text(t) => t.clone(),
            _ => String::new(),
        };
        let rows: Vec<(String, String)> = rows.iter().map(|r| (text(&r[0]), text(&r[1]))).collect();
        Ok(rows)
    })?;
    ensure!(
        candidates.len() >= changed,
        "only {} submitted cases at the township, {changed} wanted",
        candidates.len()
    );
    let chosen = sample(rng, candidates.len(), changed);
    let mut plan: Vec<(String, Action)> = Vec::new();
    let mut changed_ids = Vec::with_capacity(changed);
    for i in chosen {
        let (id, code) = &candidates[i];
        let item = intake
            .township_items
            .iter()
            .chain(&intake.city_items)
            .find(|it| &it.code == code)
            .with_context(|| format!("item {code} not in the intake list"))?;
        for a in plan_actions(item.tier, &item.departments, CITY) {
            plan.push((id.clone(), a));
        }
        changed_ids.push(id.clone());
    }
    let actions = plan.len();
    let new_ids = take_in(h, intake, rng, new, batch, false)?;
    // Transactions of about ACT_BATCH actions, never splitting one case's actions.
    let mut i = 0;
    while i < plan.len() {
        let mut j = (i + ACT_BATCH).min(plan.len());
        while j < plan.len() && plan[j].0 == plan[j - 1].0 {
            j += 1;
        }
        let chunk = plan[i..j].to_vec();
        let operator = intake.county.stations[intake.station].operator.clone();
        call(h, move |node| node.act_many(&chunk, &operator).map(|_| ()))?;
        i = j;
    }
    Ok(Workload {
        new_ids,
        changed_ids,
        actions,
        ms: t.elapsed().as_secs_f64() * 1e3,
    })
}

/// Heads of documents at a node (`None` where it lacks one).
pub(crate) fn heads(h: &NodeHandle, ids: &[String]) -> Result<Vec<Option<Vec<ChangeHash>>>> {
    let ids = ids.to_vec();
    call(h, move |node| {
        ids.iter().map(|id| node.heads_of(id)).collect()
    })
}

/// The Automerge encoding of a catch-up: (bytes, changes) of the changes a peer holding
/// `theirs` lacks, each in Automerge's own encoding, summed over the documents (the lower bound
/// before issue #14; `crate::bounds` has the xz -9 bound too).
pub(crate) fn lower_bound(
    h: &NodeHandle,
    ids: &[String],
    theirs: &[Option<Vec<ChangeHash>>],
) -> Result<(usize, usize)> {
    let b = crate::bounds::bounds(h, ids, theirs, false)?;
    Ok((b.encoded, b.changes))
}

/// Whether two nodes hold the same heads for every one of `ids`; the number that differ.
pub(crate) fn differing(a: &NodeHandle, b: &NodeHandle, ids: &[String]) -> Result<usize> {
    let ha = heads(a, ids)?;
    let hb = heads(b, ids)?;
    Ok(ha
        .iter()
        .zip(&hb)
        .filter(|(x, y)| x.is_none() || x != y)
        .count())
}

pub(crate) fn case_count(h: &NodeHandle) -> Result<u64> {
    call(h, |node| {
        node.count(&yizhan_node::query::CaseFilter::default())
    })
}

/// What the store calls the session makes per document cost at a node, over `ids` (µs per
/// document), for the diagnosis: `heads_of` (one indexed SQL row) and `known_heads` (which reads
/// the Automerge document: from the cache, or loaded from SQLite when it is not there). Two passes
/// over more documents than the cache holds miss every time; two passes over a set that fits hit
/// on the second.
fn probe_costs(h: &NodeHandle, ids: &[String]) -> Result<Value> {
    let ids = ids.to_vec();
    call(h, move |node| {
        let us = |t: Instant, n: usize| t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
        let t = Instant::now();
        let mut heads = Vec::with_capacity(ids.len());
        for id in &ids {
            heads.push(node.heads_of(id)?.unwrap_or_default());
        }
        let heads_of_us = us(t, ids.len());
        let t = Instant::now();
        for _ in 0..2 {
            for (id, hd) in ids.iter().zip(&heads) {
                node.known_heads(id, hd)?;
            }
        }
        let known_heads_all_us = us(t, 2 * ids.len());
        let small = ids.len().min(yizhan_node::store::DEFAULT_CACHE_DOCS / 2);
        let t = Instant::now();
        for (id, hd) in ids.iter().zip(&heads).take(small) {
            node.known_heads(id, hd)?;
        }
        let known_heads_load_us = us(t, small);
        let t = Instant::now();
        for (id, hd) in ids.iter().zip(&heads).take(small) {
            node.known_heads(id, hd)?;
        }
        let known_heads_hit_us = us(t, small);
        Ok(json!({
            "docs": ids.len(),
            "cache_docs": yizhan_node::store::DEFAULT_CACHE_DOCS,
            "heads_of_us": heads_of_us,
            "known_heads_over_all_us": known_heads_all_us,
            "known_heads_load_us": known_heads_load_us,
            "known_heads_cached_us": known_heads_hit_us,
        }))
    })
}

/// The store's floor for a catch-up, without the session: the township reads the changes the city
/// lacks (`changes_for` against the city's heads) and the city applies them (`apply_remote`, in
/// batches of about a frame). Returns (read ms, apply ms, documents changed at the city).
fn store_floor(town: &NodeHandle, city: &NodeHandle, ids: &[String]) -> Result<(f64, f64, usize)> {
    let before = heads(city, ids)?;
    let pairs: Vec<(String, Vec<ChangeHash>)> = ids
        .iter()
        .cloned()
        .zip(before.into_iter().map(Option::unwrap_or_default))
        .collect();
    let (docs, read_ms) = call(town, move |node| {
        let t = Instant::now();
        let mut docs = Vec::with_capacity(pairs.len());
        for (id, h) in &pairs {
            docs.push(RemoteDoc {
                doc_id: id.clone(),
                changes: node.changes_for(id, h)?,
            });
        }
        Ok((docs, t.elapsed().as_secs_f64() * 1e3))
    })?;
    let sender = call(town, |n| Ok(n.identity().node_id.clone()))?;
    call(city, move |node| {
        let t = Instant::now();
        let mut changed = 0;
        let mut batch: Vec<RemoteDoc> = Vec::new();
        let mut bytes = 0;
        for d in docs {
            let n: usize = d.changes.iter().map(Vec::len).sum();
            if !batch.is_empty() && bytes + n > proto::TARGET_BATCH_BYTES {
                changed += node.apply_remote(&sender, &batch)?.changed;
                batch.clear();
                bytes = 0;
            }
            bytes += n;
            batch.push(d);
        }
        if !batch.is_empty() {
            changed += node.apply_remote(&sender, &batch)?.changed;
        }
        Ok((read_ms, t.elapsed().as_secs_f64() * 1e3, changed))
    })
}

// ---------------------------------------------------------------------------------------------
// The sans-I/O session, driven in memory between the two store threads.

/// The message's kind (its variant's name), for the per-kind tallies. The protocol grows new
/// kinds; those are named from their `Debug` form (they are rare and small).
/// A session between `a` (dialer, one-shot) and `b` (accepting, continuous as over iroh), in
/// memory through the shared driver (`yizhan_sync::testing::Pair`), until both are idle. Each
/// turn moves the pair onto `b`'s store thread to deliver everything queued for it, then onto
/// `a`'s; the pair times each message kind's handling and the store thread's CPU time for it.
fn sync_in_memory(a: &NodeHandle, b: &NodeHandle) -> Result<Link> {
    let a_id = call(a, |n| Ok(n.identity().node_id.clone()))?;
    let b_id = call(b, |n| Ok(n.identity().node_id.clone()))?;
    let sb = call(b, move |n| Ok(Session::new(n, &a_id)))?;
    let (mut pair, started) = call(a, move |n| {
        let sa = Session::new(n, &b_id);
        let mut pair = SessionPair::open(sa, sb, false).with_cpu_meter(thread_cpu_ms);
        let started = pair.start(n);
        Ok((pair, started))
    })?;
    started.map_err(|e| anyhow!("start: {e}"))?;
    let mut rounds = 0;
    while !pair.is_quiet() && rounds < 1_000 {
        rounds += 1;
        for (h, side) in [(b, Side::Acceptor), (a, Side::Dialer)] {
            let (p, r) = call(h, move |n| {
                let r = pair.deliver(side, n, usize::MAX);
                Ok((pair, r))
            })?;
            pair = p;
            r.map_err(|e| anyhow!("in-memory session: {e}"))?;
        }
    }
    let mut link = pair
        .finish()
        .map_err(|e| anyhow!("the in-memory sessions did not finish: {e}"))?;
    link.rounds = rounds;
    Ok(link)
}

// ---------------------------------------------------------------------------------------------
// Push: a continuous session over iroh.

const P50: &[&str] = &["p50"];

/// What `--push` measured.
struct PushFigures {
    /// Per write: from its commit at the township to its arrival at the city, ms.
    latencies: Vec<f64>,
    /// CPU time of this process (both nodes and iroh) while the connected pair was idle, ms.
    idle_cpu_ms: f64,
    /// Bytes both sessions moved meanwhile (heartbeats).
    idle_bytes: u64,
}

/// `bench-sync --push`: a fresh city and township (enrolled in-process), each with its store
/// thread and a real iroh endpoint on loopback, the township keeping a continuous session with
/// the city (`SyncNode::keep_synced`, as `serve` does). Each sample takes in one case at the
/// township and waits, on the city's `seq` notification, until the city holds it: the time from
/// the township's commit to the city's. Then both stay connected and idle for
/// `--idle-seconds`, and the process's CPU time meanwhile is the cost of an idle link.
fn bench_push(args: &SyncArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tmp = tempfile::Builder::new()
        .prefix("yizhan-bench-push-")
        .tempdir_in(std::env::temp_dir())?;
    let (city, town) = create_pair(
        &tmp.path().join("city"),
        &tmp.path().join("town"),
        &County::new(),
    )?;
    let intake = Intake::new(&town)?;
    let city = Peer::start(&rt, "city", city)?;
    let town = Peer::start(&rt, "township", town)?;
    let load_before = loadavg();
    let mut rng = Rng::derive(args.seed, 3, 0);
    let measured = rt.block_on(async {
        tokio::select! {
            () = town.net.keep_synced(city.id.clone(), city.addrs.clone()) => {
                Err(anyhow!("the continuous session stopped"))
            }
            r = measure_push(&town, &city, &intake, &mut rng, args) => r,
        }
    });
    city.stop(&rt);
    town.stop(&rt);
    let m = measured?;
    let mut report = Report::default();
    report.add(
        "push_latency",
        format!(
            "push over iroh, continuous session: township commit → city commit ({} writes)",
            m.latencies.len()
        ),
        "ms",
        &m.latencies,
        Some(Target::Below(50.0)),
        P50,
        json!({}),
    );
    report.add(
        "idle_cpu",
        format!(
            "idle connected pair: CPU time of this process over {} s",
            args.idle_seconds
        ),
        "ms",
        &[m.idle_cpu_ms],
        None,
        MAX,
        json!({"idle_bytes": m.idle_bytes}),
    );
    let out = json!({
        "benchmark": "bench-sync --push",
        "seed": args.seed,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "workspace_git_at_run": workspace_git(),
        "figures": report.figures.iter().map(Figure::to_json).collect::<Vec<_>>(),
    });
    use std::fmt::Write as _;
    let mut table = format!(
        "\nbench-sync --push: workspace {}; load average before / after: {} / {}\n",
        out["workspace_git_at_run"].as_str().unwrap_or("?"),
        out["machine"]["loadavg_before"].as_str().unwrap_or("?"),
        out["machine"]["loadavg_after"].as_str().unwrap_or("?"),
    );
    for f in &report.figures {
        let s = &f.summary;
        let _ = writeln!(
            table,
            "{}: p50 {} p90 {} max {} {} (n {}){}  {}",
            f.label,
            fmt_val(s.p50, f.unit),
            fmt_val(s.p90, f.unit),
            fmt_val(s.max, f.unit),
            f.unit,
            s.n,
            f.target
                .map(|t| format!(", target p50 {}", t.text(f.unit)))
                .unwrap_or_default(),
            f.result()
        );
    }
    let _ = writeln!(
        table,
        "  bytes moved while idle: {} (heartbeats)",
        m.idle_bytes
    );
    print_report(args, &table, &out)
}

/// Prints the table, and with `--json` the JSON report on stdout (the table then on stderr).
fn print_report(args: &SyncArgs, table: &str, out: &Value) -> Result<()> {
    if args.json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(out)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// Whether the city holds a document.
async fn holds(h: &NodeHandle, id: &str) -> Result<bool> {
    let (h, id) = (h.clone(), id.to_string());
    tokio::task::spawn_blocking(move || call(&h, move |n| Ok(n.heads_of(&id)?.is_some()))).await?
}

/// Bytes both live sessions of a node have moved so far.
fn live_bytes(p: &Peer) -> u64 {
    p.net
        .live()
        .values()
        .map(|l| l.bytes_in + l.bytes_out)
        .sum()
}

async fn measure_push(
    town: &Peer,
    city: &Peer,
    intake: &Intake,
    rng: &mut Rng,
    args: &SyncArgs,
) -> Result<PushFigures> {
    let limit = Duration::from_secs(30);
    let connected = Instant::now();
    while !(city.net.is_active(&town.id) && town.net.is_active(&city.id)) {
        ensure!(
            connected.elapsed() < limit,
            "the township did not connect within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the first exchange (network documents, certificates) settle before timing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut arrivals = city.handle.subscribe_seq();
    let mut latencies = Vec::with_capacity(args.push_samples);
    for _ in 0..args.push_samples {
        let form = intake.forms(rng, 1);
        let h = town.handle.clone();
        // The commit instant is taken on the store thread, right after the write returned.
        let (id, committed) = tokio::task::spawn_blocking(move || {
            call(&h, move |n| {
                let v = n.new_case(&form[0])?;
                Ok((v.doc.id, Instant::now()))
            })
        })
        .await??;
        let mut arrived = Instant::now();
        while !holds(&city.handle, &id).await? {
            let left = limit.saturating_sub(committed.elapsed());
            tokio::time::timeout(left, arrivals.changed())
                .await
                .map_err(|_| anyhow!("case {id} did not reach the city within {limit:?}"))??;
            arrived = Instant::now();
        }
        latencies.push(arrived.duration_since(committed).as_secs_f64() * 1e3);
        // A little air between writes, varying so that samples do not lock onto a phase.
        let gap = 5 + u64::from(rng.range(0, 20));
        tokio::time::sleep(Duration::from_millis(gap)).await;
    }
    // Idle: the acknowledgements of the last write settle, then nothing is written.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bytes_before = live_bytes(town) + live_bytes(city);
    let cpu_before = process_cpu_ms();
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let idle_cpu_ms = process_cpu_ms() - cpu_before;
    let idle_bytes = (live_bytes(town) + live_bytes(city)).saturating_sub(bytes_before);
    Ok(PushFigures {
        latencies,
        idle_cpu_ms,
        idle_bytes,
    })
}

// ---------------------------------------------------------------------------------------------
// Stores: generated now, or reused from DIR/base.

/// Copies a store directory's files (not SQLite's shared-memory file).
pub(crate) fn copy_store(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if !e.file_type()?.is_file() || name.to_string_lossy().ends_with("-shm") {
            continue;
        }
        let dst = to.join(&name);
        std::fs::copy(e.path(), &dst)
            .with_context(|| format!("copying {} to {}", e.path().display(), dst.display()))?;
        // Flush the copy now, so that a later WAL checkpoint does not pay for it mid-figure.
        std::fs::File::open(&dst)?.sync_all()?;
    }
    Ok(())
}

/// Copies a running node's store from its own store thread, after moving the WAL into the
/// database: nothing else writes while the copy runs.
pub(crate) fn snapshot(h: &NodeHandle, from: &Path, to: &Path) -> Result<()> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    call(h, move |node| {
        node.diagnostics()
            .wal_checkpoint(yizhan_node::diagnostics::Checkpoint::Truncate)?;
        Ok(copy_store(&from, &to).map_err(|e| e.to_string()))
    })?
    .map_err(|e| anyhow!(e))
}

fn store_mib(dir: &Path) -> f64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(dir.join(format!("{STORE_FILE}{s}"))).ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1_048_576.0
}

/// The two running nodes and how they came to be.
pub(crate) struct Pair {
    pub(crate) city: Peer,
    pub(crate) town: Peer,
    /// The generation and first-contact figures (from the sidecar when reused).
    pub(crate) setup: Value,
    reused: bool,
}

fn read_sidecar(base: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(base.join(SIDECAR)).ok()?;
    serde_json::from_str(&text).ok()
}

pub(crate) fn prepare(
    rt: &Runtime,
    args: &SyncArgs,
    root: &Path,
    cases: usize,
    intake_rng: &mut Rng,
) -> Result<Pair> {
    let work = root.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    let (city_dir, town_dir) = (work.join("city"), work.join("township"));
    let base = args.dir.as_ref().map(|_| root.join("base"));
    if let Some(base) = &base
        && base.exists()
    {
        let side = read_sidecar(base);
        let matches = side.as_ref().is_some_and(|s| {
            s["format"].as_u64() == Some(FORMAT)
                && s["cases"].as_u64() == Some(cases as u64)
                && s["seed"].as_u64() == Some(args.seed)
        });
        if matches {
            let t = Instant::now();
            copy_store(&base.join("city"), &city_dir)?;
            copy_store(&base.join("township"), &town_dir)?;
            eprintln!(
                "bench-sync: reusing the stores in {} (copied in {:.1} s)",
                base.display(),
                t.elapsed().as_secs_f64()
            );
            let city = Peer::start(rt, "city", Node::open(&city_dir, Clock::Fixed(NOW))?)?;
            let town = Peer::start(rt, "township", Node::open(&town_dir, Clock::Fixed(NOW))?)?;
            let mut setup = side.unwrap_or(Value::Null);
            setup["store_mib_city"] = json!(store_mib(&city_dir));
            setup["store_mib_township"] = json!(store_mib(&town_dir));
            return Ok(Pair {
                city,
                town,
                setup,
                reused: true,
            });
        }
        if !args.regenerate {
            bail!(
                "{} holds stores not generated with --cases {cases} --seed {} (format {FORMAT}); pass --regenerate to replace them, or choose another --dir",
                base.display(),
                args.seed
            );
        }
        std::fs::remove_dir_all(base)?;
    }
    std::fs::create_dir_all(&work)?;
    let county = County::new();
    let (city_node, town_node) = create_pair(&city_dir, &town_dir, &county)?;
    let intake = Intake::new(&town_node)?;
    let city = Peer::start(rt, "city", city_node)?;
    let town = Peer::start(rt, "township", town_node)?;
    eprintln!(
        "bench-sync: taking in {cases} cases at the township, {} per transaction",
        args.batch
    );
    let t = Instant::now();
    let ids = take_in(&town.handle, &intake, intake_rng, cases, args.batch, true)?;
    let gen_s = t.elapsed().as_secs_f64();
    let hwm_gen = hwm_mib();
    // The lower bound of the first contact: every change of every case.
    let (lb, lb_ms) = {
        let t = Instant::now();
        let none = vec![None; ids.len()];
        (
            lower_bound(&town.handle, &ids, &none)?,
            t.elapsed().as_secs_f64() * 1e3,
        )
    };
    eprintln!("bench-sync: first contact: syncing {cases} cases to the city over iroh");
    let before = city.accepted_len();
    let limit = Duration::from_secs(args.first_contact_timeout);
    let first_contact = match town.sync_to(rt, &city, limit) {
        Ok((r, wall)) => {
            let acceptor = city.last_accepted(before);
            let bytes = r.bytes_in + r.bytes_out;
            eprintln!(
                "bench-sync: first contact: {:.1} s, {:.1} MiB on the wire",
                wall / 1e3,
                bytes as f64 / 1_048_576.0
            );
            json!({
                "over": "iroh", "ok": true,
                "wall_ms": wall, "session_ms": r.ms, "bytes": bytes, "bytes_in": r.bytes_in,
                "bytes_out": r.bytes_out, "msgs_in": r.stats.msgs_in, "msgs_out": r.stats.msgs_out,
                "docs_out": r.stats.docs_out, "docs_in": r.stats.docs_in,
                "ratio": bytes as f64 / lb.0.max(1) as f64,
                "acceptor": acceptor.map(|a| json!({"ms": a.ms, "msgs_in": a.stats.msgs_in,
                    "msgs_out": a.stats.msgs_out, "docs_in": a.stats.docs_in})),
            })
        }
        Err(e) => {
            // The session stalled or failed: the stores are still usable, so the first contact
            // is completed through the sans-I/O session in memory and the rest is measured.
            let city_had = case_count(&city.handle)?;
            eprintln!(
                "bench-sync: first contact over iroh FAILED ({e:#}); the city holds {city_had} cases; completing it in memory"
            );
            // Let the abandoned connection go before the stores are used again.
            std::thread::sleep(Duration::from_secs(2));
            let link = sync_in_memory(&town.handle, &city.handle)?;
            eprintln!(
                "bench-sync: first contact in memory: {:.1} s, {} round trips, {:.1} MiB",
                link.wall_ms / 1e3,
                link.rounds,
                link.bytes as f64 / 1_048_576.0
            );
            json!({
                "over": "memory (fallback)", "ok": false, "iroh_error": format!("{e:#}"),
                "iroh_timeout_s": args.first_contact_timeout,
                "city_cases_when_iroh_gave_up": city_had,
                "wall_ms": link.wall_ms, "bytes": link.bytes,
                "ratio": link.bytes as f64 / lb.0.max(1) as f64,
                "in_memory": serde_json::to_value(&link)?,
            })
        }
    };
    let city_cases = case_count(&city.handle)?;
    ensure!(
        city_cases == cases as u64,
        "after the first contact the city holds {city_cases} cases, not {cases}"
    );
    let mut first_contact = first_contact;
    first_contact["lower_bound_bytes"] = json!(lb.0);
    first_contact["lower_bound_changes"] = json!(lb.1);
    first_contact["lower_bound_ms"] = json!(lb_ms);
    first_contact["hwm_mib_after"] = json!(hwm_mib());
    let setup = json!({
        "format": FORMAT,
        "cases": cases,
        "seed": args.seed,
        "now_ms": NOW,
        "intake": {"seconds": gen_s, "cases_per_s": cases as f64 / gen_s.max(1e-9),
                   "batch": args.batch, "hwm_mib_after": hwm_gen},
        "first_contact": first_contact,
    });
    let mut setup = setup;
    if let Some(base) = &base {
        let t = Instant::now();
        snapshot(&city.handle, &city_dir, &base.join("city"))?;
        snapshot(&town.handle, &town_dir, &base.join("township"))?;
        std::fs::write(base.join(SIDECAR), serde_json::to_string_pretty(&setup)?)?;
        eprintln!(
            "bench-sync: kept the stores in {} ({:.1} s)",
            base.display(),
            t.elapsed().as_secs_f64()
        );
    }
    setup["store_mib_city"] = json!(store_mib(&city_dir));
    setup["store_mib_township"] = json!(store_mib(&town_dir));
    Ok(Pair {
        city,
        town,
        setup,
        reused: false,
    })
}

// ---------------------------------------------------------------------------------------------
// The benchmark.

fn sample_json(r: &SessionReport, wall: f64) -> Value {
    json!({
        "wall_ms": wall, "session_ms": r.ms, "bytes": r.bytes_in + r.bytes_out,
        "bytes_in": r.bytes_in, "bytes_out": r.bytes_out, "msgs_in": r.stats.msgs_in,
        "msgs_out": r.stats.msgs_out, "docs_in": r.stats.docs_in, "docs_out": r.stats.docs_out,
    })
}

/// Runs the benchmark.
pub fn bench_sync(args: &SyncArgs) -> Result<()> {
    if args.push {
        return bench_push(args);
    }
    let started = Instant::now();
    let load_before = loadavg();
    let (cases, changed) = args.sizes();
    ensure!(changed >= 2, "--changed must be at least 2");
    ensure!(
        changed - changed / 2 <= cases,
        "--changed {changed} needs at least {} cases",
        changed - changed / 2
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tmp;
    let root = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("yizhan-bench-sync-")
                .tempdir_in(std::env::temp_dir())?;
            tmp.path().to_path_buf()
        }
    };
    let mut intake_rng = Rng::derive(args.seed, 1, 0);
    let pair = prepare(&rt, args, &root, cases, &mut intake_rng)?;
    let result = run(&rt, args, &pair, cases, changed);
    let Pair {
        city,
        town,
        setup,
        reused,
    } = pair;
    city.stop(&rt);
    town.stop(&rt);
    let (mut report, sections) = result?;

    let fc = &setup["first_contact"];
    let over_iroh = fc["ok"].as_bool() == Some(true);
    let how = if over_iroh {
        ""
    } else {
        " (in memory: iroh stalled)"
    };
    let first = vec![
        Figure {
            id: "first_contact_iroh".into(),
            label: format!("first contact, {cases} cases, completes over iroh (1 = yes)"),
            unit: "",
            summary: summarize(&[if over_iroh { 1.0 } else { 0.0 }]),
            target: Some(Target::AtLeast(1.0)),
            judged: MAX,
            extra: json!({"error": fc["iroh_error"], "timeout_s": fc["iroh_timeout_s"]}),
        },
        Figure {
            id: "first_contact_wall".into(),
            label: format!("first contact, {cases} cases township → city: wall time{how}"),
            unit: "ms",
            summary: summarize(&[fc["wall_ms"].as_f64().unwrap_or(f64::NAN)]),
            target: None,
            judged: MAX,
            extra: json!({"reused_from_generation_run": reused}),
        },
        Figure {
            id: "first_contact_bytes".into(),
            label: format!("first contact, {cases} cases: bytes on the wire{how}"),
            unit: "B",
            summary: summarize(&[fc["bytes"].as_f64().unwrap_or(f64::NAN)]),
            target: None,
            judged: MAX,
            extra: json!({"lower_bound_bytes": fc["lower_bound_bytes"], "ratio": fc["ratio"]}),
        },
    ];
    report.figures.splice(0..0, first);
    let (rss, hwm) = memory_mib();
    report.add(
        "memory_hwm",
        "peak resident memory (VmHWM) of this process: both nodes + iroh",
        "MiB",
        &[hwm],
        None,
        MAX,
        json!({"vm_rss_mib_at_end": rss}),
    );
    let missed: Vec<&str> = report
        .figures
        .iter()
        .filter(|f| f.misses().is_some_and(|m| !m.is_empty()))
        .map(|f| f.id.as_str())
        .collect();
    let out = json!({
        "benchmark": "bench-sync",
        "cases": cases,
        "changed": changed,
        "quick": args.quick,
        "seed": args.seed,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "stores": {"dir": root.display().to_string(), "reused": reused},
        "workspace_git_at_run": workspace_git(),
        "setup": setup,
        "figures": report.figures.iter().map(Figure::to_json).collect::<Vec<_>>(),
        "missed": missed,
        "sections": sections,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let table = render_table(&report, &out);
    print_report(args, &table, &out)
}

#[allow(clippy::too_many_lines)]
fn run(
    rt: &Runtime,
    args: &SyncArgs,
    pair: &Pair,
    cases: usize,
    changed: usize,
) -> Result<(Report, serde_json::Map<String, Value>)> {
    let (city, town) = (&pair.city, &pair.town);
    let mut report = Report::default();
    let mut sections = serde_json::Map::new();
    let pass = Duration::from_secs(600);

    // ---- Idle reconnects, township dialing.
    eprintln!("bench-sync: {} idle reconnects", args.idle_runs);
    let mut walls = Vec::new();
    let mut bytes = Vec::new();
    let mut samples = Vec::new();
    for _ in 0..args.idle_runs.max(1) {
        let (r, wall) = town.sync_to(rt, city, pass)?;
        walls.push(wall);
        bytes.push((r.bytes_in + r.bytes_out) as f64);
        samples.push(sample_json(&r, wall));
    }
    let first = samples.first().cloned().unwrap_or(Value::Null);
    report.add(
        "idle_wall",
        format!("idle reconnect, {cases} shared cases: wall time of sync_once"),
        "ms",
        &walls,
        Some(Target::Below(50.0)),
        P50_P90,
        json!({"first": first}),
    );
    report.add(
        "idle_bytes",
        "idle reconnect: bytes on the wire (in + out)",
        "B",
        &bytes,
        Some(Target::Below(8192.0)),
        P50_P90,
        json!({}),
    );
    report.add(
        "idle_first_wall",
        "  the first idle reconnect after the first contact: wall time",
        "ms",
        &walls[..1],
        Some(Target::Below(50.0)),
        MAX,
        json!({}),
    );
    report.add(
        "idle_first_bytes",
        "  the first idle reconnect after the first contact: bytes",
        "B",
        &bytes[..1],
        Some(Target::Below(8192.0)),
        MAX,
        json!({}),
    );
    sections.insert("idle_samples".into(), json!(samples));
    // The other way round: the city dialing.
    let mut back = Vec::new();
    let mut back_walls = Vec::new();
    for _ in 0..5 {
        let (r, wall) = city.sync_to(rt, town, pass)?;
        back_walls.push(wall);
        back.push(sample_json(&r, wall));
    }
    report.add(
        "idle_city_dials_wall",
        "idle reconnect, the city dialing: wall time",
        "ms",
        &back_walls,
        Some(Target::Below(50.0)),
        P50_P90,
        json!({"samples": back}),
    );
    // The same idle session in memory: what its bytes are made of.
    let idle_mem = sync_in_memory(&town.handle, &city.handle)?;
    sections.insert("idle_in_memory".into(), serde_json::to_value(&idle_mem)?);

    // ---- Catch-up over iroh.
    let intake = call(&town.handle, |n| Ok(Intake::new(n)))?.map_err(|e| anyhow!("{e}"))?;
    let mut rng = Rng::derive(args.seed, 2, 0);
    let new = changed / 2;
    let acted = changed - new;
    let mut runs = Vec::new();
    let (mut walls, mut cpus, mut byte_samples, mut lbs, mut ratios, mut msgs) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut ids = Vec::new();
    for run in 0..args.catchup_runs.max(1) {
        eprintln!(
            "bench-sync: catch-up {}: {new} new cases and {acted} changed at the township",
            run + 1
        );
        let w = make_changes(&town.handle, &intake, &mut rng, new, acted, args.batch)?;
        ids = w.all_ids();
        let city_before = heads(&city.handle, &ids)?;
        let t = Instant::now();
        let (lb_bytes, lb_changes) = lower_bound(&town.handle, &ids, &city_before)?;
        let lb_ms = t.elapsed().as_secs_f64() * 1e3;
        let xz = crate::bounds::bounds(&town.handle, &ids, &city_before, true)?.xz;
        // Let the store threads' idle WAL checkpoint run now rather than during the sync.
        std::thread::sleep(Duration::from_millis(500));
        let before = city.accepted_len();
        let cpu0 = process_cpu_ms();
        let (r, wall) = town.sync_to(rt, city, pass)?;
        let cpu_ms = process_cpu_ms() - cpu0;
        let acceptor = city.last_accepted(before);
        let diff = differing(&town.handle, &city.handle, &ids)?;
        ensure!(
            diff == 0,
            "after the catch-up {diff} of {} documents differ",
            ids.len()
        );
        let (tc, cc) = (case_count(&town.handle)?, case_count(&city.handle)?);
        ensure!(tc == cc, "township {tc} cases, city {cc}");
        let bytes = (r.bytes_in + r.bytes_out) as f64;
        let ratio = bytes / lb_bytes.max(1) as f64;
        walls.push(wall);
        cpus.push(cpu_ms);
        byte_samples.push(bytes);
        lbs.push(lb_bytes as f64);
        ratios.push(ratio);
        msgs.push((r.stats.msgs_in + r.stats.msgs_out) as f64);
        runs.push(json!({
            "new": new, "changed_existing": acted, "actions": w.actions,
            "made_in_ms": w.ms, "wall_ms": wall, "process_cpu_ms": cpu_ms,
            "report": sample_json(&r, wall),
            "acceptor": acceptor.map(|a| sample_json(&a, f64::NAN)),
            "lower_bound_bytes": lb_bytes, "lower_bound_changes": lb_changes,
            "lower_bound_ms": lb_ms, "ratio": ratio, "hwm_mib_after": hwm_mib(),
            "cases_after": cc, "xz9_bytes": xz,
            "ratio_xz9": xz.map(|x| bytes / x.max(1) as f64),
        }));
    }
    report.add(
        "catchup_wall",
        format!(
            "catch-up, {changed} docs ({new} new + {acted} changed): wall time until converged"
        ),
        "ms",
        &walls,
        Some(Target::Below(3000.0)),
        &["p50"],
        json!({"process_cpu_ms": cpus}),
    );
    report.add(
        "catchup_cpu",
        "  catch-up: CPU time of this process (both nodes) during the sync",
        "ms",
        &cpus,
        None,
        MAX,
        json!({}),
    );
    report.add(
        "catchup_bytes",
        "catch-up: bytes on the wire (in + out)",
        "B",
        &byte_samples,
        None,
        MAX,
        json!({}),
    );
    report.add(
        "catchup_lower_bound",
        "catch-up: Automerge encoding of the changes the city lacked",
        "B",
        &lbs,
        None,
        MAX,
        json!({}),
    );
    report.add(
        "catchup_ratio",
        "catch-up: bytes on the wire / Automerge encoding",
        "x",
        &ratios,
        Some(Target::AtMost(0.35)),
        MAX,
        json!({}),
    );
    report.add(
        "catchup_msgs",
        "catch-up: messages (frames) in + out, dialer's SessionReport",
        "msgs",
        &msgs,
        None,
        MAX,
        json!({}),
    );
    sections.insert("catch_up".into(), json!(runs));
    sections.insert(
        "probe_city".into(),
        probe_costs(&city.handle, &ids).context("probing the city's store")?,
    );
    // Idle again after the catch-up.
    let mut after = Vec::new();
    for _ in 0..3 {
        let (r, wall) = town.sync_to(rt, city, pass)?;
        after.push(sample_json(&r, wall));
    }
    sections.insert("idle_after_catch_up".into(), json!(after));

    // ---- Round trips in memory, at two sizes.
    let mut sizes = vec![(changed / 10).max(2), changed];
    sizes.dedup();
    let mut rounds_by_size = Vec::new();
    let mut mem = Vec::new();
    for k in sizes {
        let (new, acted) = (k / 2, k - k / 2);
        eprintln!("bench-sync: in-memory catch-up of {k} docs ({new} new + {acted} changed)");
        let w = make_changes(&town.handle, &intake, &mut rng, new, acted, args.batch)?;
        let ids = w.all_ids();
        let before = heads(&city.handle, &ids)?;
        let (lb, lbc) = lower_bound(&town.handle, &ids, &before)?;
        let link = sync_in_memory(&town.handle, &city.handle)?;
        let diff = differing(&town.handle, &city.handle, &ids)?;
        ensure!(diff == 0, "in memory: {diff} of {k} documents differ");
        report.add(
            &format!("mem_rounds_{k}"),
            format!("in-memory Session catch-up of {k} docs: round trips"),
            "rounds",
            &[link.rounds as f64],
            Some(Target::AtMost(4.0)),
            MAX,
            json!({"frames": link.frames, "bytes": link.bytes}),
        );
        report.add(
            &format!("mem_ratio_{k}"),
            format!("  in memory, {k} docs: frame bytes / lower bound"),
            "x",
            &[link.bytes as f64 / lb.max(1) as f64],
            Some(Target::AtMost(1.5)),
            MAX,
            json!({"lower_bound": lb}),
        );
        rounds_by_size.push((k, link.rounds));
        let mut v = serde_json::to_value(&link)?;
        v["docs"] = json!(k);
        v["lower_bound_bytes"] = json!(lb);
        v["lower_bound_changes"] = json!(lbc);
        v["actions"] = json!(w.actions);
        mem.push(v);
    }
    if let (Some(small), Some(big)) = (rounds_by_size.first(), rounds_by_size.last())
        && small.0 != big.0
    {
        report.add(
            "mem_rounds_growth",
            format!(
                "round trips at {} docs minus round trips at {} docs",
                big.0, small.0
            ),
            "rounds",
            &[big.1 as f64 - small.1 as f64],
            Some(Target::AtMost(0.0)),
            MAX,
            json!({}),
        );
    }
    sections.insert("in_memory".into(), json!(mem));
    // The same amount of change applied without the session: what the stores alone cost.
    {
        let (new, acted) = (changed / 2, changed - changed / 2);
        eprintln!("bench-sync: store floor for {changed} docs (no session)");
        let w = make_changes(&town.handle, &intake, &mut rng, new, acted, args.batch)?;
        let ids = w.all_ids();
        let (read_ms, apply_ms, n) = store_floor(&town.handle, &city.handle, &ids)?;
        ensure!(
            n == ids.len(),
            "the floor changed {n} of {} documents",
            ids.len()
        );
        ensure!(
            differing(&town.handle, &city.handle, &ids)? == 0,
            "the floor did not converge"
        );
        report.add(
            "store_floor",
            format!("store floor, {changed} docs, no session: changes_for at township + apply_remote at city"),
            "ms",
            &[read_ms + apply_ms],
            None,
            MAX,
            json!({"changes_for_ms": read_ms, "apply_remote_ms": apply_ms}),
        );
        sections.insert(
            "store_floor".into(),
            json!({"docs": changed, "changes_for_ms": read_ms, "apply_remote_ms": apply_ms}),
        );
    }
    Ok((report, sections))
}

fn render_table(report: &Report, out: &Value) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let setup = &out["setup"];
    let _ = writeln!(
        t,
        "\nbench-sync: {} cases, {} changed, seed {}, {} CPUs; stores {}",
        out["cases"],
        out["changed"],
        out["seed"],
        out["machine"]["cpus"],
        if out["stores"]["reused"].as_bool() == Some(true) {
            "reused"
        } else {
            "generated now"
        }
    );
    let _ = writeln!(
        t,
        "workspace: {}",
        out["workspace_git_at_run"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        t,
        "load average before / after: {} / {}",
        out["machine"]["loadavg_before"].as_str().unwrap_or("?"),
        out["machine"]["loadavg_after"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        t,
        "intake at the township: {:.1} s ({:.0} cases/s); stores {:.1} MiB (city) / {:.1} MiB (township)",
        setup["intake"]["seconds"].as_f64().unwrap_or(f64::NAN),
        setup["intake"]["cases_per_s"].as_f64().unwrap_or(f64::NAN),
        setup["store_mib_city"].as_f64().unwrap_or(f64::NAN),
        setup["store_mib_township"].as_f64().unwrap_or(f64::NAN),
    );
    let fc = &setup["first_contact"];
    let _ = writeln!(
        t,
        "first contact: {} msgs, Automerge encoding {} bytes ({} changes), ratio {:.3}",
        fc["msgs_in"].as_u64().unwrap_or(0) + fc["msgs_out"].as_u64().unwrap_or(0),
        fc["lower_bound_bytes"],
        fc["lower_bound_changes"],
        fc["ratio"].as_f64().unwrap_or(f64::NAN)
    );
    let _ = writeln!(
        t,
        "\n{:<72} {:>4} {:>9} {:>9} {:>9} {:>9}  result",
        "figure", "n", "p50", "p90", "max", "target"
    );
    for f in &report.figures {
        let s = &f.summary;
        let target = f
            .target
            .map(|x| x.text(f.unit))
            .unwrap_or_else(|| "-".into());
        let mut label = if f.unit.is_empty() {
            f.label.clone()
        } else {
            format!("{} [{}]", f.label, f.unit)
        };
        if label.chars().count() > 72 {
            label = label.chars().take(71).collect::<String>() + "…";
        }
        let pad = 72usize.saturating_sub(display_width(&label));
        let _ = writeln!(
            t,
            "{label}{} {:>4} {:>9} {:>9} {:>9} {:>9}  {}",
            " ".repeat(pad),
            s.n,
            fmt_val(s.p50, f.unit),
            fmt_val(s.p90, f.unit),
            fmt_val(s.max, f.unit),
            target,
            f.result()
        );
    }
    let print_kinds = |t: &mut String, title: &str, link: &Value| {
        let _ = writeln!(
            t,
            "\n{title}: {} round trips, {} frames, {} bytes, {:.0} ms",
            link["rounds"],
            link["frames"],
            link["bytes"],
            link["wall_ms"].as_f64().unwrap_or(f64::NAN)
        );
        if let Some(kinds) = link["by_kind"].as_object() {
            for (k, v) in kinds {
                let _ = writeln!(
                    t,
                    "  {k:<28} {:>5} frames {:>10} bytes   handled in {:>8.1} ms ({:>6.0} ms CPU)",
                    v["frames"],
                    v["bytes"],
                    v["handle_ms"].as_f64().unwrap_or(f64::NAN),
                    v["cpu_ms"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
    };
    print_kinds(
        &mut t,
        "idle session in memory",
        &out["sections"]["idle_in_memory"],
    );
    if let Some(mem) = out["sections"]["in_memory"].as_array() {
        for m in mem {
            print_kinds(
                &mut t,
                &format!(
                    "catch-up in memory, {} docs (lower bound {} bytes)",
                    m["docs"], m["lower_bound_bytes"]
                ),
                m,
            );
        }
    }
    if let Some(runs) = out["sections"]["catch_up"].as_array() {
        for (i, cu) in runs.iter().enumerate() {
            let _ = writeln!(
                t,
                "{}catch-up {} over iroh: wall {:.0} ms, CPU of this process (both nodes) {:.0} ms, {} bytes / {} lower bound; {} actions on {} existing cases, {} new cases",
                if i == 0 { "\n" } else { "" },
                i + 1,
                cu["wall_ms"].as_f64().unwrap_or(f64::NAN),
                cu["process_cpu_ms"].as_f64().unwrap_or(f64::NAN),
                cu["report"]["bytes"],
                cu["lower_bound_bytes"],
                cu["actions"],
                cu["changed_existing"],
                cu["new"]
            );
        }
    }
    let fl = &out["sections"]["store_floor"];
    let _ = writeln!(
        t,
        "store floor, {} docs without the session: township changes_for {:.0} ms + city apply_remote {:.0} ms",
        fl["docs"],
        fl["changes_for_ms"].as_f64().unwrap_or(f64::NAN),
        fl["apply_remote_ms"].as_f64().unwrap_or(f64::NAN)
    );
    let p = &out["sections"]["probe_city"];
    let _ = writeln!(
        t,
        "store calls at the city over the {} caught-up docs (cache {} docs), µs/doc: heads_of {:.1}, known_heads over all {:.1}, known_heads loading {:.1}, known_heads cached {:.1}",
        p["docs"],
        p["cache_docs"],
        p["heads_of_us"].as_f64().unwrap_or(f64::NAN),
        p["known_heads_over_all_us"].as_f64().unwrap_or(f64::NAN),
        p["known_heads_load_us"].as_f64().unwrap_or(f64::NAN),
        p["known_heads_cached_us"].as_f64().unwrap_or(f64::NAN)
    );
    let missed = out["missed"].as_array().map(|a| a.len()).unwrap_or(0);
    let _ = writeln!(
        t,
        "\n{} ({:.0} s)",
        if missed == 0 {
            "all judged figures PASS".to_string()
        } else {
            format!("{missed} figure(s) MISS: {}", out["missed"])
        },
        out["seconds"].as_f64().unwrap_or(0.0)
    );
    t
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn targets_and_judged_statistics() {
        let f = Figure {
            id: "x".into(),
            label: "x".into(),
            unit: "ms",
            summary: summarize(&[1.0, 1.0, 1.0, 3.0]),
            target: Some(Target::Below(2.0)),
            judged: P50_P90,
            extra: Value::Null,
        };
        assert_eq!(f.result(), "MISS (p90)");
        let g = Figure {
            judged: &["p50"],
            ..f.clone()
        };
        assert_eq!(g.result(), "PASS");
        let ratio = Figure {
            unit: "x",
            summary: summarize(&[1.5]),
            target: Some(Target::AtMost(1.5)),
            judged: MAX,
            ..f.clone()
        };
        assert_eq!(ratio.result(), "PASS");
        let below = Figure {
            target: Some(Target::Below(1.5)),
            ..ratio
        };
        assert_eq!(below.result(), "MISS (max)");
        let info = Figure { target: None, ..f };
        assert_eq!(info.result(), "info");
        assert_eq!(Target::AtMost(1.5).text("x"), "≤1.500x");
        assert_eq!(Target::Below(8192.0).text("B"), "<8192B");
    }

    #[test]
    fn cpu_time_from_proc_stat() {
        let line = "123 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0";
        assert_eq!(parse_stat_cpu_ms(line), 2800.0);
        assert!(parse_stat_cpu_ms("").is_nan());
        assert!(thread_cpu_ms() >= 0.0 && process_cpu_ms() >= thread_cpu_ms());
    }

    #[test]
    fn quick_sizes_and_explicit_sizes() {
        let mut a = SyncArgs {
            cases: None,
            changed: None,
            quick: false,
            json: false,
            dir: None,
            regenerate: false,
            seed: 1,
            idle_runs: 20,
            catchup_runs: 3,
            first_contact_timeout: 300,
            batch: 5_000,
            push: false,
            push_samples: 200,
            idle_seconds: 10,
        };
        assert_eq!(a.sizes(), (100_000, 5_000));
        a.quick = true;
        assert_eq!(a.sizes(), (10_000, 500));
        a.changed = Some(40);
        assert_eq!(a.sizes(), (10_000, 40));
    }

    #[test]
    fn plans_and_samples() {
        assert_eq!(plan_actions(Tier::Township, &[], "C"), vec![Action::Accept]);
        assert_eq!(
            plan_actions(Tier::Township, &["甲".into(), "乙".into()], "C"),
            vec![Action::Accept, Action::Approve { dept: "甲".into() }]
        );
        assert_eq!(
            plan_actions(Tier::City, &["甲".into()], "C"),
            vec![Action::Forward { to: "C".into() }]
        );
        let mut rng = Rng::new(7);
        let s = sample(&mut rng, 100, 30);
        assert_eq!(s.len(), 30);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && s[29] < 100);
        assert_eq!(sample(&mut rng, 5, 10), vec![0, 1, 2, 3, 4]);
    }

    /// The pieces of the benchmark on two small real stores: enrolment, intake, changes, the
    /// lower bound and the in-memory session (no sockets).
    #[test]
    fn a_small_catch_up_in_memory_converges_in_few_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let county = County::new();
        let (c, t) = create_pair(&tmp.path().join("c"), &tmp.path().join("t"), &county).unwrap();
        let intake = Intake::new(&t).unwrap();
        let (ch, cth) = NodeHandle::spawn(c).unwrap();
        let (th, tth) = NodeHandle::spawn(t).unwrap();
        let mut rng = Rng::new(1);
        take_in(&th, &intake, &mut rng, 60, 25, false).unwrap();
        let first = sync_in_memory(&th, &ch).unwrap();
        assert!(first.rounds <= 4, "{first:?}");
        assert_eq!(case_count(&ch).unwrap(), 60);
        let idle = sync_in_memory(&th, &ch).unwrap();
        assert!(idle.bytes < 8_192, "{idle:?}");
        let w = make_changes(&th, &intake, &mut rng, 10, 20, 25).unwrap();
        assert_eq!(w.all_ids().len(), 30);
        assert!(w.actions >= 20);
        let ids = w.all_ids();
        let before = heads(&ch, &ids).unwrap();
        assert_eq!(before.iter().filter(|h| h.is_none()).count(), 10);
        let (lb, n) = lower_bound(&th, &ids, &before).unwrap();
        assert!(lb > 0 && n >= 30, "{lb} bytes, {n} changes");
        assert_eq!(differing(&th, &ch, &ids).unwrap(), 30);
        let link = sync_in_memory(&th, &ch).unwrap();
        assert!(link.rounds <= 4, "{link:?}");
        assert_eq!(differing(&th, &ch, &ids).unwrap(), 0);
        assert!(link.by_kind.keys().any(|k| k.starts_with("Changes")));
        drop((ch, th));
        cth.join();
        tth.join();
    }
}
