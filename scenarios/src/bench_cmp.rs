//! `bench`: Yizhan's sync side by side with a per-document peer and with the lower bound, on the
//! same data and the same links (issue #5).
//!
//! The three contenders, each measured on the same Automerge documents:
//! - **Yizhan**: the real `yizhan serve` (city) and `yizhan sync` (township) processes;
//! - **samod**, the Rust automerge-repo, over iroh (`yizhan-scenarios samod-peer`, see
//!   [`crate::samod_peer`]): the documents exported from the Yizhan stores into samod's own
//!   filesystem storage, the township opening every document it holds and syncing each one the
//!   way automerge-repo does;
//! - **the bounds** ([`crate::bounds`]): the changes the receiver lacks in Automerge's own
//!   encoding (each change compressed on its own: what a per-document peer sends, and Yizhan
//!   before issue #14), and the lower bound, the same changes uncompressed and compressed
//!   together by `xz -9`.
//!
//! Workloads (sizes are arguments):
//! 1. *idle reconnect*: city and township share `--cases` cases, nothing new;
//! 2. *catch-up*: the township changed `--changed` cases while offline (half new, half acted
//!    on), out of `--cases`;
//! 3. *first contact*: a new node of a township (enrolled at the city, empty store) fetches the
//!    `--first` cases in its scope.
//!
//! Links: `loopback` (both processes on 127.0.0.1) and `poor` (each process in its own network
//! namespace behind the userspace relay of [`crate::link`]: 300 ms RTT, 5 % loss, 64 kbit/s up
//! and 256 kbit/s down, as in the `poor-link` scenario; needs root). A run that does not finish
//! within `--cap` seconds is reported as given up, with its progress, and its ratio as a bound.
//!
//! Figures per run: wall time (Yizhan: the session's own time; samod: from dialing until every
//! document is in sync), bytes both ways at the application (frames with their headers),
//! messages, the peak memory of both processes, and on the poor link the relay's counters.
//! The data sets are generated once into `--dir` and reused; every run works on copies.

use crate::bench_sync::{self, SyncArgs};
use crate::rng::Rng;
use crate::samod_peer;
use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use yizhan_node::{Clock, Node};

/// The port the city listens on inside its namespace.
mod runs;

use runs::{Net, workloads};

const CITY_PORT: u16 = 7100;
/// Bump when the prepared data sets change shape.
const FORMAT: u64 = 3;

/// Which links to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Links {
    /// Both processes on 127.0.0.1.
    Loopback,
    /// Network namespaces behind the relay: 300 ms RTT, 5 % loss, 64/256 kbit/s.
    Poor,
    /// Loopback, then poor.
    Both,
}

/// Arguments of `bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct CmpArgs {
    /// Where the data sets are generated and kept (several GB at the default sizes).
    #[arg(long)]
    pub dir: PathBuf,
    /// Cases both sides share (idle reconnect, catch-up) [default: 100000; 10000 with --quick].
    #[arg(long)]
    pub cases: Option<usize>,
    /// Cases changed at the township while offline [default: 5000; 500 with --quick].
    #[arg(long)]
    pub changed: Option<usize>,
    /// Cases in a new township node's scope (first contact) [default: 20000; 2000 with --quick].
    #[arg(long)]
    pub first: Option<usize>,
    /// Sizes divided by 10 for the poor link (a 64 kbit/s uplink moves about 28 MB an hour).
    #[arg(long)]
    pub poor_tenth: bool,
    /// Small sizes (10,000 / 500 / 2,000).
    #[arg(long)]
    pub quick: bool,
    /// Links to run on.
    #[arg(long, value_enum, default_value = "both")]
    pub link: Links,
    /// Give a run up after this many seconds (its ratio is then a bound).
    #[arg(long, default_value_t = 1800)]
    pub cap: u64,
    /// Seed of the generated cases and of the relay.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the JSON report on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Run Yizhan only (samod's columns stay empty): a Yizhan change measured against samod
    /// figures of an earlier run on the same seeded data set.
    #[arg(long)]
    pub no_samod: bool,
}

/// Sizes of one data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sizes {
    cases: usize,
    changed: usize,
    first: usize,
}

impl Sizes {
    fn name(&self, seed: u64) -> String {
        format!("set-{}-{}-{}-s{seed}", self.cases, self.changed, self.first)
    }
}

/// A prepared data set: Yizhan stores and samod storages for the three workloads.
#[derive(Debug)]
struct DataSet {
    root: PathBuf,
    sizes: Sizes,
    /// Automerge encodings in bytes: catch-up and first contact.
    lb_catchup: u64,
    lb_first: u64,
    /// Lower bounds (xz -9) in bytes, if `xz` ran: catch-up and first contact.
    xz_catchup: Option<u64>,
    xz_first: Option<u64>,
}

impl DataSet {
    fn y(&self, name: &str) -> PathBuf {
        self.root.join("yizhan").join(name)
    }
    fn s(&self, name: &str) -> PathBuf {
        self.root.join("samod").join(format!("{name}.pack"))
    }
    fn ids(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.ids"))
    }
}

/// bench-sync's city and township sharing `cases` cases, kept in `dir` and reused when there.
fn prepare_pair(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    cases: usize,
    seed: u64,
) -> Result<bench_sync::Pair> {
    let mut rng = Rng::new(seed);
    bench_sync::prepare(rt, &sync_args(dir, cases, seed), dir, cases, &mut rng)
}

fn sync_args(dir: &Path, cases: usize, seed: u64) -> SyncArgs {
    SyncArgs {
        cases: Some(cases),
        changed: None,
        quick: false,
        json: false,
        dir: Some(dir.to_path_buf()),
        regenerate: true,
        seed,
        idle_runs: 0,
        catchup_runs: 0,
        first_contact_timeout: 600,
        batch: 5_000,
        floor_runs: 0,
        floor_only: false,
        push: false,
        push_samples: 0,
        idle_seconds: 0,
    }
}

fn cp(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .context("cannot run cp")?;
    ensure!(
        st.success(),
        "cp -a {} {} failed",
        from.display(),
        to.display()
    );
    Ok(())
}

fn write_ids(path: &Path, yizhan_ids: &[String]) -> Result<()> {
    let mut text = String::with_capacity(yizhan_ids.len() * 32);
    for id in yizhan_ids {
        text.push_str(&samod_peer::samod_id(id)?.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn case_ids(store: &Path) -> Result<Vec<String>> {
    let conn = crate::measure::read_store(store)?;
    let mut stmt =
        conn.prepare("SELECT doc_id FROM docs WHERE doc_type = 'case' ORDER BY doc_id")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(ids)
}

/// Generates (or reuses) the data set of `sizes` under `dir`.
fn data_set(dir: &Path, sizes: Sizes, seed: u64) -> Result<DataSet> {
    let root = dir.join(sizes.name(seed));
    let sidecar = root.join("set.json");
    if let Ok(text) = std::fs::read_to_string(&sidecar)
        && let Ok(v) = serde_json::from_str::<Value>(&text)
        && v["format"].as_u64() == Some(FORMAT)
    {
        eprintln!("bench: reusing the data set in {}", root.display());
        return Ok(DataSet {
            root,
            sizes,
            lb_catchup: v["lb_catchup"].as_u64().unwrap_or(0),
            lb_first: v["lb_first"].as_u64().unwrap_or(0),
            xz_catchup: v["xz_catchup"].as_u64(),
            xz_first: v["xz_first"].as_u64(),
        });
    }
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(root.join("yizhan"))?;
    std::fs::create_dir_all(root.join("samod"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("yz-bench-prep")
        .enable_all()
        .build()?;
    let set = DataSet {
        root,
        sizes,
        lb_catchup: 0,
        lb_first: 0,
        xz_catchup: None,
        xz_first: None,
    };

    // Idle and catch-up: a city and a township sharing `cases` cases (bench-sync's stores, kept
    // in DIR/shared-N and reused by later data sets of the same size).
    let shared = dir.join(format!("shared-{}-s{seed}", sizes.cases));
    let pair = prepare_pair(&rt, &shared, sizes.cases, seed)?;
    let base = shared.join("base");
    cp(&base.join("city"), &set.y("city"))?;
    cp(&base.join("township"), &set.y("township"))?;
    eprintln!("bench: the township changes {} cases", sizes.changed);
    let intake = bench_sync::call(&pair.town.handle, |n| {
        Ok(bench_sync::Intake::new(n).map_err(|e| e.to_string()))
    })?
    .map_err(|e| anyhow!(e))?;
    let mut change_rng = Rng::new(seed ^ 0x5eed);
    let half = sizes.changed / 2;
    let work = bench_sync::make_changes(
        &pair.town.handle,
        &intake,
        &mut change_rng,
        sizes.changed - half,
        half,
        5_000,
    )?;
    let ids = work.all_ids();
    let city_heads = bench_sync::heads(&pair.city.handle, &ids)?;
    let catchup = crate::bounds::bounds(&pair.town.handle, &ids, &city_heads, true)?;
    let (lb_catchup, xz_catchup) = (catchup.encoded, catchup.xz);
    bench_sync::snapshot(
        &pair.town.handle,
        &shared.join("work").join("township"),
        &set.y("township-changed"),
    )?;
    pair.city.stop(&rt);
    pair.town.stop(&rt);

    // First contact: a city holding `first` cases of township T01, and a new T01 node.
    let fc = dir.join(format!("shared-{}-s{seed}", sizes.first));
    let pair = prepare_pair(&rt, &fc, sizes.first, seed)?;
    // The lower bound of the first contact: every change of every case the city holds (the
    // city's documents carry its own changes beside the township's, so the township's first
    // contact figure would undercount).
    let fc_cases = case_ids(&fc.join("work").join("city"))?;
    let none = vec![None; fc_cases.len()];
    let first = crate::bounds::bounds(&pair.city.handle, &fc_cases, &none, true)?;
    let (lb_first, xz_first) = (first.encoded as u64, first.xz);
    let county = crate::county::County::new();
    let (_, station) = bench_sync::township_station(&county)?;
    let invite = bench_sync::call(&pair.city.handle, move |n| n.invite(station, 7))?;
    let secret = yizhan_node::enrol::generate_secret()?;
    let joiner = yizhan_node::enrol::node_id_of(&secret);
    let inv_secret = invite.secret.clone();
    let enrolment = bench_sync::call(&pair.city.handle, move |n| {
        n.redeem_invite(&inv_secret, &joiner)
    })?;
    bench_sync::snapshot(
        &pair.city.handle,
        &fc.join("work").join("city"),
        &set.y("fc-city"),
    )?;
    drop(Node::join(
        &set.y("fc-new"),
        Clock::Fixed(bench_sync::NOW),
        &secret,
        &invite.network_id,
        &invite.root_key,
        &enrolment,
    )?);
    pair.city.stop(&rt);
    pair.town.stop(&rt);
    drop(rt);

    // The same documents for samod.
    let t = Instant::now();
    let all = case_ids(&set.y("city"))?;
    ensure!(
        all.len() == sizes.cases,
        "the city holds {} cases, not {}",
        all.len(),
        sizes.cases
    );
    for (store, pack) in [
        ("city", "city"),
        ("township", "township"),
        ("township-changed", "township-changed"),
        ("fc-city", "fc-city"),
    ] {
        let n = samod_peer::export(&set.y(store), &set.s(pack))?;
        eprintln!("bench: {n} documents of {store} exported for samod");
    }
    let fc_ids = case_ids(&set.y("fc-city"))?;
    write_ids(&set.ids("shared"), &all)?;
    write_ids(&set.ids("changed"), &case_ids(&set.y("township-changed"))?)?;
    write_ids(&set.ids("first"), &fc_ids)?;
    eprintln!(
        "bench: exported the documents to samod's storage in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    std::fs::write(
        &sidecar,
        serde_json::to_string_pretty(&json!({
            "format": FORMAT, "cases": sizes.cases, "changed": sizes.changed,
            "first": sizes.first, "seed": seed, "lb_catchup": lb_catchup, "lb_first": lb_first,
            "xz_catchup": xz_catchup, "xz_first": xz_first,
        }))?,
    )?;
    Ok(DataSet {
        lb_catchup: lb_catchup as u64,
        lb_first,
        xz_catchup: xz_catchup.map(|x| x as u64),
        xz_first: xz_first.map(|x| x as u64),
        ..set
    })
}

// ---------------------------------------------------------------------------------------------
// Where the processes run.

/// How a number is shown from a threshold on: (threshold, divisor, decimals, unit).
type Scale = (f64, f64, usize, &'static str);

/// Milliseconds: whole seconds from 10 s, tenths of a second from 1 s.
const MS: &[Scale] = &[
    (10_000.0, 1e3, 0, "s"),
    (1_000.0, 1e3, 1, "s"),
    (f64::NEG_INFINITY, 1.0, 1, "ms"),
];

/// Bytes: tenths of a MiB from 1 MiB, whole KiB from 10 KiB.
const BYTES: &[Scale] = &[
    (1_048_576.0, 1_048_576.0, 1, "MiB"),
    (10_240.0, 1024.0, 0, "KiB"),
    (f64::NEG_INFINITY, 1.0, 0, "B"),
];

/// `v` in the first of `scales` whose threshold it reaches (the last for anything smaller, or
/// NaN); "—" where it is not a number.
fn fmt_scaled(scales: &[Scale], v: &Value) -> String {
    let Some(x) = v.as_f64() else {
        return "—".into();
    };
    let (_, divisor, decimals, unit) = scales
        .iter()
        .find(|(from, ..)| x >= *from)
        .or(scales.last())
        .expect("at least one scale");
    format!("{:.*} {unit}", decimals, x / divisor)
}

fn fmt_ratio(v: &Value, bound: bool) -> String {
    match v.as_f64() {
        Some(r) if r > 0.0 => {
            let inv = 1.0 / r;
            if bound {
                format!("< 1/{inv:.0}")
            } else if inv >= 10.0 {
                format!("1/{inv:.0}")
            } else {
                format!("{r:.3}")
            }
        }
        _ => "—".into(),
    }
}

fn render(rows: &[Value]) -> String {
    let mut s = String::from(
        "| link | workload | Yizhan time | samod time | Yizhan / samod (time) | Yizhan bytes | samod bytes | Automerge encoding | lower bound (xz -9) | Yizhan / samod (bytes) | Yizhan ÷ Automerge encoding | Yizhan ÷ lower bound | messages Yizhan / samod | round trips Yizhan (dialer) | peak MiB Yizhan (dialer, server) | peak MiB samod (dialer, server) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (y, sm) = (&r["yizhan"], &r["samod"]);
        let gave_up = sm["gave_up"] == true;
        let mark = |v: &Value| {
            if v["skipped"] == true {
                " (not run: --no-samod)"
            } else if v["gave_up"] == true {
                " (gave up)"
            } else if v["ok"] != true {
                " (FAILED)"
            } else {
                ""
            }
        };
        s.push_str(&format!(
            "| {} | {} | {}{} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {:.0}, {:.0} | {:.0}, {:.0} |\n",
            r["link"].as_str().unwrap_or(""),
            r["label"].as_str().unwrap_or(""),
            fmt_scaled(MS, &y["ms"]), mark(y),
            match (gave_up, sm["gave_up_while"].as_str()) {
                (true, Some("opening")) => format!(
                    "not reached: opening {} of {} documents took > {}",
                    sm["docs_opened"], sm["docs"], fmt_scaled(MS, &sm["ms"])
                ),
                (true, _) => format!("> {}", fmt_scaled(MS, &sm["ms"])),
                _ => fmt_scaled(MS, &sm["ms"]),
            },
            mark(sm),
            fmt_ratio(&r["time_yizhan_over_samod"], gave_up),
            fmt_scaled(BYTES, &y["bytes"]),
            fmt_scaled(BYTES, &sm["bytes"]),
            fmt_scaled(BYTES, &r["encoded_bytes"]),
            fmt_scaled(BYTES, &r["lower_bound_bytes"]),
            fmt_ratio(&r["bytes_yizhan_over_samod"], gave_up),
            r["bytes_yizhan_over_encoded"].as_f64().map_or("—".into(), |v| format!("{v:.3}")),
            r["bytes_yizhan_over_lower_bound"].as_f64().map_or("—".into(), |v| format!("{v:.2}")),
            y["msgs"], sm["msgs"],
            y["round_trips"],
            y["hwm_mib_dialer"].as_f64().unwrap_or(0.0), y["hwm_mib_server"].as_f64().unwrap_or(0.0),
            sm["hwm_mib_dialer"].as_f64().unwrap_or(0.0), sm["hwm_mib_server"].as_f64().unwrap_or(0.0),
        ));
    }
    s
}

/// `bench`.
pub fn bench(args: &CmpArgs) -> Result<()> {
    let full = Sizes {
        cases: args
            .cases
            .unwrap_or(if args.quick { 10_000 } else { 100_000 }),
        changed: args.changed.unwrap_or(if args.quick { 500 } else { 5_000 }),
        first: args
            .first
            .unwrap_or(if args.quick { 2_000 } else { 20_000 }),
    };
    ensure!(
        full.changed >= 2 && full.changed / 2 <= full.cases && full.first >= 1,
        "sizes out of range: {full:?}"
    );
    std::fs::create_dir_all(&args.dir)?;
    let scratch = args.dir.join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let started = Instant::now();
    let mut rows = Vec::new();
    if matches!(args.link, Links::Loopback | Links::Both) {
        let set = data_set(&args.dir, full, args.seed)?;
        rows.extend(workloads(
            &Net::Loopback,
            &set,
            &scratch,
            args.cap,
            !args.no_samod,
        )?);
    }
    if matches!(args.link, Links::Poor | Links::Both) {
        let sizes = if args.poor_tenth {
            Sizes {
                cases: (full.cases / 10).max(10),
                changed: (full.changed / 10).max(2),
                first: (full.first / 10).max(1),
            }
        } else {
            full
        };
        let set = data_set(&args.dir, sizes, args.seed)?;
        let net = Net::poor(args.seed)?;
        rows.extend(workloads(&net, &set, &scratch, args.cap, !args.no_samod)?);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let table = render(&rows);
    let report = json!({
        "benchmark": "bench (Yizhan vs samod vs lower bound)",
        "seed": args.seed,
        "cap_s": args.cap,
        "seconds": started.elapsed().as_secs_f64(),
        "rows": rows,
    });
    crate::report::print_report(args.json, &format!("{table}\n"), &report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_are_shown_in_the_largest_unit_they_reach() {
        for (ms, shown) in [(12_345.0, "12 s"), (1_234.0, "1.2 s"), (12.34, "12.3 ms")] {
            assert_eq!(fmt_scaled(MS, &json!(ms)), shown);
        }
        for (bytes, shown) in [(2_097_152, "2.0 MiB"), (20_480, "20 KiB"), (512, "512 B")] {
            assert_eq!(fmt_scaled(BYTES, &json!(bytes)), shown);
        }
        assert_eq!(fmt_scaled(MS, &Value::Null), "—");
    }
}
