//! `yizhan-scenarios run NAME | --all [--quick] [--seed N] [--scale N] [--json]` and
//! `yizhan-scenarios list`: simulated counties of real nodes, a seeded workload, the invariants
//! checked at the end, and a JSON report per scenario.
//!
//! Every scenario builds the same county (a city, two townships, two villages under each,
//! enrolled through tickets over iroh), drives its story, heals every link, waits for convergence
//! and checks four invariants: convergence (every node holds exactly the city's version of every
//! document in its scope), no loss (every case acknowledged anywhere is at the city), scope (no
//! node holds a document outside its scope) and agreement (status, due date and light of each
//! case are the same on every node that holds it). A failed invariant makes the process exit
//! non-zero.
//!
//! Most scenarios run in one process ([`county::Lab`]), links cut and healed by stopping
//! sessions. The link-quality scenarios (`poor-link`, `flapping`, `partition-heal`) run real
//! `yizhan` processes, each node in its own network namespace behind the link emulator
//! ([`netns`]); they report themselves skipped where the lab is missing (not root, no `ip
//! netns`, no `yizhan` binary).
//!
//! Each report gives per link the bytes both ways and the round trips, as the sessions on both
//! sides counted them (`SessionStats::round_trips` of `yizhan-sync`: an answer arriving to a
//! request the side waited on; the link's figure is the sum of both sides'), beside the time to
//! convergence and the time a village's case takes to be visible at the city.
//!
//! The quick set (`run --all --quick`, every scenario small, about a minute and a half on two
//! cores) is what CI runs, once, after the test suite: `.ci/run` calls it with `--require-lab`,
//! so that a namespace scenario that cannot run fails CI instead of being skipped.

mod county;
mod netns;

use anyhow::{Result, bail};
use county::{DAY0, Lab};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use yizhan_node::case::Action;
use yizhan_node::{Clock, InitParams, Node};

/// Arguments of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The scenario (see `list`).
    pub name: Option<String>,
    /// Every scenario, one after the other.
    #[arg(long)]
    pub all: bool,
    /// The small version of each scenario (the CI set).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cases in the workload (default per scenario; `scale` defaults to 100,000).
    #[arg(long)]
    pub scale: Option<usize>,
    /// Print the JSON reports only.
    #[arg(long)]
    pub json: bool,
    /// Fail the scenarios that need the network-namespace lab where it is missing, instead of
    /// reporting them skipped (CI, which runs as root, passes this).
    #[arg(long)]
    pub require_lab: bool,
}

/// A scenario: its name, what it shows, and whether it runs in this process.
struct Scenario {
    name: &'static str,
    about: &'static str,
    in_process: bool,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "county-basic",
        about: "all links up: intake at villages, handling at townships, approvals at the city",
        in_process: true,
    },
    Scenario {
        name: "partition-heal",
        about: "both townships cut off from the city for a simulated week of work, then healed (namespaces)",
        in_process: false,
    },
    Scenario {
        name: "parallel-approval",
        about: "two city nodes approve the same cases for different departments while partitioned",
        in_process: true,
    },
    Scenario {
        name: "data-mule",
        about: "a village with no link; a township laptop carries its cases to the hall",
        in_process: true,
    },
    Scenario {
        name: "hostile",
        about: "an unenrolled node, a revoked node, out-of-scope requests, garbage frames",
        in_process: true,
    },
    Scenario {
        name: "scale",
        about: "100,000 cases across the county (scale 100000 by default)",
        in_process: true,
    },
    Scenario {
        name: "poor-link",
        about: "300 ms RTT, 5 % loss, 64 kbit/s uplink (network namespaces + link emulator)",
        in_process: false,
    },
    Scenario {
        name: "flapping",
        about: "a link up and down every few seconds during a large catch-up (namespaces)",
        in_process: false,
    },
];

/// `list`.
pub fn list() {
    for s in SCENARIOS {
        let mode = if s.in_process {
            "in process"
        } else {
            "namespaces"
        };
        println!("{:<18} {mode:<11} {}", s.name, s.about);
    }
}

/// `run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let names: Vec<&str> = if args.all {
        SCENARIOS.iter().map(|s| s.name).collect()
    } else {
        match &args.name {
            Some(n) if SCENARIOS.iter().any(|s| s.name == n) => vec![n.as_str()],
            Some(n) => bail!("no scenario {n:?}; `yizhan-scenarios list` shows them"),
            None => bail!("name a scenario or give --all; `yizhan-scenarios list` shows them"),
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("yizhan-scenario")
        .enable_all()
        .build()?;
    let mut failed = Vec::new();
    let mut skips = 0usize;
    let all_started = Instant::now();
    for name in names {
        let started = Instant::now();
        let report = rt.block_on(run_one(name, args));
        let report = match report {
            Ok(r) => r,
            Err(e) => json!({"scenario": name, "ok": false, "error": format!("{e:#}")}),
        };
        let ok = report["ok"].as_bool().unwrap_or(false);
        let skipped = report.get("skipped").is_some();
        if !ok && (!skipped || args.require_lab) {
            failed.push(name);
        }
        skips += usize::from(skipped);
        if args.json {
            println!("{report}");
        } else {
            let verdict = if skipped {
                "SKIPPED"
            } else if ok {
                "ok"
            } else {
                "FAILED"
            };
            println!(
                "{name:<18} {verdict:<8} {:>6.1} s",
                started.elapsed().as_secs_f64()
            );
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    // On stderr, so that `--json` output stays one report per line.
    eprintln!(
        "{} scenario(s) in {:.1} s: {} failed, {skips} skipped",
        if args.all { SCENARIOS.len() } else { 1 },
        all_started.elapsed().as_secs_f64(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("scenario(s) failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The workload size: `--scale`, else the scenario's default (quick or not).
fn scale(args: &RunArgs, default: usize, quick: usize) -> usize {
    args.scale
        .unwrap_or(if args.quick { quick } else { default })
        .max(7)
}

async fn run_one(name: &str, args: &RunArgs) -> Result<Value> {
    if SCENARIOS.iter().any(|s| s.name == name && !s.in_process) {
        return netns::run(name, args).await;
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!("yizhan-{name}-"))
        .tempdir()?;
    let started = Instant::now();
    let mut lab = Lab::county(tmp.path(), args.seed).await?;
    let setup_ms = started.elapsed().as_millis();
    let mut extra = json!({});
    match name {
        "county-basic" => {
            let n = scale(args, 2_000, 140);
            for day in 0..5 {
                lab.set_day(day).await?;
                lab.work_day(n / 5 / lab.members.len()).await?;
            }
        }
        "parallel-approval" => extra = parallel_approval(&mut lab, scale(args, 200, 20)).await?,
        "data-mule" => extra = data_mule(&mut lab, scale(args, 1_000, 60)).await?,
        "hostile" => extra = hostile(&mut lab, tmp.path()).await?,
        "scale" => {
            let n = scale(args, 100_000, 3_500);
            // Intake only, in batches, at every station: the point is volume, not handling.
            let per = n / lab.members.len();
            let batch = 2_500.min(per.max(1));
            let mut left = per;
            while left > 0 {
                let k = batch.min(left);
                for m in 0..lab.members.len() {
                    lab.intake(m, k).await?;
                }
                left -= k;
            }
            extra = json!({"cases": lab.work.acknowledged.len()});
        }
        other => bail!("no scenario {other:?}"),
    }
    // Heal everything, converge, measure a village's case reaching the city, check.
    lab.set_all(true);
    let converge = lab.wait_converged(Duration::from_secs(600)).await?;
    let visible = lab.village_to_city("V11").await?;
    lab.wait_converged(Duration::from_secs(60)).await?;
    let invariants = lab.invariants().await?;
    let links = lab.link_report().await?;
    lab.shutdown().await;
    // A session between honest members that ended in an error (a refused change, a protocol
    // error) fails the run even if the county converged afterwards by reconnecting. A lost
    // connection ("connection: …") is what cutting a link does, and is not such an error.
    let clean_sessions = links.as_array().is_some_and(|ls| {
        ls.iter().all(|l| {
            l["retired"].as_bool() == Some(true)
                || l["session_errors"].as_array().is_some_and(|errors| {
                    errors
                        .iter()
                        .all(|e| e.as_str().is_some_and(|e| e.starts_with("connection: ")))
                })
        })
    });
    let ok = clean_sessions
        && ["convergence", "no_loss", "scope", "agreement"]
            .iter()
            .all(|k| invariants[k]["ok"].as_bool() == Some(true));
    Ok(json!({
        "scenario": name,
        "seed": args.seed,
        "ok": ok,
        "cases": lab.work.acknowledged.len(),
        "actions": lab.work.actions,
        "actions_refused_by_nodes": lab.work.refused_actions,
        "setup_ms": setup_ms,
        "time_to_convergence_ms": converge.as_millis(),
        "village_case_visible_at_city_ms": visible.as_millis(),
        "wall_ms": started.elapsed().as_millis(),
        "invariants": invariants,
        "sessions_without_errors": clean_sessions,
        "links": links,
        "details": extra,
    }))
}

/// Two city nodes (the hall and a second node of the city station), partitioned from each other;
/// every multi-department case accepted before the cut gets its departments' approvals split
/// between the two; after healing every approval is there and every such case is decided.
async fn parallel_approval(lab: &mut Lab, n: usize) -> Result<Value> {
    lab.set_day(0).await?;
    let second = lab.add("C-2", "C", "C").await?;
    let c = lab.index("C")?;
    let ids = {
        let mut ids = Vec::new();
        while ids.len() < n {
            for id in lab.intake(c, n).await? {
                let dept_count = lab.members[c]
                    .call({
                        let id = id.clone();
                        move |node| Ok(node.case(&id)?.doc.item.departments.len())
                    })
                    .await?;
                if dept_count >= 2 && ids.len() < n {
                    ids.push(id);
                }
            }
        }
        ids
    };
    let accept: Vec<(String, Action)> = ids.iter().map(|i| (i.clone(), Action::Accept)).collect();
    lab.members[c]
        .call(move |node| Ok(node.act_many(&accept, "综合窗口")?.len()))
        .await?;
    lab.wait_converged(Duration::from_secs(120)).await?;
    let link = lab.link_of("C-2")?;
    lab.set_link(link, false);
    // Departments alternate between the two nodes: even ones at the hall, odd ones at C-2.
    for (at, parity) in [(c, 0usize), (second, 1usize)] {
        let ids = ids.clone();
        lab.members[at]
            .call(move |node| {
                for id in &ids {
                    let depts = node.case(id)?.doc.item.departments.clone();
                    for (i, d) in depts.iter().enumerate() {
                        if i % 2 == parity {
                            node.act(id, &Action::Approve { dept: d.clone() }, "部门窗口")?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
    }
    lab.set_link(link, true);
    lab.wait_converged(Duration::from_secs(120)).await?;
    let ids2 = ids.clone();
    let (complete, all_approved) = lab.members[c]
        .call(move |node| {
            let mut all_approved = 0;
            let mut complete = 0;
            for id in &ids2 {
                let v = node.case(id)?;
                if v.doc.item.departments.len() == v.state.approvals.len() {
                    all_approved += 1;
                }
                if node.act(id, &Action::Complete, "综合窗口").is_ok() {
                    complete += 1;
                }
            }
            Ok((complete, all_approved))
        })
        .await?;
    if all_approved != ids.len() || complete != ids.len() {
        bail!(
            "after healing, {all_approved} of {} cases had every department's approval and \
             {complete} could be completed",
            ids.len()
        );
    }
    Ok(
        json!({"cases_with_split_approvals": ids.len(), "all_approvals_present": all_approved,
        "decided_after_heal": complete}),
    )
}

/// V22 has no link to anyone. A second node of the T2 station (a laptop) syncs at V22, is carried
/// to the hall, and syncs there: V22's cases reach the hall and the city.
async fn data_mule(lab: &mut Lab, n: usize) -> Result<Value> {
    lab.set_day(0).await?;
    let v22_link = lab.link_of("V22")?;
    lab.set_link(v22_link, false);
    let laptop = lab.add("T2-laptop", "T2", "T2").await?;
    let laptop_link = lab.link_of("T2-laptop")?;
    lab.set_link(laptop_link, false);
    let v22 = lab.index("V22")?;
    let carried = lab.intake(v22, n).await?;
    // At the village: one pass dialed from the laptop.
    let at_village = lab.members[laptop].sync_once(&lab.members[v22]).await?;
    // At the hall: one pass with the hall.
    let t2 = lab.index("T2")?;
    let at_hall = lab.members[laptop].sync_once(&lab.members[t2]).await?;
    // The hall passes them on to the city by itself, while V22 still has no link.
    let to_city = lab.wait_at_city(&carried, Duration::from_secs(120)).await?;
    Ok(
        json!({"carried": carried.len(), "laptop_at_village_docs_in": at_village.stats.docs_in,
        "laptop_at_hall_docs_out": at_hall.stats.docs_out,
        "hall_to_city_ms": to_city.as_millis()}),
    )
}

/// Strangers and misbehaving members are refused; honest nodes are unaffected.
async fn hostile(lab: &mut Lab, dir: &std::path::Path) -> Result<Value> {
    lab.set_day(0).await?;
    lab.work_day(5).await?;
    lab.wait_converged(Duration::from_secs(60)).await?;
    let city_before = lab.members[0]
        .call(|n| n.count(&Default::default()))
        .await?;
    // 1. A node of another network.
    let stranger = Node::init(
        &dir.join("stranger"),
        Clock::Fixed(DAY0),
        &InitParams::new("别的网", "X", "陌生节点"),
    )?;
    let stranger = county::Member::start("stranger", stranger).await?;
    let unenrolled = stranger.sync_once(&lab.members[0]).await;
    // 2. A revoked village node.
    let rogue = lab.add("V11-rogue", "V11", "T1").await?;
    lab.retire(rogue);
    let rogue_id = lab.members[rogue].id.clone();
    // Its parent township revokes it; the roster carries the revocation to the city.
    let t1 = lab.index("T1")?;
    lab.members[t1]
        .call(move |n| n.revoke(&rogue_id, "笔记本丢失"))
        .await?;
    lab.wait_converged(Duration::from_secs(120)).await?;
    let revoked = lab.members[rogue].sync_once(&lab.members[0]).await;
    let revoked_at_township = lab.members[rogue].sync_once(&lab.members[t1]).await;
    // 3. A village asking for another village's case, through the protocol core.
    let v12 = lab.index("V12")?;
    let v21_case = lab.intake(lab.index("V21")?, 1).await?;
    lab.wait_converged(Duration::from_secs(60)).await?;
    let v12_id = lab.members[v12].id.clone();
    let t1_id = lab.members[t1].id.clone();
    // V12's real hello, made by its own node.
    let hello = lab.members[v12]
        .call(move |node| {
            let mut s = yizhan_sync::session::Session::new(node, &t1_id);
            Ok(s.start(node))
        })
        .await??;
    let (want_refused, leaked) = {
        let target = v21_case[0].clone();
        lab.members[t1]
            .call(move |node| {
                let mut s = yizhan_sync::session::Session::new(node, &v12_id);
                for m in hello {
                    if s.handle(node, m).is_err() {
                        return Ok((false, false));
                    }
                }
                let want = yizhan_sync::proto::Msg::Want {
                    docs: vec![yizhan_sync::proto::DocHeads {
                        id: target,
                        heads: Vec::new(),
                    }],
                };
                let r = s.handle(node, want);
                let leaked = match &r {
                    // Packed frames (protocol version 3) are looked into.
                    Ok(msgs) => msgs.iter().any(|m| {
                        matches!(
                            yizhan_sync::wire::unpack(m.clone()),
                            Ok(yizhan_sync::proto::Msg::Changes { .. }
                                | yizhan_sync::proto::Msg::Saved { .. }
                                | yizhan_sync::proto::Msg::Sync { .. })
                        )
                    }),
                    Err(_) => false,
                };
                Ok((r.is_err(), leaked))
            })
            .await?
    };
    // 4. Garbage frames at a real endpoint's protocol loop.
    let garbage = {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (b_recv, b_send) = tokio::io::split(b);
        let h = lab.members[0].handle.clone();
        let peer = lab.members[t1].id.clone();
        let server = tokio::spawn(yizhan_sync::net::sync_stream(
            h, peer, b_recv, b_send, false,
        ));
        let (mut a_recv, mut a_send) = tokio::io::split(a);
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        a_send
            .write_all(&[0, 0, 0, 12, 0xff, 0xfe, 0xfd, 0xfc, 1, 2, 3, 4, 5, 6, 7, 8])
            .await?;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), a_recv.read_to_end(&mut sink)).await;
        drop(a_send);
        tokio::time::timeout(Duration::from_secs(10), server).await??
    };
    let city_after = lab.members[0]
        .call(|n| n.count(&Default::default()))
        .await?;
    stranger.net.shutdown().await;
    let refused = |r: &Result<yizhan_sync::net::SessionReport>| r.is_err();
    if !refused(&unenrolled) || !refused(&revoked) || !refused(&revoked_at_township) {
        bail!(
            "a stranger or a revoked node was not refused: unenrolled {:?}, revoked at the city \
             {:?}, at the township {:?}",
            unenrolled.map(|r| r.stats),
            revoked.map(|r| r.stats),
            revoked_at_township.map(|r| r.stats)
        );
    }
    if leaked || !want_refused || garbage.error.is_none() {
        bail!("an out-of-scope request leaked ({leaked}) or garbage was accepted ({garbage:?})");
    }
    Ok(json!({
        "unenrolled_refused": format!("{:#}", unenrolled.err().map(|e| e.to_string()).unwrap_or_default()),
        "revoked_refused_at_city": revoked.err().map(|e| e.to_string()),
        "revoked_refused_at_township": revoked_at_township.err().map(|e| e.to_string()),
        "out_of_scope_want_refused": want_refused,
        "out_of_scope_documents_leaked": leaked,
        "garbage_frame": garbage.error,
        "city_cases_before": city_before,
        "city_cases_after_attacks": city_after,
    }))
}
