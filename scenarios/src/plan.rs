//! The life of every case in a simulated county, planned ahead from a seed.
//!
//! A [`CasePlan`] is the intake form plus every action that will be taken on the case, each with
//! its working day and the station that takes it, in order. The generators in [`crate::gen`]
//! replay plans either through the node's API (`new_cases`, `act_many`) or by writing finished
//! documents; both see the same plans for the same seed.
//!
//! Invariants the writers rely on: steps are in chronological order; on any one day all the
//! steps of a case happen at one station, and steps on the intake day happen at the intake
//! station; each action is valid for the transition table and the tier rule at that point.

use crate::county::{CITY, County, People};
use crate::rng::Rng;
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use yizhan_node::NewCase;
use yizhan_node::calendar::Calendar;
use yizhan_node::case::Action;
use yizhan_node::catalog::{CaseKind, Catalog, ServiceItem};
use yizhan_node::clock::china;
use yizhan_node::station::Tier;

const STREAM_CASE: u64 = 1;

/// One planned action.
#[derive(Debug, Clone)]
pub struct Step {
    /// The working day it happens on.
    pub day: NaiveDate,
    /// The station (index into the county) that takes it.
    pub station: usize,
    /// What is done.
    pub action: Action,
}

/// One case: where and when it is taken in, and everything that happens to it afterwards (up to
/// the end of the simulation).
#[derive(Debug, Clone)]
pub struct CasePlan {
    /// Global index of the case in the simulation (0-based, in intake-day order).
    pub seq: u64,
    /// Intake day.
    pub day: NaiveDate,
    /// Intake station (index into the county).
    pub station: usize,
    /// Intake time slot of the day (0–3).
    pub slot: usize,
    /// The intake form.
    pub new: NewCase,
    /// Every later action, in order.
    pub steps: Vec<Step>,
}

/// Intake time slots (hour, minute) and their shares of the day's intakes.
const SLOTS: [(u32, u32, f64); 4] = [(9, 10, 0.35), (10, 40, 0.25), (14, 20, 0.25), (16, 0, 0.15)];

fn local_ms(day: NaiveDate, h: u32, m: u32, s: u32) -> i64 {
    day.and_hms_opt(h, m, s)
        .and_then(|t| china().from_local_datetime(&t).single())
        .map_or(0, |t| t.timestamp_millis())
}

/// The time of an intake batch: the slot's time plus a few seconds per station, so that every
/// station's batch has its own instant.
pub fn intake_ms(day: NaiveDate, station: usize, slot: usize) -> i64 {
    let (h, m, _) = SLOTS[slot.min(SLOTS.len() - 1)];
    local_ms(day, h, m, 0) + i64::try_from(station).unwrap_or(0) * 3_000
}

/// The time of a station's actions on a day (after every intake of the day).
pub fn act_ms(day: NaiveDate, station: usize) -> i64 {
    local_ms(day, 17, 30, 0) + i64::try_from(station).unwrap_or(0) * 3_000
}

/// 10:00 on a day, China time.
pub fn morning_ms(day: NaiveDate) -> i64 {
    local_ms(day, 10, 0, 0)
}

/// How many cases are taken in on each working day of `[start, end]`, adding up to `n`: more on
/// Mondays and in March, fewer around the Spring Festival, slowly growing over the period.
pub fn schedule(n: u64, start: NaiveDate, end: NaiveDate, cal: &Calendar) -> Vec<(NaiveDate, u64)> {
    let days: Vec<NaiveDate> = start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| cal.is_working_day(*d))
        .collect();
    if days.is_empty() {
        return Vec::new();
    }
    const MONTH: [f64; 12] = [
        1.0, 0.7, 1.15, 1.05, 1.0, 1.05, 1.0, 0.95, 1.05, 0.85, 1.05, 1.1,
    ];
    let span = (days.len() as f64).max(1.0);
    let weights: Vec<f64> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let wd = match d.weekday() {
                Weekday::Mon => 1.15,
                Weekday::Tue => 1.05,
                Weekday::Wed | Weekday::Thu => 1.0,
                Weekday::Fri => 0.9,
                // A make-up working weekend (调休): quieter.
                Weekday::Sat | Weekday::Sun => 0.8,
            };
            MONTH[d.month0() as usize] * wd * (1.0 + 0.15 * i as f64 / span)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / total * n as f64).collect();
    let mut counts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let assigned: u64 = counts.iter().sum();
    // Largest remainders get the rest.
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by(|a, b| {
        let ra = exact[*a] - exact[*a].floor();
        let rb = exact[*b] - exact[*b].floor();
        rb.partial_cmp(&ra).unwrap_or(std::cmp::Ordering::Equal)
    });
    for i in order
        .into_iter()
        .take(usize::try_from(n - assigned).unwrap_or(0))
    {
        counts[i] += 1;
    }
    days.into_iter()
        .zip(counts)
        .filter(|(_, c)| *c > 0)
        .collect()
}

/// Base weights of items (how often each is applied for); unknown codes weigh 1.
fn item_weight(code: &str) -> f64 {
    match code {
        "CT-001" => 16.0,
        "CT-002" => 14.0,
        "CT-003" => 5.0,
        "CT-004" | "CT-005" | "CT-010" => 3.0,
        "CT-006" | "CT-007" | "CT-012" | "CT-014" => 2.0,
        "CT-008" => 18.0,
        "CT-009" => 10.0,
        "CT-011" | "CT-015" => 4.0,
        "CT-013" | "CT-017" => 5.0,
        "CT-016" => 3.0,
        "TS-001" => 14.0,
        "TS-002" => 10.0,
        "TS-003" | "TS-004" => 6.0,
        "TS-005" | "TS-007" | "TS-015" => 4.0,
        "TS-006" | "TS-009" | "TS-010" | "TS-016" => 3.0,
        "TS-008" => 1.5,
        "TS-011" | "TS-013" => 2.0,
        "TS-012" | "TS-014" | "TS-018" => 5.0,
        "TS-017" => 8.0,
        "VL-001" | "VL-003" => 3.0,
        "VL-002" => 2.0,
        "VL-004" => 1.0,
        "VL-005" => 6.0,
        "VL-006" => 5.0,
        "VL-007" => 4.0,
        _ => 1.0,
    }
}

/// Items a station of one tier takes in, with weights.
#[derive(Debug, Clone)]
struct ItemMix {
    items: Vec<ServiceItem>,
    weights: Vec<f64>,
}

impl ItemMix {
    /// `shares`: (tier of item, share of this station tier's intakes); within a tier, items
    /// follow [`item_weight`].
    fn new(catalog: &Catalog, shares: &[(Tier, f64)]) -> ItemMix {
        let mut items = Vec::new();
        let mut weights = Vec::new();
        for (tier, share) in shares {
            let of_tier: Vec<&ServiceItem> = catalog.items().filter(|i| i.tier == *tier).collect();
            let total: f64 = of_tier.iter().map(|i| item_weight(&i.code)).sum();
            if total <= 0.0 {
                continue;
            }
            for i in of_tier {
                items.push(i.clone());
                weights.push(share * item_weight(&i.code) / total);
            }
        }
        ItemMix { items, weights }
    }

    fn pick(&self, rng: &mut Rng) -> &ServiceItem {
        &self.items[rng.weighted(&self.weights)]
    }
}

/// Plans cases for a county.
#[derive(Debug)]
pub struct Planner {
    county: County,
    people: People,
    calendar: Calendar,
    seed: u64,
    end: NaiveDate,
    tier_weights: Vec<f64>,
    /// Station indexes per tier, with their weights: city, township, village.
    by_tier: [(Vec<usize>, Vec<f64>); 3],
    mixes: [ItemMix; 3],
}

fn tier_slot(t: Tier) -> usize {
    match t {
        Tier::City => 0,
        Tier::Township => 1,
        Tier::Village => 2,
    }
}

const RATING_WEIGHTS: [f64; 5] = [80.0, 12.0, 4.5, 2.3, 1.2];

impl Planner {
    /// A planner for a county whose simulation ends on `end` (steps after it are not planned).
    pub fn new(
        county: County,
        catalog: &Catalog,
        calendar: Calendar,
        seed: u64,
        end: NaiveDate,
    ) -> Planner {
        let tier_weights = crate::county::TIER_SHARE.iter().map(|(_, w)| *w).collect();
        let group = |t: Tier| {
            let idx = county.of_tier(t);
            let w = idx.iter().map(|i| county.stations[*i].weight).collect();
            (idx, w)
        };
        let by_tier = [
            group(Tier::City),
            group(Tier::Township),
            group(Tier::Village),
        ];
        let mixes = [
            ItemMix::new(catalog, &[(Tier::City, 1.0)]),
            ItemMix::new(catalog, &[(Tier::Township, 0.92), (Tier::City, 0.08)]),
            ItemMix::new(
                catalog,
                &[
                    (Tier::Village, 0.40),
                    (Tier::Township, 0.57),
                    (Tier::City, 0.03),
                ],
            ),
        ];
        Planner {
            county,
            people: People::new(),
            calendar,
            seed,
            end,
            tier_weights,
            by_tier,
            mixes,
        }
    }

    /// The county.
    pub fn county(&self) -> &County {
        &self.county
    }

    /// The plans of the cases taken in on `day` (global indexes `first .. first + count`),
    /// ordered by station, then time slot, then index: the order the API writer takes them in.
    pub fn day_plans(&self, day: NaiveDate, first: u64, count: u64) -> Vec<CasePlan> {
        let mut plans: Vec<CasePlan> = (first..first + count)
            .map(|seq| self.plan_case(seq, day))
            .collect();
        plans.sort_by_key(|p| (p.station, p.slot, p.seq));
        plans
    }

    fn wd(&self, d: NaiveDate, n: u32) -> NaiveDate {
        self.calendar.add_working_days(d, n)
    }

    /// Probability that a promised case taken in on `day` gets stuck (never completed): higher
    /// for recent cases, so that the store ends with roughly a tenth of its cases open and lights
    /// of every colour.
    fn p_stall(&self, day: NaiveDate) -> f64 {
        let age = (self.end - day).num_days().max(0) as f64;
        0.6 * (-age / 180.0).exp()
    }

    fn plan_case(&self, seq: u64, day: NaiveDate) -> CasePlan {
        let mut rng = Rng::derive(self.seed, STREAM_CASE, seq);
        let tier = rng.weighted(&self.tier_weights);
        let (stations, weights) = &self.by_tier[tier];
        let origin = stations[rng.weighted(weights)];
        let slot = rng.weighted(&SLOTS.map(|s| s.2));
        let item = self.mixes[tier].pick(&mut rng).clone();
        let new = self.people.new_case(&mut rng, &self.county, origin, &item);
        let mut steps = Vec::new();
        self.plan_life(&mut rng, &item, origin, day, &mut steps);
        steps.sort_by_key(|s| s.day);
        steps.retain(|s| s.day <= self.end);
        CasePlan {
            seq,
            day,
            station: origin,
            slot,
            new,
            steps,
        }
    }

    fn code(&self, station: usize) -> String {
        self.county.stations[station].code.clone()
    }

    #[allow(clippy::too_many_lines)]
    fn plan_life(
        &self,
        rng: &mut Rng,
        item: &ServiceItem,
        origin: usize,
        day: NaiveDate,
        steps: &mut Vec<Step>,
    ) {
        let push = |steps: &mut Vec<Step>, day: NaiveDate, station: usize, action: Action| {
            steps.push(Step {
                day,
                station,
                action,
            });
        };
        let st = &self.county.stations[origin];
        let town = st.township;
        let handler = match item.tier {
            Tier::Village => origin,
            Tier::Township => town.unwrap_or(origin),
            Tier::City => 0,
        };
        let mut d = day;
        // Route the case to the station of the item's tier (上报).
        if handler != origin {
            if let (Tier::Village, Some(t)) = (st.tier, town) {
                if !rng.chance(0.4) {
                    d = self.wd(d, 1);
                }
                push(steps, d, origin, Action::Forward { to: self.code(t) });
                if handler != t {
                    d = self.wd(d, 1);
                    push(steps, d, t, Action::Forward { to: CITY.into() });
                }
            } else {
                if !rng.chance(0.5) {
                    d = self.wd(d, 1);
                }
                push(steps, d, origin, Action::Forward { to: CITY.into() });
            }
            d = self.wd(d, rng.range(1, 2));
        } else if item.kind == CaseKind::Promised && rng.chance(0.3) {
            d = self.wd(d, 1);
        }
        let h = handler;
        let materials = &item.materials;

        // Before acceptance: refusal, or a one-time notice of missing materials (补正).
        let r = rng.f64();
        if r < 0.015 && item.kind != CaseKind::Consult {
            let reason = *rng.pick(&[
                "不属于本机关职权范围",
                "申请人不符合申请条件",
                "申请事项依法不需要取得行政许可",
            ]);
            push(
                steps,
                d,
                h,
                Action::Refuse {
                    reason: reason.into(),
                },
            );
            return;
        }
        if r < 0.075 && item.kind == CaseKind::Promised && !materials.is_empty() {
            push(
                steps,
                d,
                h,
                Action::RequestMaterials {
                    missing: self.some_materials(rng, materials),
                },
            );
            if rng.chance(0.15) {
                // The applicant never came back.
                return;
            }
            d = self.wd(d, rng.range(1, 5));
            push(steps, d, h, Action::Resume);
        }
        let accept = if item.kind == CaseKind::Promised && !materials.is_empty() && rng.chance(0.03)
        {
            Action::AcceptWithGaps {
                missing: vec![materials[materials.len() - 1].clone()],
                promise: "承诺5个工作日内补齐".into(),
            }
        } else {
            Action::Accept
        };
        // A 容缺 material is supplied before the case is granted (issue #13: the transition
        // table refuses 办结 while one is outstanding).
        let gaps = match &accept {
            Action::AcceptWithGaps { missing, .. } => Some(missing.clone()),
            _ => None,
        };
        push(steps, d, h, accept);
        let a = d;

        match item.kind {
            CaseKind::Consult => {
                if self.county.stations[h].tier != Tier::City && rng.chance(0.25) {
                    push(steps, d, h, self.consult(rng, item, h, origin));
                }
                push(steps, d, h, Action::Complete);
                self.after_close(rng, steps, d, h, origin, false, 0.35);
            }
            CaseKind::Instant => {
                push(steps, d, h, Action::Complete);
                self.after_close(rng, steps, d, h, origin, true, 0.6);
            }
            CaseKind::Promised => {
                let p = item.promised_days.max(1);
                let legal = item.legal_days.max(p);
                let r = rng.f64();
                let off = if r < 0.88 {
                    rng.range((p * 3).div_ceil(10).max(1), p)
                } else if r < 0.97 {
                    p + rng.range(1, (legal - p).clamp(1, 5))
                } else {
                    legal + rng.range(1, 10)
                };
                let stalled = rng.chance(self.p_stall(day));
                let stall_kind = rng.f64();
                // A pause right after acceptance: 补正 or 特别程序, resumed later.
                let mut cur = a;
                let mut paused = 0;
                let pr = rng.f64();
                if !stalled && pr < 0.06 {
                    let start = self.wd(a, 1);
                    let (action, len) = if pr < 0.04 && !materials.is_empty() {
                        (
                            Action::RequestMaterials {
                                missing: self.some_materials(rng, materials),
                            },
                            rng.range(2, 6),
                        )
                    } else {
                        (
                            Action::Suspend {
                                reason: (*rng.pick(&["听证", "专家评审", "现场勘验"])).into(),
                            },
                            rng.range(5, 15),
                        )
                    };
                    push(steps, start, h, action);
                    cur = self.wd(start, len);
                    push(steps, cur, h, Action::Resume);
                    paused = len;
                }
                let complete_day = self.wd(a, off + paused).max(cur);
                let span =
                    u32::try_from(self.calendar.working_days_between(cur, complete_day).max(0))
                        .unwrap_or(0);
                // Parallel approvals (并联审批), in random order before completion; rarely one
                // department rejects, and it is then the last to decide.
                let mut middle: Vec<(NaiveDate, u8, Action)> = Vec::new();
                let mut depts = item.departments.clone();
                for i in (1..depts.len()).rev() {
                    let j = rng.below(i + 1);
                    depts.swap(i, j);
                }
                let mut decisions: Vec<NaiveDate> = depts
                    .iter()
                    .map(|_| self.wd(cur, rng.range(0, span)))
                    .collect();
                decisions.sort();
                let reject = !depts.is_empty() && rng.chance(0.02);
                for (k, (dept, on)) in depts.iter().zip(&decisions).enumerate() {
                    let action = if reject && k + 1 == depts.len() {
                        Action::Reject {
                            dept: dept.clone(),
                            reason: "不符合审批条件".into(),
                        }
                    } else {
                        Action::Approve { dept: dept.clone() }
                    };
                    middle.push((*on, 0, action));
                }
                if rng.chance(0.06) {
                    let on = self.wd(cur, rng.range(0, span));
                    middle.push((on, 1, self.consult(rng, item, h, origin)));
                }
                if stalled {
                    // Stuck: accepted and never decided; some wait for materials or a special
                    // procedure that never ends.
                    let cut = self.wd(a, rng.range(0, p));
                    middle.retain(|(on, _, _)| *on < cut);
                    middle.sort_by_key(|(on, prio, _)| (*on, *prio));
                    for (on, _, action) in middle {
                        push(steps, on, h, action);
                    }
                    if stall_kind >= 0.7 {
                        let action = if stall_kind < 0.9 && !materials.is_empty() {
                            Action::RequestMaterials {
                                missing: self.some_materials(rng, materials),
                            }
                        } else {
                            Action::Suspend {
                                reason: "专家评审".into(),
                            }
                        };
                        push(steps, cut.max(self.wd(a, 1)), h, action);
                    }
                    return;
                }
                if let Some(items) = gaps {
                    middle.push((complete_day, 1, Action::SupplyGaps { items }));
                }
                middle.push((complete_day, 2, Action::Complete));
                middle.sort_by_key(|(on, prio, _)| (*on, *prio));
                for (on, _, action) in middle {
                    push(steps, on, h, action);
                }
                self.after_close(rng, steps, complete_day, h, origin, true, 0.65);
            }
        }
    }

    fn some_materials(&self, rng: &mut Rng, materials: &[String]) -> Vec<String> {
        let mut out = vec![rng.pick(materials).clone()];
        if materials.len() > 2 && rng.chance(0.3) {
            let m = rng.pick(materials).clone();
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    fn consult(&self, rng: &mut Rng, item: &ServiceItem, h: usize, origin: usize) -> Action {
        let with = if self.county.stations[h].tier == Tier::City {
            match self.county.stations[origin].township {
                Some(t) => self.code(t),
                None => {
                    let towns = &self.by_tier[tier_slot(Tier::Township)].0;
                    self.code(*rng.pick(towns))
                }
            }
        } else if self.county.stations[h].tier == Tier::Village {
            self.county.stations[h]
                .township
                .map_or_else(|| CITY.to_string(), |t| self.code(t))
        } else {
            CITY.to_string()
        };
        Action::Consult {
            with,
            minutes: rng.range(5, 40),
            summary: format!("就{}的材料要求和办理流程进行视频会商", item.name),
        }
    }

    /// Delivery, rating and follow-up calls, at the station the applicant came to.
    #[allow(clippy::too_many_arguments)]
    fn after_close(
        &self,
        rng: &mut Rng,
        steps: &mut Vec<Step>,
        closed: NaiveDate,
        h: usize,
        origin: usize,
        deliver: bool,
        rate_p: f64,
    ) {
        let mut day = if origin == h {
            closed
        } else {
            self.wd(closed, 1)
        };
        if deliver && rng.chance(0.92) {
            day = self.wd(day, rng.range(0, 2));
            steps.push(Step {
                day,
                station: origin,
                action: Action::Deliver,
            });
        }
        if rng.chance(rate_p) {
            day = self.wd(day, rng.range(0, 3));
            let level = u8::try_from(rng.weighted(&RATING_WEIGHTS) + 1).unwrap_or(1);
            let comment = match level {
                1 => *rng.pick(&["", "", "办事效率高", "工作人员很热情", "一次办好，不用跑腿"]),
                2 => "满意",
                3 => "等待时间有点长",
                4 => "材料要求前后说法不一",
                _ => "多次跑腿仍未办成",
            };
            steps.push(Step {
                day,
                station: origin,
                action: Action::Rate {
                    level,
                    comment: comment.into(),
                },
            });
            let call = if level >= 4 {
                rng.chance(0.85).then(|| {
                    (
                        self.wd(day, rng.range(1, 10)),
                        "已电话回访，说明原因并致歉，整改完毕，申请人表示理解",
                    )
                })
            } else {
                rng.chance(0.03)
                    .then(|| (self.wd(day, rng.range(1, 5)), "电话回访，申请人表示满意"))
            };
            if let Some((on, summary)) = call {
                steps.push(Step {
                    day: on,
                    station: origin,
                    action: Action::FollowUp {
                        summary: summary.into(),
                    },
                });
            }
        }
    }
}
