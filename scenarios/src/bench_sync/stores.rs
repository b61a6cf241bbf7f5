//! The two stores: generated now and carried through the first contact (over iroh, or in memory
//! when that stalls), or reused from `DIR/base` when they match `--cases` and `--seed`.

use super::in_memory::sync_in_memory;
use super::peer::{Peer, call};
use super::workload::{Intake, case_count, create_pair, lower_bound, take_in};
use super::{FORMAT, NOW, SIDECAR, SyncArgs};
use crate::county::County;
use crate::measure::hwm_mib;
use crate::rng::Rng;
use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use yizhan_node::store::STORE_FILE;
use yizhan_node::{Clock, Node, NodeHandle};

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

/// The size of a store on disk, its WAL included, MiB.
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
    pub(super) reused: bool,
}

/// The sidecar kept beside reused stores: how they were generated and their first contact.
fn read_sidecar(base: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(base.join(SIDECAR)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The running pair for a run over `cases` cases in `root`: reused from `root/base` when it
/// matches, or generated now (intake, then the first contact), kept there with `--dir`.
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
            city.settle()?;
            town.settle()?;
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
    town.settle()?;
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
    city.settle()?;
    town.settle()?;
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
