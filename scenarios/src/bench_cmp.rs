//! `bench`: Yizhan's sync side by side with a per-document peer and with the lower bound, on the
//! same data and the same links (issue #5).
//!
//! The three contenders, each measured on the same Automerge documents:
//! - **Yizhan**: the real `yizhan serve` (city) and `yizhan sync` (township) processes;
//! - **samod**, the Rust automerge-repo, over iroh (`yizhan-scenarios samod-peer`, see
//!   [`crate::samod_peer`]): the documents exported from the Yizhan stores into samod's own
//!   filesystem storage, the township opening every document it holds and syncing each one the
//!   way automerge-repo does;
//! - **the lower bound**: the encoded size of the changes the receiver lacks.
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
use crate::link::{Lab, LabLink, LinkCounters, LinkSpec};
use crate::rng::Rng;
use crate::samod_peer;
use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use yizhan_node::{Clock, Node};

/// The port the city listens on inside its namespace.
const CITY_PORT: u16 = 7100;
/// Bump when the prepared data sets change shape.
const FORMAT: u64 = 2;

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
    /// Lower bounds in bytes: catch-up and first contact.
    lb_catchup: u64,
    lb_first: u64,
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
    let conn = rusqlite::Connection::open_with_flags(
        store.join(yizhan_node::store::STORE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
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
    let (lb_catchup, _) = bench_sync::lower_bound(&pair.town.handle, &ids, &city_heads)?;
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
    let (lb_first, _) = bench_sync::lower_bound(&pair.city.handle, &fc_cases, &none)?;
    let lb_first = lb_first as u64;
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
        }))?,
    )?;
    Ok(DataSet {
        lb_catchup: lb_catchup as u64,
        lb_first,
        ..set
    })
}

// ---------------------------------------------------------------------------------------------
// Where the processes run.

/// The link the two processes talk over.
enum Net {
    Loopback,
    Poor { lab: Lab, link: LabLink },
}

impl Net {
    fn poor(seed: u64) -> Result<Net> {
        let lab = Lab::new(2)?;
        let link = lab.link(0, Some(CITY_PORT), 1, None, LinkSpec::poor(), seed)?;
        Ok(Net::Poor { lab, link })
    }

    fn name(&self) -> &'static str {
        match self {
            Net::Loopback => "loopback",
            Net::Poor { .. } => "poor",
        }
    }

    /// Starts `cmd` on side `n` (0 the city, 1 the township), stdout piped.
    fn spawn(&self, n: usize, cmd: &Command) -> Result<Child> {
        match self {
            Net::Loopback => {
                let mut c = Command::new(cmd.get_program());
                c.args(cmd.get_args())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit());
                c.spawn().with_context(|| format!("cannot start {cmd:?}"))
            }
            Net::Poor { lab, .. } => lab.spawn(n, cmd),
        }
    }

    fn listen(&self) -> String {
        match self {
            Net::Loopback => "127.0.0.1:0".into(),
            Net::Poor { .. } => format!("0.0.0.0:{CITY_PORT}"),
        }
    }

    /// What the township dials to reach the city listening on `port`.
    fn city_addr(&self, port: u16) -> SocketAddr {
        match self {
            Net::Loopback => SocketAddr::from(([127, 0, 0, 1], port)),
            Net::Poor { link, .. } => link.b_dials,
        }
    }

    fn counters(&self) -> Option<LinkCounters> {
        match self {
            Net::Loopback => None,
            Net::Poor { link, .. } => Some(link.control.counters()),
        }
    }
}

fn relay_json(before: Option<LinkCounters>, after: Option<LinkCounters>) -> Value {
    match (before, after) {
        (Some(b), Some(a)) => json!({
            "up_forwarded_bytes": a.b_to_a.forwarded_bytes - b.b_to_a.forwarded_bytes,
            "down_forwarded_bytes": a.a_to_b.forwarded_bytes - b.a_to_b.forwarded_bytes,
            "up_lost_packets": a.b_to_a.lost_packets - b.b_to_a.lost_packets,
            "down_lost_packets": a.a_to_b.lost_packets - b.a_to_b.lost_packets,
        }),
        _ => Value::Null,
    }
}

fn proc_hwm_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// Reads JSON lines from a child until one has `"event": event`.
fn wait_event(out: &mut impl BufRead, events: &[&str]) -> Result<Value> {
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line)? == 0 {
            bail!("the process ended before printing {events:?}");
        }
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v["event"].as_str().is_some_and(|e| events.contains(&e))
        {
            return Ok(v);
        }
    }
}

/// Waits for a child to exit, killing it at `cap`, while sampling its peak resident memory
/// (VmHWM, which only grows) every few milliseconds: its exit status, the last peak read in MiB
/// (a child that lives only milliseconds may show less than it used), and whether it was given
/// up. The workspace forbids `unsafe`, so `wait4`'s `ru_maxrss` is out of reach.
fn wait_peak(child: &mut Child, cap: Duration) -> Result<(std::process::ExitStatus, f64, bool)> {
    let started = Instant::now();
    let mut hwm = 0.0f64;
    loop {
        if let Some(h) = proc_hwm_mib(child.id()) {
            hwm = hwm.max(h);
        }
        if let Some(st) = child.try_wait()? {
            return Ok((st, hwm, false));
        }
        if started.elapsed() > cap {
            let _ = child.kill();
            let st = child.wait()?;
            return Ok((st, hwm, true));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------------
// One run of each contender.

fn yizhan_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the executable has no directory")?;
    let mut candidates = vec![dir.join("yizhan")];
    if let Some(parent) = dir.parent() {
        candidates.push(parent.join("yizhan"));
    }
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        anyhow!(
            "no yizhan binary beside {}: build it first (cargo build --release -p yizhan)",
            exe.display()
        )
    })
}

fn yz(yizhan: &Path, data: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(yizhan)
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .output()?;
    ensure!(
        out.status.success(),
        "yizhan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// One Yizhan sync: `serve` on the city's copy, `sync` from the township's copy.
fn run_yizhan(net: &Net, scratch: &Path, city: &Path, town: &Path, cap: u64) -> Result<Value> {
    let yizhan = yizhan_bin()?;
    let (c, t) = (scratch.join("y-city"), scratch.join("y-town"));
    cp(city, &c)?;
    cp(town, &t)?;
    let mut serve = net.spawn(
        0,
        Command::new(&yizhan).arg("--data").arg(&c).args([
            "--json",
            "serve",
            "--listen",
            &net.listen(),
        ]),
    )?;
    let result = (|| -> Result<Value> {
        let mut out = BufReader::new(serve.stdout.take().context("serve without stdout")?);
        let listening = wait_event(&mut out, &["listening"])?;
        let city_id = listening["node_id"]
            .as_str()
            .context("no node id")?
            .to_string();
        let port = listening["addr"]
            .as_str()
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .map(|a| a.port())
            .unwrap_or(CITY_PORT);
        std::thread::spawn(move || for _ in out.lines() {});
        yz(
            &yizhan,
            &t,
            &["peer", "add", &city_id, &net.city_addr(port).to_string()],
        )?;
        let before = net.counters();
        let started = Instant::now();
        let mut sync = net.spawn(
            1,
            Command::new(&yizhan).arg("--data").arg(&t).args([
                "--json",
                "sync",
                "--timeout",
                &cap.to_string(),
            ]),
        )?;
        let mut sout = sync.stdout.take().context("sync without stdout")?;
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut sout, &mut s);
            s
        });
        let (status, hwm, gave_up) = wait_peak(&mut sync, Duration::from_secs(cap + 30))?;
        let wall = started.elapsed().as_secs_f64() * 1e3;
        let text = reader.join().map_err(|_| anyhow!("reader panicked"))?;
        let after = net.counters();
        let server_hwm = proc_hwm_mib(serve.id()).unwrap_or(0.0);
        let summary: Value = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v.get("peers").is_some())
            .unwrap_or(Value::Null);
        let peer = &summary["peers"][0];
        let ok = status.success() && !gave_up && peer["error"].is_null();
        let bytes =
            peer["bytes_in"].as_u64().unwrap_or(0) + peer["bytes_out"].as_u64().unwrap_or(0);
        Ok(json!({
            "ok": ok,
            "gave_up": gave_up || peer["error"].as_str().is_some_and(|e| e.contains("timed out")),
            "error": peer["error"],
            "ms": peer["ms"].as_f64().unwrap_or(wall),
            "process_ms": wall,
            "bytes": bytes,
            "bytes_in": peer["bytes_in"], "bytes_out": peer["bytes_out"],
            "msgs": peer["msgs_in"].as_u64().unwrap_or(0) + peer["msgs_out"].as_u64().unwrap_or(0),
            // The dialer's count: answers it waited for (see `SessionStats::round_trips`).
            "round_trips": peer["round_trips"],
            "docs_in": peer["docs_in"], "docs_out": peer["docs_out"],
            "hwm_mib_dialer": hwm, "hwm_mib_server": server_hwm,
            "relay": relay_json(before, after),
        }))
    })();
    terminate(&mut serve);
    let _ = serve.wait();
    let mut v = result?;
    // Check what the session claims: the stores agree afterwards.
    let verified = verify(&c, &t)?;
    v["verified"] = json!(verified);
    if !verified {
        v["ok"] = json!(false);
    }
    Ok(v)
}

/// Whether two stores now hold the same case documents with the same heads.
fn verify(a: &Path, b: &Path) -> Result<bool> {
    let heads = |p: &Path| -> Result<Vec<(String, Vec<u8>)>> {
        let conn = rusqlite::Connection::open_with_flags(
            p.join(yizhan_node::store::STORE_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let mut stmt =
            conn.prepare("SELECT doc_id, heads FROM docs WHERE doc_type = 'case' ORDER BY doc_id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    };
    Ok(heads(a)? == heads(b)?)
}

/// One samod sync: a serving peer on the city's storage, a dialing peer on the township's.
fn run_samod(
    net: &Net,
    city: &Path,
    town: &Path,
    ids: &Path,
    fetch: bool,
    cap: u64,
) -> Result<Value> {
    let me = std::env::current_exe()?;
    let mut serve = net.spawn(
        0,
        Command::new(&me)
            .args(["samod-peer", "--pack"])
            .arg(city)
            .args(["--listen", &net.listen()]),
    )?;
    let mut out = BufReader::new(serve.stdout.take().context("samod server without stdout")?);
    let result = (|| -> Result<(Value, Value, Option<LinkCounters>, Option<LinkCounters>)> {
        let listening = wait_event(&mut out, &["listening"])?;
        let node_id = listening["node_id"]
            .as_str()
            .context("no node id")?
            .to_string();
        let port = listening["port"].as_u64().unwrap_or(u64::from(CITY_PORT)) as u16;
        let mut cmd = Command::new(&me);
        cmd.arg("samod-peer");
        if !fetch {
            cmd.arg("--pack").arg(town);
        }
        cmd.args([
            "--dial",
            &node_id,
            "--addr",
            &net.city_addr(port).to_string(),
            "--docs",
        ])
        .arg(ids)
        .args(["--timeout", &cap.to_string()]);
        if fetch {
            cmd.arg("--fetch");
        }
        let mut dial = net.spawn(1, &cmd)?;
        let mut dout = BufReader::new(dial.stdout.take().context("samod dialer without stdout")?);
        let opened = wait_event(&mut dout, &["opened", "gave_up"])?;
        if opened["event"] == "gave_up" {
            let _ = dial.wait();
            return Ok((opened.clone(), opened, None, None));
        }
        let before = net.counters();
        let done = wait_event(&mut dout, &["synced", "failed", "gave_up"])?;
        let after = net.counters();
        let _ = dial.wait();
        Ok((opened, done, before, after))
    })();
    terminate(&mut serve);
    let stopped = wait_event(&mut out, &["stopped"]).unwrap_or(Value::Null);
    let _ = serve.wait();
    let (opened, done, before, after) = result?;
    let bytes = done["bytes_in"].as_u64().unwrap_or(0) + done["bytes_out"].as_u64().unwrap_or(0);
    Ok(json!({
        "ok": done["event"] == "synced",
        "gave_up": done["event"] == "gave_up",
        "gave_up_while": done["phase"],
        "docs": done["docs"], "docs_done": done["docs_done"], "docs_opened": done["docs_opened"],
        "ms": done["ms"],
        "open_ms": opened["ms"],
        "bytes": bytes,
        "bytes_in": done["bytes_in"], "bytes_out": done["bytes_out"],
        "msgs": done["frames_in"].as_u64().unwrap_or(0) + done["frames_out"].as_u64().unwrap_or(0),
        "hwm_mib_dialer": done["hwm_mib"], "hwm_mib_server": stopped["hwm_mib"],
        "relay": relay_json(before, after),
    }))
}

// ---------------------------------------------------------------------------------------------
// The benchmark.

fn ratio(a: &Value, b: &Value, key: &str) -> Value {
    match (a[key].as_f64(), b[key].as_f64()) {
        (Some(x), Some(y)) if y > 0.0 => json!(x / y),
        _ => Value::Null,
    }
}

fn workloads(net: &Net, set: &DataSet, scratch: &Path, cap: u64) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    let sz = set.sizes;
    let plan: [(&str, String, &str, &str, &str, bool, u64); 3] = [
        (
            "idle",
            format!("idle reconnect, {} shared cases", sz.cases),
            "city",
            "township",
            "shared",
            false,
            0,
        ),
        (
            "catchup",
            format!("catch-up, {} of {} cases changed", sz.changed, sz.cases),
            "city",
            "township-changed",
            "changed",
            false,
            set.lb_catchup,
        ),
        (
            "first",
            format!("first contact, new township node, {} cases", sz.first),
            "fc-city",
            "fc-new",
            "first",
            true,
            set.lb_first,
        ),
    ];
    for (id, label, city, town, ids, fetch, lb) in plan {
        eprintln!("bench: {} — {label}: Yizhan", net.name());
        let y = run_yizhan(net, scratch, &set.y(city), &set.y(town), cap)?;
        eprintln!(
            "bench:   Yizhan {:.0} ms, {} B",
            y["ms"].as_f64().unwrap_or(0.0),
            y["bytes"]
        );
        eprintln!("bench: {} — {label}: samod", net.name());
        let s = run_samod(net, &set.s(city), &set.s(town), &set.ids(ids), fetch, cap)?;
        eprintln!(
            "bench:   samod {:.0} ms, {} B{}",
            s["ms"].as_f64().unwrap_or(0.0),
            s["bytes"],
            if s["gave_up"] == true {
                " (gave up)"
            } else {
                ""
            }
        );
        let row = json!({
            "link": net.name(), "workload": id, "label": label,
            "yizhan": y, "samod": s, "lower_bound_bytes": lb,
            "time_yizhan_over_samod": ratio(&y, &s, "ms"),
            "bytes_yizhan_over_samod": ratio(&y, &s, "bytes"),
            "bytes_yizhan_over_lower_bound": if lb > 0 { json!(y["bytes"].as_f64().unwrap_or(0.0) / lb as f64) } else { Value::Null },
        });
        // Each row is also appended to DIR/rows.jsonl as soon as it is measured, so that a long
        // run that is stopped keeps what it measured.
        if let Some(dir) = scratch.parent() {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("rows.jsonl"))?;
            writeln!(f, "{row}")?;
        }
        rows.push(row);
    }
    Ok(rows)
}

fn fmt_ms(v: &Value) -> String {
    match v.as_f64() {
        Some(ms) if ms >= 10_000.0 => format!("{:.0} s", ms / 1e3),
        Some(ms) if ms >= 1_000.0 => format!("{:.1} s", ms / 1e3),
        Some(ms) => format!("{ms:.1} ms"),
        None => "—".into(),
    }
}

fn fmt_bytes(v: &Value) -> String {
    match v.as_f64() {
        Some(b) if b >= 1_048_576.0 => format!("{:.1} MiB", b / 1_048_576.0),
        Some(b) if b >= 10_240.0 => format!("{:.0} KiB", b / 1024.0),
        Some(b) => format!("{b:.0} B"),
        None => "—".into(),
    }
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
        "| link | workload | Yizhan time | samod time | Yizhan / samod (time) | Yizhan bytes | samod bytes | lower bound | Yizhan / samod (bytes) | Yizhan / lower bound | messages Yizhan / samod | round trips Yizhan (dialer) | peak MiB Yizhan (dialer, server) | peak MiB samod (dialer, server) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (y, sm) = (&r["yizhan"], &r["samod"]);
        let gave_up = sm["gave_up"] == true;
        let mark = |v: &Value| {
            if v["gave_up"] == true {
                " (gave up)"
            } else if v["ok"] != true {
                " (FAILED)"
            } else {
                ""
            }
        };
        s.push_str(&format!(
            "| {} | {} | {}{} | {}{} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {:.0}, {:.0} | {:.0}, {:.0} |\n",
            r["link"].as_str().unwrap_or(""),
            r["label"].as_str().unwrap_or(""),
            fmt_ms(&y["ms"]), mark(y),
            match (gave_up, sm["gave_up_while"].as_str()) {
                (true, Some("opening")) => format!(
                    "not reached: opening {} of {} documents took > {}",
                    sm["docs_opened"], sm["docs"], fmt_ms(&sm["ms"])
                ),
                (true, _) => format!("> {}", fmt_ms(&sm["ms"])),
                _ => fmt_ms(&sm["ms"]),
            },
            mark(sm),
            fmt_ratio(&r["time_yizhan_over_samod"], gave_up),
            fmt_bytes(&y["bytes"]),
            fmt_bytes(&sm["bytes"]),
            fmt_bytes(&r["lower_bound_bytes"]),
            fmt_ratio(&r["bytes_yizhan_over_samod"], gave_up),
            r["bytes_yizhan_over_lower_bound"].as_f64().map_or("—".into(), |v| format!("{v:.3}")),
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
        rows.extend(workloads(&Net::Loopback, &set, &scratch, args.cap)?);
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
        rows.extend(workloads(&net, &set, &scratch, args.cap)?);
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
    if args.json {
        eprintln!("{table}");
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{table}");
    }
    Ok(())
}
