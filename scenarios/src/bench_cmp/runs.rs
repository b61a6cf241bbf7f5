//! The three workloads run by each side: the real `yizhan serve`/`sync` processes and samod's
//! peer, on loopback or through the namespace lab, with their peaks, bytes and verification.

use super::{CITY_PORT, DataSet, cp};
use crate::link::{Lab, LabLink, LinkCounters, LinkSpec};
use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The link the two processes talk over.
pub(super) enum Net {
    Loopback,
    Poor { lab: Lab, link: LabLink },
}

impl Net {
    pub(super) fn poor(seed: u64) -> Result<Net> {
        let lab = Lab::new(2)?;
        let link = lab.link(0, Some(CITY_PORT), 1, None, LinkSpec::poor(), seed)?;
        Ok(Net::Poor { lab, link })
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Net::Loopback => "loopback",
            Net::Poor { .. } => "poor",
        }
    }

    /// Starts `cmd` on side `n` (0 the city, 1 the township), stdout piped.
    pub(super) fn spawn(&self, n: usize, cmd: &Command) -> Result<Child> {
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

    pub(super) fn listen(&self) -> String {
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

pub(super) fn relay_json(before: Option<LinkCounters>, after: Option<LinkCounters>) -> Value {
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

pub(super) fn proc_hwm_mib(pid: u32) -> Option<f64> {
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

pub(super) fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// Reads JSON lines from a child until one has `"event": event`.
pub(super) fn wait_event(out: &mut impl BufRead, events: &[&str]) -> Result<Value> {
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
pub(super) fn wait_peak(
    child: &mut Child,
    cap: Duration,
) -> Result<(std::process::ExitStatus, f64, bool)> {
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

pub(super) fn yizhan_bin() -> Result<PathBuf> {
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

/// `yizhan --data <data> --json <args>`, to run or spawn.
fn yizhan_json(yizhan: &Path, data: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(yizhan);
    cmd.arg("--data").arg(data).arg("--json").args(args);
    cmd
}

pub(super) fn yz(yizhan: &Path, data: &Path, args: &[&str]) -> Result<()> {
    let out = yizhan_json(yizhan, data, args).output()?;
    ensure!(
        out.status.success(),
        "yizhan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// One Yizhan sync: `serve` on the city's copy, `sync` from the township's copy.
pub(super) fn run_yizhan(
    net: &Net,
    scratch: &Path,
    city: &Path,
    town: &Path,
    cap: u64,
) -> Result<Value> {
    let yizhan = yizhan_bin()?;
    let (c, t) = (scratch.join("y-city"), scratch.join("y-town"));
    cp(city, &c)?;
    cp(town, &t)?;
    let mut serve = net.spawn(
        0,
        &yizhan_json(&yizhan, &c, &["serve", "--listen", &net.listen()]),
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
            &yizhan_json(&yizhan, &t, &["sync", "--timeout", &cap.to_string()]),
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
pub(super) fn verify(a: &Path, b: &Path) -> Result<bool> {
    let heads = |p: &Path| -> Result<Vec<(String, Vec<u8>)>> {
        let conn = crate::measure::read_store(p)?;
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
pub(super) fn run_samod(
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

pub(super) fn ratio(a: &Value, b: &Value, key: &str) -> Value {
    match (a[key].as_f64(), b[key].as_f64()) {
        (Some(x), Some(y)) if y > 0.0 => json!(x / y),
        _ => Value::Null,
    }
}

/// One planned workload: id, label, city store, township store, ids file, whether the township
/// fetches (first contact), its Automerge encoding and its xz -9 bound in bytes.
type Planned<'a> = (
    &'a str,
    String,
    &'a str,
    &'a str,
    &'a str,
    bool,
    u64,
    Option<u64>,
);

pub(super) fn workloads(
    net: &Net,
    set: &DataSet,
    scratch: &Path,
    cap: u64,
    samod: bool,
) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    let sz = set.sizes;
    let plan: [Planned<'_>; 3] = [
        (
            "idle",
            format!("idle reconnect, {} shared cases", sz.cases),
            "city",
            "township",
            "shared",
            false,
            0,
            None,
        ),
        (
            "catchup",
            format!("catch-up, {} of {} cases changed", sz.changed, sz.cases),
            "city",
            "township-changed",
            "changed",
            false,
            set.lb_catchup,
            set.xz_catchup,
        ),
        (
            "first",
            format!("first contact, new township node, {} cases", sz.first),
            "fc-city",
            "fc-new",
            "first",
            true,
            set.lb_first,
            set.xz_first,
        ),
    ];
    for (id, label, city, town, ids, fetch, lb, xz) in plan {
        eprintln!("bench: {} — {label}: Yizhan", net.name());
        let y = run_yizhan(net, scratch, &set.y(city), &set.y(town), cap)?;
        eprintln!(
            "bench:   Yizhan {:.0} ms, {} B",
            y["ms"].as_f64().unwrap_or(0.0),
            y["bytes"]
        );
        if !samod {
            rows.push(json!({
                "link": net.name(), "workload": id, "label": label,
                "yizhan": y, "samod": {"skipped": true}, "encoded_bytes": lb, "lower_bound_bytes": xz,
                "bytes_yizhan_over_encoded": if lb > 0 { json!(y["bytes"].as_f64().unwrap_or(0.0) / lb as f64) } else { Value::Null },
                "bytes_yizhan_over_lower_bound": match xz { Some(x) if x > 0 => json!(y["bytes"].as_f64().unwrap_or(0.0) / x as f64), _ => Value::Null },
            }));
            continue;
        }
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
            "yizhan": y, "samod": s, "encoded_bytes": lb, "lower_bound_bytes": xz,
            "time_yizhan_over_samod": ratio(&y, &s, "ms"),
            "bytes_yizhan_over_samod": ratio(&y, &s, "bytes"),
            "bytes_yizhan_over_encoded": if lb > 0 { json!(y["bytes"].as_f64().unwrap_or(0.0) / lb as f64) } else { Value::Null },
            "bytes_yizhan_over_lower_bound": match xz { Some(x) if x > 0 => json!(y["bytes"].as_f64().unwrap_or(0.0) / x as f64), _ => Value::Null },
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
