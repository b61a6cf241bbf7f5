//! The write side: taking in one case at a time and in batches, on a copy of the store.

use super::{BenchArgs, open_node};
use crate::county::{County, People};
use crate::measure::{memory_mib, summarize, time_ms};
use crate::report::{MAX, P50, P50_P90_P99, Report, Target};
use crate::rng::Rng;
use anyhow::{Result, bail};
use serde_json::json;
use std::path::Path;
use yizhan_node::diagnostics::{Checkpoint, Tuning};
use yizhan_node::station::Tier;
use yizhan_node::{Clock, NewCase, Node};

pub(super) fn city_new_case(
    rng: &mut Rng,
    people: &People,
    county: &County,
    node: &Node,
) -> NewCase {
    let items: Vec<_> = node
        .catalog()
        .items()
        .filter(|i| i.tier == Tier::City)
        .cloned()
        .collect();
    let item = rng.pick(&items).clone();
    people.new_case(rng, county, 0, &item)
}

/// Takes in `n` cases one at a time, moving the clock a second each time; returns the
/// timings and the new case ids.
pub(super) fn intake_singles(
    node: &mut Node,
    news: &[NewCase],
    clock: &mut i64,
) -> Result<(Vec<f64>, Vec<String>)> {
    let mut samples = Vec::with_capacity(news.len());
    let mut ids = Vec::with_capacity(news.len());
    for new in news {
        *clock += 1_000;
        node.set_clock(Clock::Fixed(*clock));
        let (r, ms) = time_ms(|| node.new_case(new));
        ids.push(r?.doc.id);
        samples.push(ms);
    }
    Ok((samples, ids))
}

#[allow(clippy::too_many_lines)]
pub(super) fn bench_writes(
    args: &BenchArgs,
    scratch: &Path,
    today_ms: i64,
    county: &County,
    report: &mut Report,
) -> Result<()> {
    let people = People::new();
    let mut rng = Rng::derive(args.seed, 99, 0);
    let mut node = open_node(scratch, today_ms)?;
    let mut clock = today_ms;
    let mut news = |n: usize, node: &Node| -> Vec<NewCase> {
        (0..n)
            .map(|_| city_new_case(&mut rng, &people, county, node))
            .collect()
    };
    // One at a time.
    let singles = news(args.singles.max(1), &node);
    let (samples, ids) = intake_singles(&mut node, &singles, &mut clock)?;
    let slow = samples.iter().filter(|ms| **ms >= 2.0).count();
    report.add(
        "create_one",
        "create-and-commit one case (new_case, one transaction)",
        "ms",
        &samples,
        Some(Target::Below(2.0)),
        P50_P90_P99,
        json!({"calls_at_or_over_2ms": slow}),
    );
    // Diagnostic: the same with SQLite's automatic WAL checkpoints off on this connection. If
    // the slow calls disappear, they are the checkpoints (copying WAL pages back and fsync).
    let singles = news(args.singles.max(1), &node);
    let autockpt = node.diagnostics().tuning(Tuning::WalAutocheckpoint)?;
    node.diagnostics().tune(Tuning::WalAutocheckpoint, 0)?;
    let (samples, _) = intake_singles(&mut node, &singles, &mut clock)?;
    let (ck, ck_ms) = time_ms(|| node.diagnostics().wal_checkpoint(Checkpoint::Passive));
    let wal_pages = ck?.wal_pages;
    node.diagnostics()
        .tune(Tuning::WalAutocheckpoint, autockpt)?;
    report
        .add(
            "create_one_no_autocheckpoint",
            "(diagnostic) create one case, automatic WAL checkpoints off",
            "ms",
            &samples,
            Some(Target::Below(2.0)),
            P50_P90_P99,
            json!({"calls_at_or_over_2ms": samples.iter().filter(|ms| **ms >= 2.0).count(),
                   "then_one_checkpoint_ms": ck_ms, "wal_pages_checkpointed": wal_pages,
                   "node_wal_autocheckpoint": autockpt}),
        )
        .required(false);
    // Acting on one case at a time (accept), for reference.
    let mut acts = Vec::new();
    for id in ids.iter().take(200) {
        clock += 1_000;
        node.set_clock(Clock::Fixed(clock));
        let (r, ms) = time_ms(|| node.act(id, &yizhan_node::case::Action::Accept, "综合受理窗口"));
        r?;
        acts.push(ms);
    }
    report
        .add(
            "act_one",
            "act on one case (accept, one transaction)",
            "ms",
            &acts,
            None,
            P50,
            json!({}),
        )
        .required(false);
    // Batches.
    let mut runs = Vec::new();
    let mut hwm_runs = Vec::new();
    for _ in 0..args.batch_runs.max(1) {
        let batch = news(args.batch, &node);
        clock += 60_000;
        node.set_clock(Clock::Fixed(clock));
        let (r, ms) = time_ms(|| node.new_cases(&batch));
        let n = r?.len();
        if n != args.batch {
            bail!("new_cases returned {n} views for {} cases", args.batch);
        }
        runs.push(ms / 1000.0);
        hwm_runs.push(memory_mib().1);
    }
    report.add(
        "create_batch",
        format!(
            "{} cases in one batch (new_cases, one transaction)",
            args.batch
        ),
        "s",
        &runs,
        Some(Target::Below(5.0)),
        P50,
        json!({"runs_s": runs, "cases_per_s": args.batch as f64 / summarize(&runs).p50,
               "hwm_mib_after_each_run": hwm_runs}),
    );
    let (rss, hwm) = memory_mib();
    report
        .add(
            "memory_write_hwm",
            "resident memory peak (VmHWM), after the writes too",
            "MiB",
            &[hwm],
            Some(Target::Below(500.0)),
            MAX,
            json!({"vm_rss_mib": rss}),
        )
        .required(false);
    if args.check_index {
        let (r, ms) = time_ms(|| -> Result<bool> {
            let before = node.index_dump()?;
            node.reindex()?;
            Ok(before == node.index_dump()?)
        });
        let same = r?;
        report.sections.insert(
            "index_check".into(),
            json!({"rebuilt_index_equals_generated": same, "ms": ms}),
        );
        if !same {
            eprintln!("bench-store: WARNING: the rebuilt index differs from the generated one");
        }
    }
    Ok(())
}
