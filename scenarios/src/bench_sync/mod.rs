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
//!    captured before, in Automerge's encoding; `crate::bounds` for the xz -9 bound beside it) and
//!    their ratio (target ≤ 0.35 since issue #14), messages.
//! 4. **Round trips**: the same kind of catch-up through the sans-I/O `Session` driven in memory
//!    (as `sync/tests/it/session.rs` does), at `--changed`/10 and `--changed` documents, counting
//!    round trips, frames, bytes and handling time per message kind: the round trips must not
//!    grow with the number of documents.
//! 5. **Diagnosis**: the store's floor for the same amount of change without the session, as the
//!    session sends it (whole documents for the cases new to the city, `missing_changes` for the
//!    others, read at the township; `apply_remote` at the city in frames of the session's size),
//!    `--floor-runs` times: the city's apply rate (target 10,000 documents per second, issue #14)
//!    and the process's CPU per document; and the per-document cost of the store calls the
//!    session makes (`heads_of`, `known_heads` loading or cached). `--floor-only` measures the
//!    floor alone on the prepared pair.
//! 6. **Memory**: the process's peak resident memory (VmHWM), both nodes in this process.
//!
//! Each figure is checked against its target and reported PASS or MISS; a miss does not change
//! the exit status (this is a report, not a test).

//! `mod.rs` runs the benchmark in order and judges its figures; [`stores`] prepares the two
//! stores (generated and carried through the first contact, or reused), [`peer`] runs a node on
//! its store thread with its iroh endpoint, [`workload`] makes the township's changes and reads
//! what the nodes hold, [`in_memory`] drives the sans-I/O session and the store's floor without
//! sockets, [`run`] measures the idle reconnects, catch-ups and round trips, [`table`] prints the
//! report, and [`push`] is `--push`'s continuous session.

mod in_memory;
mod peer;
mod push;
mod run;
mod stores;
mod table;
pub(crate) mod workload;

pub(crate) use peer::call;
pub(crate) use stores::{Pair, prepare, snapshot};
pub(crate) use workload::{Intake, heads, make_changes, township_station};

use crate::measure::{memory_mib, summarize};
use crate::report::{Figure, MAX, Target, loadavg, machine, print_report, workspace_git};
use crate::rng::Rng;
use anyhow::{Result, ensure};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;
use yizhan_sync::net::SessionReport;

/// 2026-03-02T09:00:00+08:00, a Monday: the fixed clock of both nodes.
pub(crate) const NOW: i64 = 1_772_413_200_000;
/// The generated stores' sidecar, in `DIR/base`.
const SIDECAR: &str = "bench-sync.json";
/// Bump when the generated stores change shape, so that old ones are not reused.
const FORMAT: u64 = 4;
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
    /// Times the store's floor (section 5) this many times, each with its own changes.
    #[arg(long, default_value_t = 1)]
    pub floor_runs: usize,
    /// Measure only the store's floor (after the first contact, or on reused stores).
    #[arg(long)]
    pub floor_only: bool,
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

/// One session as the report lists it: its wall time and its dialer-side report.
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
        return push::bench_push(args);
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
    let result = run::run(&rt, args, &pair, cases, changed);
    let Pair {
        city,
        town,
        setup,
        reused,
    } = pair;
    city.stop(&rt);
    town.stop(&rt);
    let mut report = result?;

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
            required: true,
            extra: json!({"error": fc["iroh_error"], "timeout_s": fc["iroh_timeout_s"]}),
        },
        Figure {
            id: "first_contact_wall".into(),
            label: format!("first contact, {cases} cases township → city: wall time{how}"),
            unit: "ms",
            summary: summarize(&[fc["wall_ms"].as_f64().unwrap_or(f64::NAN)]),
            target: None,
            judged: MAX,
            required: true,
            extra: json!({"reused_from_generation_run": reused}),
        },
        Figure {
            id: "first_contact_bytes".into(),
            label: format!("first contact, {cases} cases: bytes on the wire{how}"),
            unit: "B",
            summary: summarize(&[fc["bytes"].as_f64().unwrap_or(f64::NAN)]),
            target: None,
            judged: MAX,
            required: true,
            extra: json!({"lower_bound_bytes": fc["lower_bound_bytes"], "ratio": fc["ratio"]}),
        },
    ];
    report.figures.splice(0..0, first);
    let (rss, hwm) = memory_mib();
    report.info(
        "memory_hwm",
        "peak resident memory (VmHWM) of this process: both nodes + iroh",
        "MiB",
        &[hwm],
        json!({"vm_rss_mib_at_end": rss}),
    );
    let out = json!({
        "benchmark": "bench-sync",
        "cases": cases,
        "changed": changed,
        "quick": args.quick,
        "seed": args.seed,
        "machine": machine(&load_before),
        "stores": {"dir": root.display().to_string(), "reused": reused},
        "workspace_git_at_run": workspace_git(&["node", "sync"]),
        "setup": setup,
        "figures": report.figures_json(),
        "missed": report.missed(),
        "sections": report.sections,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let table = table::render_table(&report, &out);
    print_report(args.json, &table, &out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

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
            floor_runs: 1,
            floor_only: false,
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
}
