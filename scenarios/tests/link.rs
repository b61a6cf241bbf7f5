//! The link emulator end to end: `yizhan-scenarios link-check --udp-only` between two network
//! namespaces, which needs root and iproute2; elsewhere the test says why and passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// Why the lab cannot run here, if it cannot (the binary's own check gives the full reason).
fn lab_unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("?");
    if euid != "0" {
        return Some(format!("not root (effective uid {euid})"));
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("no `ip` command: {e}")),
    }
}

#[test]
fn sixteen_kilobytes_at_64_kbit_through_namespaces() {
    if let Some(why) = lab_unavailable() {
        eprintln!("skipped: the network-namespace lab is unavailable: {why}");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_yizhan-scenarios"))
        .args([
            "link-check",
            "--udp-only",
            "--json",
            "--kbit",
            "64",
            "--delay-ms",
            "50",
            "--bytes",
            "16384",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "link-check failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let udp = &report["udp"];
    // 16,384 bytes at 8,000 bytes a second is 2.05 s; a 100 ms round trip and a loaded CI
    // machine are covered by the upper bound.
    let wall = udp["wall_s"].as_f64().unwrap();
    assert!((1.9..=4.0).contains(&wall), "took {wall} s: {report}");
    // Every byte went through the relay: the data (and the three closing datagrams) towards
    // node 1, five-byte acknowledgements back.
    assert!(udp["relay"]["a_to_b"]["forwarded_bytes"].as_u64().unwrap() >= 16384);
    assert!(
        udp["relay"]["b_to_a"]["forwarded_packets"]
            .as_u64()
            .unwrap()
            >= 14
    );
    assert_eq!(udp["received"]["unique_bytes"].as_u64(), Some(16384));
    // The lab cleaned up after itself.
    let run = report["lab"]["run"].as_str().unwrap();
    let listed = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&format!("yz-{run}-")));
}
