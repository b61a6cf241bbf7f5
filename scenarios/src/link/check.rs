//! `yizhan-scenarios link-check`: does the emulated link really behave as specified, and does all
//! the traffic really go through it?
//!
//! Two namespaces (node 0 and node 1) and one relay between them. Two measurements:
//!
//! 1. **Plain UDP.** This binary, started again inside the namespaces (`link-probe recv` in
//!    node 1, `link-probe send` in node 0), moves `--bytes` as paced datagrams; the report puts
//!    the sender's wall time beside `bytes × 8 / rate + RTT` and the relay's counters, which must
//!    show exactly those bytes forwarded towards node 1.
//! 2. **Real nodes.** A city (node 0, `yizhan serve`) and a township (node 1) enrolled through a
//!    ticket that points at the relay; the township takes in cases until their documents hold
//!    about `--bytes`, then one `yizhan sync` pass pushes them to the city over the shaped link.
//!    The report puts the pass's wall time beside the time the relay's bytes need at the capped
//!    rate, and the bytes the sync summary reports beside those the relay forwarded (QUIC's
//!    headers, acknowledgements and handshake make the relay's figure somewhat larger; a bypass
//!    would make it much smaller).
//!
//! Enrolment runs over an unshaped link (the spec is applied after the join), so that only the
//! sync pass is measured.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use super::netns::Lab;
use super::probe;
use super::relay::{LinkCounters, LinkSpec, Shape};

/// `link-check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Bandwidth cap in kbit/s, both directions.
    #[arg(long, default_value_t = 64)]
    pub kbit: u64,
    /// One-way delay in milliseconds (the round trip is twice this).
    #[arg(long, default_value_t = 150)]
    pub delay_ms: u64,
    /// Jitter in milliseconds (each datagram's delay varies within ± this).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Loss probability per datagram, both directions.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Bytes to move.
    #[arg(long, default_value_t = 65_536)]
    pub bytes: usize,
    /// Seed of the relay's loss and jitter draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only the plain-UDP measurement.
    #[arg(long)]
    pub udp_only: bool,
    /// The `yizhan` binary (default: beside this one, as cargo builds them).
    #[arg(long, value_name = "PATH")]
    pub yizhan: Option<PathBuf>,
    /// Give up on a transfer after this many seconds.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `link-probe` arguments (internal: the two ends of the plain-UDP check, run inside the lab).
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Receive on this address, print `{"event":"ready"}`, then the report.
    #[arg(long, value_name = "ADDR:PORT", conflicts_with = "send_to")]
    pub listen: Option<SocketAddr>,
    /// Send to this address and print the report.
    #[arg(long, value_name = "ADDR:PORT")]
    pub send_to: Option<SocketAddr>,
    /// Bytes to send.
    #[arg(long, default_value_t = 65_536)]
    pub bytes: usize,
    /// Seconds: the receiver's idle limit, the sender's overall limit.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
}

/// Runs one end of the plain-UDP probe.
pub fn link_probe(args: &ProbeArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let limit = Duration::from_secs(args.timeout);
    rt.block_on(async {
        if let Some(addr) = args.listen {
            let sock = tokio::net::UdpSocket::bind(addr)
                .await
                .with_context(|| format!("cannot bind {addr}"))?;
            println!(
                "{}",
                json!({ "event": "ready", "addr": sock.local_addr()? })
            );
            let r = probe::receive(sock, limit).await?;
            println!("{}", serde_json::to_string(&r)?);
        } else if let Some(to) = args.send_to {
            let sock = tokio::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0))).await?;
            let r = probe::send(&sock, to, args.bytes, limit).await?;
            println!("{}", serde_json::to_string(&r)?);
        } else {
            bail!("link-probe needs --listen or --send-to");
        }
        Ok(())
    })
}

fn spec_of(args: &CheckArgs) -> LinkSpec {
    LinkSpec::symmetric(
        Shape::perfect()
            .kbit(args.kbit)
            .delay(Duration::from_millis(args.delay_ms))
            .jitter(Duration::from_millis(args.jitter_ms))
            .loss(args.loss),
    )
}

/// The difference of two counter snapshots (what one measurement moved).
pub(crate) fn delta(after: LinkCounters, before: LinkCounters) -> LinkCounters {
    let d =
        |a: super::relay::DirCounters, b: super::relay::DirCounters| super::relay::DirCounters {
            forwarded_packets: a.forwarded_packets - b.forwarded_packets,
            forwarded_bytes: a.forwarded_bytes - b.forwarded_bytes,
            lost_packets: a.lost_packets - b.lost_packets,
            lost_bytes: a.lost_bytes - b.lost_bytes,
            queue_dropped_packets: a.queue_dropped_packets - b.queue_dropped_packets,
            queue_dropped_bytes: a.queue_dropped_bytes - b.queue_dropped_bytes,
            cut_packets: a.cut_packets - b.cut_packets,
            cut_bytes: a.cut_bytes - b.cut_bytes,
            unroutable_packets: a.unroutable_packets - b.unroutable_packets,
        };
    LinkCounters {
        a_to_b: d(after.a_to_b, before.a_to_b),
        b_to_a: d(after.b_to_a, before.b_to_a),
    }
}

/// Reads lines from a child's stdout until one parses as JSON with `"event": event`.
pub(crate) fn wait_event(reader: &mut impl BufRead, event: &str) -> Result<Value> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("the process ended before printing its {event:?} line");
        }
        if let Ok(v) = serde_json::from_str::<Value>(line.trim())
            && v.get("event").and_then(Value::as_str) == Some(event)
        {
            return Ok(v);
        }
    }
}

/// Kills and reaps a child that is no longer needed.
pub(crate) fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `link-check`.
pub fn link_check(args: &CheckArgs) -> Result<()> {
    let lab = Lab::new(2)?;
    let spec = spec_of(args);
    let shape = spec.a_to_b.clone();
    let rtt = shape.delay * 2;
    let mut report = json!({
        "spec": spec,
        "lab": { "run": lab.run_id(), "node0": lab.node_ip(0), "node1": lab.node_ip(1) },
    });
    let udp = udp_check(&lab, args, spec.clone())?;
    if !args.json {
        println!(
            "plain UDP: {} bytes in {:.2} s (expected {:.2} s = {:.2} s at {} kbit/s + {} ms RTT); relay forwarded {} bytes towards node 1 ({} datagrams), lost {}, queue drops {}, cut {}",
            udp["sent"]["bytes"],
            udp["wall_s"].as_f64().unwrap_or_default(),
            udp["expected_s"].as_f64().unwrap_or_default(),
            shape.serialization(args.bytes as u64).as_secs_f64(),
            args.kbit,
            rtt.as_millis(),
            udp["relay"]["a_to_b"]["forwarded_bytes"],
            udp["relay"]["a_to_b"]["forwarded_packets"],
            udp["relay"]["a_to_b"]["lost_packets"],
            udp["relay"]["a_to_b"]["queue_dropped_packets"],
            udp["relay"]["a_to_b"]["cut_packets"],
        );
    }
    report["udp"] = udp;
    if !args.udp_only {
        let yizhan = match &args.yizhan {
            Some(p) => p.clone(),
            None => std::env::current_exe()?
                .parent()
                .ok_or_else(|| anyhow!("this binary has no directory"))?
                .join("yizhan"),
        };
        if !yizhan.exists() {
            bail!(
                "{} does not exist: build it with `cargo build -p yizhan` or pass --yizhan PATH (or --udp-only)",
                yizhan.display()
            );
        }
        let sync = sync_check(&lab, args, spec, &yizhan)?;
        if !args.json {
            println!(
                "real sync: {} cases, sync summary {} bytes out / {} in, pass {:.2} s wall ({} ms reported); expected {:.2} s (relay bytes towards the city at {} kbit/s + {} RTTs of {} ms); relay forwarded {} bytes towards the city, {} back; relay / summary = {:.2}",
                sync["cases"],
                sync["summary_bytes_out"],
                sync["summary_bytes_in"],
                sync["wall_s"].as_f64().unwrap_or_default(),
                sync["summary_ms"],
                sync["expected_s"].as_f64().unwrap_or_default(),
                args.kbit,
                sync["expected_rtts"],
                rtt.as_millis(),
                sync["relay"]["b_to_a"]["forwarded_bytes"],
                sync["relay"]["a_to_b"]["forwarded_bytes"],
                sync["relay_over_summary"].as_f64().unwrap_or_default(),
            );
        }
        report["sync"] = sync;
    }
    let ok = report["udp"]["ok"].as_bool() == Some(true)
        && (args.udp_only || report["sync"]["ok"].as_bool() == Some(true));
    report["ok"] = ok.into();
    if args.json {
        println!("{report}");
    } else {
        println!("{}", if ok { "ok" } else { "FAILED" });
    }
    if !ok {
        bail!("the link did not behave as specified (see the report)");
    }
    Ok(())
}

fn udp_check(lab: &Lab, args: &CheckArgs, spec: LinkSpec) -> Result<Value> {
    const PORT: u16 = 9000;
    let link = lab.link(0, None, 1, Some(PORT), spec.clone(), args.seed)?;
    let me = std::env::current_exe()?;
    let timeout = args.timeout.to_string();
    let mut recv = lab.spawn(
        1,
        Command::new(&me).args([
            "link-probe",
            "--listen",
            &format!("0.0.0.0:{PORT}"),
            "--timeout",
            &timeout,
        ]),
    )?;
    let mut out = BufReader::new(
        recv.stdout
            .take()
            .ok_or_else(|| anyhow!("probe receiver without stdout"))?,
    );
    wait_event(&mut out, "ready")?;
    let before = link.control.counters();
    let started = Instant::now();
    let sent = lab.output(
        0,
        Command::new(&me).args([
            "link-probe",
            "--send-to",
            &link.a_dials.to_string(),
            "--bytes",
            &args.bytes.to_string(),
            "--timeout",
            &timeout,
        ]),
    )?;
    let wall = started.elapsed();
    if !sent.status.success() {
        stop(recv);
        bail!(
            "probe sender failed: {}",
            String::from_utf8_lossy(&sent.stderr).trim()
        );
    }
    let sent: Value = serde_json::from_slice(&sent.stdout).context("probe sender's report")?;
    let mut line = String::new();
    out.read_line(&mut line)?;
    let received: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
    let _ = recv.wait();
    let relay = delta(link.control.counters(), before);
    let expected = spec.a_to_b.serialization(args.bytes as u64) + spec.a_to_b.delay * 2;
    let elapsed = sent["elapsed"].as_f64().unwrap_or(wall.as_secs_f64());
    // Every byte sent must have crossed the relay (more with retransmissions), and the transfer
    // must not beat the cap.
    let ok = relay.a_to_b.forwarded_bytes >= args.bytes as u64
        && received["unique_bytes"].as_u64() == Some(args.bytes.max(9) as u64)
        && elapsed >= spec.a_to_b.serialization(args.bytes as u64).as_secs_f64() * 0.9;
    Ok(json!({
        "ok": ok,
        "sent": sent,
        "received": received,
        "wall_s": elapsed,
        "process_wall_s": wall.as_secs_f64(),
        "expected_s": expected.as_secs_f64(),
        "relay": relay,
    }))
}

/// Runs `yizhan ARGS` outside the lab (store-only commands need no network).
/// Creates a network whose city station C0 lives in `city`, and invites a township T1 that will
/// reach the city at `city_addr` (the relay's address on the township's side). Returns the ticket.
pub(crate) fn city_and_invite(
    yizhan: &Path,
    city: &Path,
    network: &str,
    city_addr: &str,
) -> Result<String> {
    yz(
        yizhan,
        city,
        &[
            "init",
            "--network",
            network,
            "--code",
            "C0",
            "--name",
            "市政务服务中心",
        ],
    )?;
    let ticket = yz(
        yizhan,
        city,
        &[
            "invite",
            "--code",
            "T1",
            "--name",
            "某镇便民服务中心",
            "--tier",
            "township",
            "--addr",
            city_addr,
        ],
    )?;
    Ok(ticket["ticket"]
        .as_str()
        .ok_or_else(|| anyhow!("invite printed no ticket"))?
        .to_string())
}

pub(crate) fn yz(yizhan: &Path, data: &Path, args: &[&str]) -> Result<Value> {
    let out = Command::new(yizhan)
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", yizhan.display()))?;
    parse_output(&out, args)
}

/// The command line that takes in `count` cases of the township item TS-004 for one applicant at
/// `address` (the scenarios' workload; a long address makes larger documents).
pub(crate) fn township_intake<'a>(address: &'a str, count: &'a str) -> [&'a str; 10] {
    [
        "case",
        "new",
        "--item",
        "TS-004",
        "--applicant",
        "王某",
        "--address",
        address,
        "--count",
        count,
    ]
}

/// Runs `yizhan --data DATA --json join TICKET` in the lab's namespace `ns`; returns what `join`
/// printed.
pub(crate) fn join_in_lab(
    lab: &Lab,
    ns: usize,
    yizhan: &Path,
    data: &Path,
    ticket: &str,
) -> Result<Value> {
    let joined = lab.output(
        ns,
        Command::new(yizhan)
            .arg("--data")
            .arg(data)
            .args(["--json", "join", ticket]),
    )?;
    parse_output(&joined, &["join"])
}

pub(crate) fn parse_output(out: &std::process::Output, args: &[&str]) -> Result<Value> {
    if !out.status.success() {
        bail!(
            "yizhan {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // The last JSON line is the command's answer (`case new --count` prints one per case).
    Ok(text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null))
}

/// Bytes the township's case documents take in its store (snapshots and pending increments).
fn case_bytes(data: &Path) -> Result<u64> {
    let conn = crate::measure::read_store(data)?;
    let n: i64 = conn.query_row(
        "SELECT COALESCE(SUM(length(snapshot) + incr_bytes), 0) FROM docs WHERE doc_type = 'case'",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or_default())
}

fn sync_check(lab: &Lab, args: &CheckArgs, spec: LinkSpec, yizhan: &Path) -> Result<Value> {
    const CITY_PORT: u16 = 7000;
    let dir = tempfile::tempdir()?;
    let city = dir.path().join("city");
    let town = dir.path().join("town");
    // The city is node 0 with a fixed port; the township's one-shot commands bind fresh ports,
    // which the relay learns.
    let link = lab.link(0, Some(CITY_PORT), 1, None, LinkSpec::perfect(), args.seed)?;
    let ticket = city_and_invite(yizhan, &city, "链路检查网", &link.b_dials.to_string())?;
    let mut serve = lab.spawn(
        0,
        Command::new(yizhan).arg("--data").arg(&city).args([
            "serve",
            "--listen",
            &format!("0.0.0.0:{CITY_PORT}"),
        ]),
    )?;
    let result = (|| {
        let mut out = BufReader::new(
            serve
                .stdout
                .take()
                .ok_or_else(|| anyhow!("serve without stdout"))?,
        );
        let listening = wait_event(&mut out, "listening")?;
        let city_id = listening["node_id"]
            .as_str()
            .ok_or_else(|| anyhow!("serve printed no node id"))?
            .to_string();
        // Keep reading serve's session reports so its stdout pipe never fills; the thread ends
        // when serve is stopped and its stdout closes.
        let _drain = std::thread::Builder::new()
            .name("yz-serve-out".into())
            .spawn(move || out.lines().map_while(Result::ok).count())?;
        join_in_lab(lab, 1, yizhan, &town, &ticket)?;
        yz(
            yizhan,
            &town,
            &["peer", "add", &city_id, &link.b_dials.to_string()],
        )?;
        // Cases until the sync is likely to move about the bytes asked for. Stored snapshots
        // are larger than the changes sync sends (measured: 60 such cases, 65 KB of snapshots,
        // 43.7 KB of sync frames), hence the factor; the report gives the actual figures.
        let address = "山西省太原市某某区某某镇某某村委会东街".repeat(8);
        let target = args.bytes as u64 * 3 / 2;
        let mut cases = 0u32;
        while case_bytes(&town)? < target {
            yz(yizhan, &town, &township_intake(&address, "5"))?;
            cases += 5;
        }
        let doc_bytes = case_bytes(&town)?;
        link.control.set_spec(spec.clone());
        let before = link.control.counters();
        let started = Instant::now();
        let synced = lab.output(
            1,
            Command::new(yizhan).arg("--data").arg(&town).args([
                "--json",
                "sync",
                "--timeout",
                &args.timeout.to_string(),
            ]),
        )?;
        let wall = started.elapsed();
        let relay = delta(link.control.counters(), before);
        let summary = parse_output(&synced, &["sync"])?;
        let peer = &summary["peers"][0];
        if let Some(e) = peer.get("error").and_then(Value::as_str) {
            bail!("the sync pass failed: {e}");
        }
        let bytes_out = peer["bytes_out"].as_u64().unwrap_or_default();
        let bytes_in = peer["bytes_in"].as_u64().unwrap_or_default();
        // The QUIC handshake (one round trip, and one more for the stream's first frames), the
        // protocol's own exchanges (hello, have, want) and the final acknowledgement: a handful
        // of round trips on top of the bytes at the capped rate.
        let rtts = 4u32;
        let up = spec.b_to_a.serialization(relay.b_to_a.forwarded_bytes);
        let expected = up + spec.b_to_a.delay * 2 * rtts;
        let relay_total = relay.forwarded_bytes();
        let summary_total = bytes_in + bytes_out;
        // A bypass shows as fewer bytes through the relay than the sync reports, and as a pass
        // faster than the cap allows; slowness is not judged (a loaded machine is slow).
        let through_relay = relay.b_to_a.forwarded_bytes * 100 >= bytes_out * 95;
        let not_too_fast = wall >= spec.b_to_a.serialization(bytes_out).mul_f64(0.9);
        Ok(json!({
            "cases": cases,
            "case_doc_bytes": doc_bytes,
            "summary_bytes_out": bytes_out,
            "summary_bytes_in": bytes_in,
            "summary_ms": peer["ms"],
            "docs_out": summary["docs_out"],
            "wall_s": wall.as_secs_f64(),
            "expected_s": expected.as_secs_f64(),
            "expected_rtts": rtts,
            "expected_from_summary_s": (spec.b_to_a.serialization(bytes_out) + spec.b_to_a.delay * 2 * rtts).as_secs_f64(),
            "relay": relay,
            "ok": through_relay && not_too_fast,
            "through_relay": through_relay,
            "not_too_fast": not_too_fast,
            "relay_over_summary": if summary_total == 0 { 0.0 } else { relay_total as f64 / summary_total as f64 },
        }))
    })();
    stop(serve);
    result
}
