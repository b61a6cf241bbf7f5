//! The network-namespace lab: every emulated node in its own network namespace, the relays in the
//! root namespace as the only path between them.
//!
//! Why namespaces: iroh advertises each endpoint's real addresses inside the QUIC connection and
//! moves to a direct path as soon as one works. On one loopback every address works, so a relay
//! between two endpoints is bypassed after the first round trips. Here each node sees only its
//! own veth subnet; the other nodes' addresses are not routable from it at all (no default route
//! in the namespace, and the root namespace does not forward between the veths), so every byte
//! has to go through a relay.
//!
//! Layout of a lab with run id `<pid>-<k>` (`k` counts the labs of one process) and address block
//! `10.<B>.0.0/16` (claimed per lab, see below), for node `n` (0-based):
//!
//! ```text
//!   namespace yz-<pid>-<k>-<n>                      root namespace
//!   ┌──────────────────────────┐   veth pair   ┌──────────────────────────────────────┐
//!   │ lo up                    │               │ yz<pid hex>.<k>.<n>  10.B.<n+1>.1/24 │
//!   │ eth0  10.B.<n+1>.2/24    ├───────────────┤ relay sockets bound on 10.B.<n+1>.1  │
//!   └──────────────────────────┘               └──────────────────────────────────────┘
//! ```
//!
//! A process runs inside a namespace through `ip netns exec` ([`Lab::command`], [`Lab::spawn`]):
//! the workspace forbids `unsafe`, so no `setns` from Rust. [`Lab::link`] starts a relay whose
//! socket facing node `a` is on `a`'s host address and whose socket facing `b` is on `b`'s; node
//! `a` dials the first to reach `b` and vice versa.
//!
//! Names carry the pid, so parallel runs never collide, and a run killed with SIGKILL leaves
//! names whose pid is dead: the next lab deletes those first. Address blocks are claimed with a
//! lock file per block (`$TMPDIR/yizhan-lab/block-<B>`, holding the pid), so two concurrent labs
//! never put the same subnet on two interfaces. Everything a lab created goes away when it is
//! dropped, and on SIGINT or SIGTERM (a watcher thread cleans every live lab, then exits).

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};

use anyhow::{Context, Result, anyhow, bail};
use tokio::runtime::{Handle, Runtime};

use super::relay::{LinkControl, LinkSpec, Relay, RelayConfig};

/// The second octets a lab may use for its `10.<B>.0.0/16` block.
const BLOCKS: std::ops::RangeInclusive<u8> = 77..=126;

/// Nodes per lab at most (one /24 per node inside the block).
pub const MAX_NODES: usize = 250;

/// Why the lab cannot run here: not root, no `ip`, no network namespaces. The scenarios runner
/// reports the scenarios that need a lab as skipped with this reason.
#[derive(Debug, Clone)]
pub struct LabUnavailable(pub String);

impl std::fmt::Display for LabUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "network-namespace lab unavailable: {}", self.0)
    }
}

impl std::error::Error for LabUnavailable {}

/// Checks that a lab can run: root, `ip` from iproute2, working `ip netns`.
pub fn check_available() -> Result<(), LabUnavailable> {
    if !cfg!(target_os = "linux") {
        return Err(LabUnavailable(
            "network namespaces exist only on Linux".into(),
        ));
    }
    match effective_uid() {
        Some(0) => {}
        Some(uid) => {
            return Err(LabUnavailable(format!(
                "not running as root (effective uid {uid}); `ip netns add` needs root"
            )));
        }
        None => {
            return Err(LabUnavailable(
                "cannot read the effective uid from /proc/self/status".into(),
            ));
        }
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(LabUnavailable(format!(
                "`ip -V` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Err(e) => {
            return Err(LabUnavailable(format!(
                "the `ip` command (iproute2) is not available: {e}"
            )));
        }
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(LabUnavailable(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(LabUnavailable(format!("cannot run `ip netns list`: {e}"))),
    }
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Real, effective, saved, filesystem: the second field decides what the process may do.
    line.split_whitespace().nth(2)?.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `ip {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Kills every process inside namespace `ns` (they would keep it, and its veth, alive).
fn kill_inside(ns: &str) {
    let Ok(pids) = ip(&["netns", "pids", ns]) else {
        return;
    };
    let pids: Vec<&str> = pids.split_whitespace().collect();
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg("-9")
            .args(&pids)
            .stderr(Stdio::null())
            .status();
    }
}

/// Deletes namespaces and host-side veths left by labs whose process is gone.
fn clean_stale() {
    if let Ok(list) = ip(&["netns", "list"]) {
        for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
            let Some(rest) = ns.strip_prefix("yz-") else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if !pid_alive(pid) {
                kill_inside(ns);
                let _ = ip(&["netns", "delete", ns]);
            }
        }
    }
    if let Ok(links) = ip(&["-o", "link", "show"]) {
        for line in links.lines() {
            // "12: yz1a2b.0.3@if2: <BROADCAST,...>": the name sits between ": " and "@" or ":".
            let Some(name) = line.split(": ").nth(1) else {
                continue;
            };
            let name = name.split(['@', ':']).next().unwrap_or_default();
            if let Some(pid) = host_link_pid(name)
                && !pid_alive(pid)
            {
                let _ = ip(&["link", "delete", name]);
            }
        }
    }
}

/// The pid in a host-side veth name `yz<pid hex>.<k>.<n>`.
fn host_link_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("yz")?;
    let mut parts = rest.split('.');
    let pid = u32::from_str_radix(parts.next()?, 16).ok()?;
    (parts.count() == 2).then_some(pid)
}

fn block_dir() -> PathBuf {
    std::env::temp_dir().join("yizhan-lab")
}

/// Claims a free `10.<B>.0.0/16` block: its lock file is created exclusively, and a lock whose
/// pid is dead is taken over. Blocks already carrying an address on this machine are skipped.
fn claim_block() -> Result<(u8, PathBuf)> {
    let dir = block_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let in_use = ip(&["-o", "-4", "addr", "show"]).unwrap_or_default();
    let me = std::process::id();
    for b in BLOCKS {
        let path = dir.join(format!("block-{b}"));
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    writeln!(f, "{me}")?;
                    // Checked after the claim, so that a block that another lab set up between
                    // the scan and the claim cannot be reused; the scan above is only a hint.
                    if in_use.contains(&format!("inet 10.{b}.")) {
                        let _ = std::fs::remove_file(&path);
                        break;
                    }
                    return Ok((b, path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match owner {
                        Some(pid) if pid_alive(pid) => break,
                        // A dead owner, or a file being written right now (empty): only a dead
                        // owner's lock is removed; an empty file is left to its writer.
                        Some(_) => {
                            let _ = std::fs::remove_file(&path);
                        }
                        None => break,
                    }
                }
                Err(e) => {
                    return Err(anyhow!(e).context(format!("cannot create {}", path.display())));
                }
            }
        }
    }
    bail!("every lab address block 10.77–126.0.0/16 is in use")
}

/// What a lab created, shared with the signal watcher.
#[derive(Debug)]
struct LabState {
    namespaces: Mutex<Vec<String>>,
    host_links: Mutex<Vec<String>>,
    lock_file: PathBuf,
    cleaned: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned list of names is still a list of names to delete.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LabState {
    /// Deletes everything, once: processes inside, veths, namespaces, the block's lock file.
    fn cleanup(&self) {
        if self.cleaned.swap(true, Ordering::SeqCst) {
            return;
        }
        let namespaces = lock(&self.namespaces).clone();
        for ns in &namespaces {
            kill_inside(ns);
        }
        // Deleting the host end deletes the pair at once, even while a killed process is still
        // on its way out and holding the namespace.
        for link in lock(&self.host_links).iter() {
            let _ = ip(&["link", "delete", link]);
        }
        for ns in &namespaces {
            let _ = ip(&["netns", "delete", ns]);
        }
        let _ = std::fs::remove_file(&self.lock_file);
    }
}

/// Every live lab of this process, for the signal watcher.
static LIVE: Mutex<Vec<Weak<LabState>>> = Mutex::new(Vec::new());
static WATCHER: Once = Once::new();
static SERIAL: AtomicU32 = AtomicU32::new(0);

/// Starts, once per process, a thread that on SIGINT or SIGTERM cleans every live lab and exits
/// (130 or 143, as a shell reports those signals).
fn watch_signals() {
    WATCHER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("yz-lab-signals".into())
            .spawn(|| {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let code = rt.block_on(async {
                    use tokio::signal::unix::{SignalKind, signal};
                    let Ok(mut term) = signal(SignalKind::terminate()) else {
                        return None;
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => Some(130),
                        _ = term.recv() => Some(143),
                    }
                });
                if let Some(code) = code {
                    for state in lock(&LIVE).iter().filter_map(Weak::upgrade) {
                        state.cleanup();
                    }
                    std::process::exit(code);
                }
            });
        if let Err(e) = spawned {
            eprintln!("lab: no signal watcher ({e}); a Ctrl-C may leave namespaces behind");
        }
    });
}

/// The addresses of one link and its control handle.
#[derive(Debug, Clone)]
pub struct LabLink {
    /// What node `a` dials to reach node `b` (the relay's socket facing `a`).
    pub a_dials: SocketAddr,
    /// What node `b` dials to reach node `a` (the relay's socket facing `b`).
    pub b_dials: SocketAddr,
    /// Cut, restore, reshape, counters.
    pub control: LinkControl,
}

/// A set of network namespaces, one per emulated node, with relays between them.
#[derive(Debug)]
pub struct Lab {
    state: Arc<LabState>,
    run: String,
    block: u8,
    nodes: usize,
    relays: Mutex<Vec<Relay>>,
    rt: Option<Runtime>,
}

impl Lab {
    /// Creates `nodes` namespaces, each with a veth to the root namespace. Fails with a
    /// [`LabUnavailable`] (downcast the error) when the machine cannot run a lab.
    pub fn new(nodes: usize) -> Result<Lab> {
        check_available()?;
        if nodes == 0 || nodes > MAX_NODES {
            bail!("a lab holds 1 to {MAX_NODES} nodes, not {nodes}");
        }
        clean_stale();
        let (block, lock_file) = claim_block()?;
        let pid = std::process::id();
        let serial = SERIAL.fetch_add(1, Ordering::SeqCst);
        let state = Arc::new(LabState {
            namespaces: Mutex::new(Vec::new()),
            host_links: Mutex::new(Vec::new()),
            lock_file,
            cleaned: AtomicBool::new(false),
        });
        {
            let mut live = lock(&LIVE);
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&state));
        }
        watch_signals();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("yz-relay")
            .enable_all()
            .build()
            .context("lab: cannot start the relay runtime")?;
        let lab = Lab {
            state,
            run: format!("{pid}-{serial}"),
            block,
            nodes,
            relays: Mutex::new(Vec::new()),
            rt: Some(rt),
        };
        let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .map(|s| s.trim() != "0")
            .unwrap_or(false);
        for n in 0..nodes {
            // On failure `lab` is dropped, which deletes whatever was created so far.
            lab.create_node(n, pid, serial, forwarding)?;
        }
        Ok(lab)
    }

    fn create_node(&self, n: usize, pid: u32, serial: u32, forwarding: bool) -> Result<()> {
        let ns = self.namespace(n);
        let host = format!("yz{pid:x}.{serial:x}.{n:x}");
        let host_cidr = format!("{}/24", self.host_ip(n));
        let node_cidr = format!("{}/24", self.node_ip(n));
        ip(&["netns", "add", &ns])?;
        lock(&self.state.namespaces).push(ns.clone());
        // The peer end is created directly inside the namespace, so its name (eth0) never meets
        // the root namespace's interfaces.
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        lock(&self.state.host_links).push(host.clone());
        // No IPv6 link-local addresses: the lab is IPv4 only, and an extra address family would
        // only give iroh more paths to try.
        ip(&["link", "set", &host, "addrgenmode", "none"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "addrgenmode", "none"])?;
        ip(&["addr", "add", &host_cidr, "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        ip(&["-n", &ns, "addr", "add", &node_cidr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        if forwarding {
            // The machine forwards IPv4 in general; this interface must not, or the root
            // namespace would route between two nodes around the relays. (Without a default
            // route in the namespaces they could not address each other anyway; this is the
            // second lock on the door.)
            let path = format!("/proc/sys/net/ipv4/conf/{host}/forwarding");
            std::fs::write(&path, "0").with_context(|| {
                format!("ip_forward is on and {path} cannot be turned off: refusing to run")
            })?;
        }
        Ok(())
    }

    /// Nodes in the lab.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The run id (`<pid>-<serial>`), unique among the labs running on this machine.
    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// The namespace of node `n`.
    pub fn namespace(&self, n: usize) -> String {
        format!("yz-{}-{n}", self.run)
    }

    fn subnet(&self, n: usize) -> u8 {
        u8::try_from(n + 1).unwrap_or(u8::MAX)
    }

    /// Node `n`'s own address, inside its namespace (bind and listen here, or on 0.0.0.0).
    pub fn node_ip(&self, n: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.block, self.subnet(n), 2)
    }

    /// The root namespace's address on node `n`'s veth, where relays facing `n` listen.
    pub fn host_ip(&self, n: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.block, self.subnet(n), 1)
    }

    fn check_node(&self, n: usize) -> Result<()> {
        if n >= self.nodes {
            bail!("lab has {} nodes; there is no node {n}", self.nodes);
        }
        Ok(())
    }

    /// A command that runs `program` inside node `n`'s namespace (`ip netns exec NS program`);
    /// add arguments, set stdio and spawn it as usual. Whatever it starts is killed when the lab
    /// is dropped.
    pub fn command(&self, n: usize, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.namespace(n)]).arg(program);
        c
    }

    /// Rebuilds `cmd` (program, arguments, environment, working directory) to run inside node
    /// `n`'s namespace.
    fn wrap(&self, n: usize, cmd: &Command) -> Result<Command> {
        self.check_node(n)?;
        let mut c = self.command(n, cmd.get_program());
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            c.current_dir(dir);
        }
        Ok(c)
    }

    /// Starts `cmd` inside node `n`'s namespace with stdin closed, stdout piped (read the
    /// child's `stdout`) and stderr inherited. The stdio settings of `cmd` are not readable, so
    /// they are not carried over; use [`Lab::command`] for other stdio.
    pub fn spawn(&self, n: usize, cmd: &Command) -> Result<Child> {
        let mut c = self.wrap(n, cmd)?;
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        c.spawn()
            .with_context(|| format!("cannot start {:?} in {}", cmd, self.namespace(n)))
    }

    /// Runs `cmd` inside node `n`'s namespace to completion, capturing stdout and stderr.
    pub fn output(&self, n: usize, cmd: &Command) -> Result<Output> {
        let mut c = self.wrap(n, cmd)?;
        c.stdin(Stdio::null());
        c.output()
            .with_context(|| format!("cannot run {:?} in {}", cmd, self.namespace(n)))
    }

    /// Starts a relay between nodes `a` and `b`. `a_port` and `b_port` are the UDP ports the
    /// nodes listen on, when known; a side without one is learnt from its first datagram (a
    /// one-shot `yizhan sync` binds a fresh port). Node `a` then reaches `b` at
    /// [`LabLink::a_dials`], and `b` reaches `a` at [`LabLink::b_dials`].
    pub fn link(
        &self,
        a: usize,
        a_port: Option<u16>,
        b: usize,
        b_port: Option<u16>,
        spec: LinkSpec,
        seed: u64,
    ) -> Result<LabLink> {
        self.check_node(a)?;
        self.check_node(b)?;
        if a == b {
            bail!("a link joins two different nodes, not node {a} to itself");
        }
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| anyhow!("lab: the relay runtime is gone"))?;
        let at = |n: usize, port: u16| SocketAddr::V4(SocketAddrV4::new(self.node_ip(n), port));
        let relay = Relay::start(
            rt.handle(),
            RelayConfig {
                a_bind: SocketAddr::V4(SocketAddrV4::new(self.host_ip(a), 0)),
                a_peer: a_port.map(|p| at(a, p)),
                b_bind: SocketAddr::V4(SocketAddrV4::new(self.host_ip(b), 0)),
                b_peer: b_port.map(|p| at(b, p)),
                spec,
                seed,
            },
        )?;
        let link = LabLink {
            a_dials: relay.a_addr(),
            b_dials: relay.b_addr(),
            control: relay.control(),
        };
        lock(&self.relays).push(relay);
        Ok(link)
    }

    /// The runtime the relays run on (for callers that start their own [`Relay`]s in the lab).
    pub fn handle(&self) -> Option<Handle> {
        self.rt.as_ref().map(|r| r.handle().clone())
    }

    /// Deletes everything now (also done on drop).
    pub fn cleanup(&self) {
        lock(&self.relays).clear();
        self.state.cleanup();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        lock(&self.relays).clear();
        if let Some(rt) = self.rt.take() {
            // Not a blocking shutdown: a lab may be dropped inside an async context, where
            // waiting for a runtime's threads would panic.
            rt.shutdown_background();
        }
        self.state.cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_link_names_carry_the_pid() {
        assert_eq!(host_link_pid("yz1a2b.0.3"), Some(0x1a2b));
        assert_eq!(host_link_pid("yz1a2b.10.ff"), Some(0x1a2b));
        assert_eq!(host_link_pid("eth0"), None);
        assert_eq!(host_link_pid("yzq.0.1"), None);
        assert_eq!(host_link_pid("yz12.3"), None);
    }

    /// Namespaces really isolate: node 0 cannot reach node 1 except through the relay.
    #[test]
    fn nodes_reach_each_other_only_through_the_relay() {
        if let Err(why) = check_available() {
            eprintln!("skipped: {why}");
            return;
        }
        let lab = Lab::new(2).expect("lab");
        let ns0 = lab.namespace(0);
        let ns1 = lab.namespace(1);
        let listed = ip(&["netns", "list"]).expect("ip netns list");
        assert!(listed.contains(&ns0) && listed.contains(&ns1));
        // No route from node 0 to node 1's address.
        let route = lab
            .output(
                0,
                Command::new("ip").args(["route", "get", &lab.node_ip(1).to_string()]),
            )
            .expect("ip route get");
        assert!(!route.status.success(), "node 0 has a route to node 1");
        // But it reaches its own host address, where relays listen.
        let route = lab
            .output(
                0,
                Command::new("ip").args(["route", "get", &lab.host_ip(0).to_string()]),
            )
            .expect("ip route get");
        assert!(route.status.success());
        let host_links = lock(&lab.state.host_links).clone();
        assert_eq!(host_links.len(), 2);
        drop(lab);
        let listed = ip(&["netns", "list"]).expect("ip netns list");
        assert!(!listed.contains(&ns0) && !listed.contains(&ns1));
        for link in host_links {
            assert!(ip(&["link", "show", &link]).is_err(), "{link} left behind");
        }
    }
}
