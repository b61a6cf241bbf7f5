//! The measurements on the prepared pair: idle reconnects both ways, catch-ups over iroh, round
//! trips of the in-memory session at two sizes, and the store's floor.

use super::in_memory::{probe_costs, store_floor, sync_in_memory};
use super::peer::call;
use super::stores::Pair;
use super::workload::{Intake, case_count, differing, heads, lower_bound, make_changes};
use super::{SyncArgs, sample_json};
use crate::measure::{hwm_mib, process_cpu_ms};
use crate::report::{MAX, P50, P50_P90, Report, Target};
use crate::rng::Rng;
use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Measures the prepared pair in order and returns the figures with their sections of detail.
#[allow(clippy::too_many_lines)]
pub(super) fn run(
    rt: &Runtime,
    args: &SyncArgs,
    pair: &Pair,
    cases: usize,
    changed: usize,
) -> Result<Report> {
    let (city, town) = (&pair.city, &pair.town);
    let mut report = Report::default();
    let pass = Duration::from_secs(600);
    if args.floor_only {
        let intake = call(&town.handle, |n| Ok(Intake::new(n)))?.map_err(|e| anyhow!("{e}"))?;
        let mut rng = Rng::derive(args.seed, 3, 0);
        floor(args, pair, &intake, &mut rng, changed, &mut report)?;
        return Ok(report);
    }

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
    report
        .sections
        .insert("idle_samples".into(), json!(samples));
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
    report
        .sections
        .insert("idle_in_memory".into(), serde_json::to_value(&idle_mem)?);

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
        // The township's changes were a burst: its idle work (the keys' merge, the WAL
        // checkpoint) runs now rather than during the sync, and the city's from the last one.
        town.settle()?;
        city.settle()?;
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
        P50,
        json!({"process_cpu_ms": cpus}),
    );
    report.info(
        "catchup_cpu",
        "  catch-up: CPU time of this process (both nodes) during the sync",
        "ms",
        &cpus,
        json!({}),
    );
    report.info(
        "catchup_bytes",
        "catch-up: bytes on the wire (in + out)",
        "B",
        &byte_samples,
        json!({}),
    );
    report.info(
        "catchup_lower_bound",
        "catch-up: Automerge encoding of the changes the city lacked",
        "B",
        &lbs,
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
    report.info(
        "catchup_msgs",
        "catch-up: messages (frames) in + out, dialer's SessionReport",
        "msgs",
        &msgs,
        json!({}),
    );
    report.sections.insert("catch_up".into(), json!(runs));
    report.sections.insert(
        "probe_city".into(),
        probe_costs(&city.handle, &ids).context("probing the city's store")?,
    );
    // Idle again after the catch-up.
    let mut after = Vec::new();
    for _ in 0..3 {
        let (r, wall) = town.sync_to(rt, city, pass)?;
        after.push(sample_json(&r, wall));
    }
    report
        .sections
        .insert("idle_after_catch_up".into(), json!(after));

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
    report.sections.insert("in_memory".into(), json!(mem));
    floor(args, pair, &intake, &mut rng, changed, &mut report)?;
    Ok(report)
}

/// The same amount of change applied without the session, `--floor-runs` times: what the stores
/// alone cost, and the city's apply rate judged against issue #14's 10,000 documents per second.
fn floor(
    args: &SyncArgs,
    pair: &Pair,
    intake: &Intake,
    rng: &mut Rng,
    changed: usize,
    report: &mut Report,
) -> Result<()> {
    let (city, town) = (&pair.city, &pair.town);
    let (new, acted) = (changed / 2, changed - changed / 2);
    let (mut reads, mut applies, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut as_changes, mut whole, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..args.floor_runs.max(1) {
        eprintln!(
            "bench-sync: store floor {} for {changed} docs (no session)",
            run + 1
        );
        let w = make_changes(&town.handle, intake, rng, new, acted, args.batch)?;
        let ids = w.all_ids();
        // As before a catch-up: the burst's idle work is not the floor's.
        town.settle()?;
        city.settle()?;
        let f = store_floor(&town.handle, &city.handle, &ids)?;
        let n = f.changed;
        ensure!(
            n == ids.len(),
            "the floor changed {n} of {} documents",
            ids.len()
        );
        ensure!(
            differing(&town.handle, &city.handle, &ids)? == 0,
            "the floor did not converge"
        );
        reads.push(f.read_ms);
        applies.push(f.apply_ms);
        cpus.push(f.apply_cpu_ms / n as f64 * 1e3);
        as_changes.push(f.changes_ms);
        whole.push(f.whole_ms);
        rates.push(n as f64 / (f.apply_ms / 1e3));
    }
    report.info(
        "store_floor",
        format!("store floor, {changed} docs, no session: read at township + apply_remote at city"),
        "ms",
        &reads
            .iter()
            .zip(&applies)
            .map(|(r, a)| r + a)
            .collect::<Vec<_>>(),
        json!({"read_ms": reads, "apply_remote_ms": applies}),
    );
    report.add(
        "apply_rate",
        format!(
            "  city's apply_remote of {changed} docs ({new} new, whole + {acted} as changes): rate"
        ),
        "docs/s",
        &rates,
        Some(Target::AtLeast(10_000.0)),
        P50,
        json!({}),
    );
    report.info(
        "apply_cpu",
        "  city's apply_remote: CPU time of the process per document",
        "µs",
        &cpus,
        json!({}),
    );
    report.sections.insert(
        "store_floor".into(),
        json!({"docs": changed, "read_ms": reads, "apply_remote_ms": applies,
               "as_changes_ms": as_changes, "whole_ms": whole}),
    );
    Ok(())
}
