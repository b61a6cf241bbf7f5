//! The county's seeded workload: villagers' names, intake batches by tier (a village takes in
//! delegated township items and forwards them), and a day's handling at a node.

use crate::rng::Rng;
use anyhow::Result;
use std::collections::BTreeSet;
use yizhan_node::case::Action;
use yizhan_node::query::CaseFilter;
use yizhan_node::{NewCase, Node, NodeHandle};

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "丽娟", "德明", "玉梅", "海峰",
];
/// Township items a village proxy agent takes in on a villager's behalf (代办).
pub const VILLAGE_ITEMS: &[&str] = &["TS-004", "TS-005", "TS-007", "TS-010", "TS-014", "TS-017"];
const TOWNSHIP_ITEMS: &[&str] = &["TS-001", "TS-003", "TS-004", "TS-006", "TS-012", "TS-016"];
const CITY_ITEMS: &[&str] = &["CT-001", "CT-002", "CT-003", "CT-009", "CT-013"];

/// A villager's name drawn from `rng`.
pub fn person_name(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
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
                applicant_name: person_name(&mut self.rng),
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
