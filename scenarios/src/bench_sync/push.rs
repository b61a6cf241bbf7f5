//! `bench-sync --push`: a continuous session over iroh, the time a township's commit takes to
//! reach the city, and the CPU an idle connected pair uses.

use super::SyncArgs;
use super::peer::{Peer, call};
use super::workload::{Intake, create_pair};
use crate::county::County;
use crate::measure::process_cpu_ms;
use crate::report::{P50, Report, Target, fmt_val, loadavg, machine, print_report, workspace_git};
use crate::rng::Rng;
use anyhow::{Result, anyhow, ensure};
use serde_json::json;
use std::time::{Duration, Instant};
use yizhan_node::NodeHandle;

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
pub(super) fn bench_push(args: &SyncArgs) -> Result<()> {
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
    report.info(
        "idle_cpu",
        format!(
            "idle connected pair: CPU time of this process over {} s",
            args.idle_seconds
        ),
        "ms",
        &[m.idle_cpu_ms],
        json!({"idle_bytes": m.idle_bytes}),
    );
    let out = json!({
        "benchmark": "bench-sync --push",
        "seed": args.seed,
        "machine": machine(&load_before),
        "workspace_git_at_run": workspace_git(&["node", "sync"]),
        "figures": report.figures_json(),
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
    print_report(args.json, &table, &out)
}

/// Whether the city holds a document.
pub(super) async fn holds(h: &NodeHandle, id: &str) -> Result<bool> {
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

/// Waits for the continuous session, times `--push-samples` writes from the township to the
/// city, then the idle pair's CPU time and bytes.
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
