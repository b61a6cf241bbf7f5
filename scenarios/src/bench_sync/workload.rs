//! The township's work: the enrolled pair of stores, walk-in intake, the changes made while
//! offline, and what the two nodes hold (heads, the lower bound of a catch-up, differences).

use super::peer::call;
use super::{ACT_BATCH, NOW, TOWNSHIP};
use crate::county::{CITY, CITY_NAME, County, NETWORK_NAME, People};
use crate::rng::Rng;
use anyhow::{Context, Result, ensure};
use automerge::ChangeHash;
use std::path::Path;
use std::time::Instant;
use yizhan_node::case::{Action, Status};
use yizhan_node::catalog::{CaseKind, ServiceItem};
use yizhan_node::network::Station;
use yizhan_node::station::Tier;
use yizhan_node::{Clock, InitParams, NewCase, Node, NodeHandle};

/// The township of the benchmark: its index in the simulated county and its station.
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
        &InitParams::new(NETWORK_NAME, CITY, CITY_NAME),
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

    pub(super) fn forms(&self, rng: &mut Rng, n: usize) -> Vec<NewCase> {
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
pub(super) fn sample(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
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
    pub(super) ms: f64,
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

/// The number of cases a node holds.
pub(crate) fn case_count(h: &NodeHandle) -> Result<u64> {
    call(h, |node| {
        node.count(&yizhan_node::query::CaseFilter::default())
    })
}

/// What the store calls the session makes per document cost at a node, over `ids` (µs per
/// document), for the diagnosis: `heads_of` (one indexed SQL row) and `known_heads` (which reads
/// the Automerge document: from the cache, or loaded from SQLite when it is not there). Two passes
/// over more documents than the cache holds miss every time; two passes over a set that fits hit
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

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
}
