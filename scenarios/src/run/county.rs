//! The scenarios' county: the county kit ([`yizhan_county`]: real nodes in this process, real
//! iroh endpoints on 127.0.0.1, enrolled through tickets, links cut and healed) with the seeded
//! workload of a run, simulated days, and the invariants checked at the end.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::{Duration, Instant};
use yizhan_county::County;
use yizhan_node::query::CaseFilter;
use yizhan_node::replica::Scope;
use yizhan_node::{Clock, Node, NodeHandle};

pub use yizhan_county::COUNTY as LAYOUT;
pub use yizhan_county::Member;
pub use yizhan_county::workload::{Workload, handle_op, intake_op};

/// 2026-03-02T09:00:00+08:00, a Monday: day 0 of every scenario.
pub const DAY0: i64 = 1_772_413_200_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// How long one network step (a probe) may take before the run fails.
const STEP: Duration = Duration::from_secs(60);

/// Heads of every document a node holds, by id.
type HeadsMap = BTreeMap<String, Vec<automerge::ChangeHash>>;

/// The running county of a scenario: the kit's county (members, links; reached through `Deref`,
/// since a lab *is* a county with a workload) and the run's workload and day.
#[derive(Debug)]
pub struct Lab {
    county: County,
    /// The workload: its randomness, the cases acknowledged, the actions applied and refused.
    pub work: Workload,
    /// Simulated day.
    pub day: i64,
}

impl Deref for Lab {
    type Target = County;
    fn deref(&self) -> &County {
        &self.county
    }
}

impl DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut County {
        &mut self.county
    }
}

impl Lab {
    /// The standard county: a city, two townships, two villages under each, every link up.
    pub async fn county(dir: &Path, seed: u64) -> Result<Lab> {
        Ok(Lab {
            county: County::build(dir, LAYOUT, "太原市政务服务网", Clock::Fixed(DAY0)).await?,
            work: Workload::new(seed),
            day: 0,
        })
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
        let batch = self.work.intake_batch(&self.county.members[m].tier, n);
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
                            if l.is_up() { "up" } else { "cut" },
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
                .filter(|l| l.child == c && l.is_up())
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
        self.county.close();
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
