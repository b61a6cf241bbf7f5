//! The userspace UDP relay: one emulated link between two endpoints, A and B.
//!
//! The relay owns two UDP sockets: one facing A (A sends there to reach B) and one facing B (B
//! sends there to reach A). Each direction runs two tasks joined by a bounded channel:
//!
//! 1. the *ingress* task reads a datagram from the sending side's socket, remembers where it came
//!    from (so replies find their way back), and shapes it: a cut drops it; the bandwidth cap
//!    puts it behind the bytes still being "serialized" onto the emulated wire, or drops it when
//!    that backlog would exceed the queue (like a router buffer that is full); loss drops it after
//!    it has used its share of the bandwidth, as on a real wire; delay and jitter set the instant
//!    at which it arrives;
//! 2. the *egress* task sleeps until that instant and sends the datagram from the other socket to
//!    the receiving side, unless the link has been cut in the meantime.
//!
//! The serialization clock (`tx_free_at`) advances by exactly `bytes × 8 / rate` per datagram from
//! the later of now and the previous datagram's end, so the rate holds over a whole transfer no
//! matter how late the timers wake. Arrival instants never go backwards within a direction:
//! jitter stretches and squeezes the gaps between datagrams but does not reorder them, because a
//! reordering emulator makes QUIC declare packets lost that were only late, which is not what a
//! slow rural line does.
//!
//! Counters are plain atomics read through [`LinkControl::counters`]; byte counts are UDP payload
//! bytes (what the endpoints sent), without IP and UDP headers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::rng::Rng;

/// The queue of a capped direction when none is given: 16 KiB, two seconds at 64 kbit/s, about
/// what the buffer of a cheap rural modem holds.
pub const DEFAULT_QUEUE_BYTES: usize = 16 * 1024;

/// Datagrams in flight (past the queue, waiting out their delay) per direction. Beyond this the
/// relay drops and counts a queue drop; it only matters for uncapped links under a flood.
const IN_FLIGHT: usize = 16 * 1024;

/// The largest datagram the relay carries (the largest UDP payload).
const MAX_DATAGRAM: usize = 65_535;

/// How one direction of a link behaves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shape {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Each datagram's delay varies uniformly within `delay ± jitter` (never below zero).
    pub jitter: Duration,
    /// Probability that a datagram is lost, in `[0, 1]`.
    pub loss: f64,
    /// Bandwidth cap in bits per second (`None`: no cap).
    pub rate_bps: Option<u64>,
    /// Bytes that may wait behind the cap before further datagrams are dropped.
    pub queue_bytes: usize,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

impl Shape {
    /// A perfect direction: no delay, no loss, no cap.
    pub fn perfect() -> Shape {
        Shape::default()
    }

    /// The same with a one-way delay.
    pub fn delay(mut self, delay: Duration) -> Shape {
        self.delay = delay;
        self
    }

    /// The same with jitter.
    pub fn jitter(mut self, jitter: Duration) -> Shape {
        self.jitter = jitter;
        self
    }

    /// The same with a loss probability.
    pub fn loss(mut self, loss: f64) -> Shape {
        self.loss = loss.clamp(0.0, 1.0);
        self
    }

    /// The same with a bandwidth cap in kbit/s (1 kbit = 1,000 bits).
    pub fn kbit(mut self, kbit: u64) -> Shape {
        self.rate_bps = Some(kbit.max(1) * 1000);
        self
    }

    /// The same with a queue of `bytes` behind the cap.
    pub fn queue(mut self, bytes: usize) -> Shape {
        self.queue_bytes = bytes;
        self
    }

    /// The time `bytes` take to cross the cap (zero without a cap).
    pub fn serialization(&self, bytes: u64) -> Duration {
        match self.rate_bps {
            Some(rate) if rate > 0 => {
                Duration::from_nanos(bytes.saturating_mul(8_000_000_000) / rate)
            }
            _ => Duration::ZERO,
        }
    }
}

/// Both directions of a link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkSpec {
    /// What A sends to B goes through this.
    pub a_to_b: Shape,
    /// What B sends to A goes through this.
    pub b_to_a: Shape,
}

impl LinkSpec {
    /// The same shape both ways.
    pub fn symmetric(shape: Shape) -> LinkSpec {
        LinkSpec {
            a_to_b: shape.clone(),
            b_to_a: shape,
        }
    }

    /// A perfect link.
    pub fn perfect() -> LinkSpec {
        LinkSpec::symmetric(Shape::perfect())
    }

    /// The poor rural link of issue #5, with A the city and B the township: 300 ms RTT, 5 %
    /// loss each way, 64 kbit/s up (B to A) and 256 kbit/s down. `poor-link` and `bench` share it.
    pub fn poor() -> LinkSpec {
        let shape = |kbit| {
            Shape::perfect()
                .delay(Duration::from_millis(150))
                .loss(0.05)
                .kbit(kbit)
        };
        LinkSpec {
            a_to_b: shape(256),
            b_to_a: shape(64),
        }
    }

    fn dir(&self, d: Dir) -> &Shape {
        match d {
            Dir::AToB => &self.a_to_b,
            Dir::BToA => &self.b_to_a,
        }
    }
}

/// What happened to the datagrams of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirCounters {
    /// Datagrams delivered to the receiving side.
    pub forwarded_packets: u64,
    /// Their payload bytes.
    pub forwarded_bytes: u64,
    /// Datagrams dropped by the loss draw.
    pub lost_packets: u64,
    /// Their payload bytes.
    pub lost_bytes: u64,
    /// Datagrams dropped because the queue behind the cap was full.
    pub queue_dropped_packets: u64,
    /// Their payload bytes.
    pub queue_dropped_bytes: u64,
    /// Datagrams dropped because the link was cut (on arrival or while in flight).
    pub cut_packets: u64,
    /// Their payload bytes.
    pub cut_bytes: u64,
    /// Datagrams that could not be sent on: the receiving side's address was not known yet, or
    /// the send failed.
    pub unroutable_packets: u64,
}

impl DirCounters {
    /// Every datagram the relay received in this direction.
    pub fn received_packets(&self) -> u64 {
        self.forwarded_packets
            + self.lost_packets
            + self.queue_dropped_packets
            + self.cut_packets
            + self.unroutable_packets
    }
}

/// Both directions' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkCounters {
    /// From A to B.
    pub a_to_b: DirCounters,
    /// From B to A.
    pub b_to_a: DirCounters,
}

impl LinkCounters {
    /// Payload bytes delivered in both directions.
    pub fn forwarded_bytes(&self) -> u64 {
        self.a_to_b.forwarded_bytes + self.b_to_a.forwarded_bytes
    }
}

#[derive(Debug, Default)]
struct AtomicCounters {
    forwarded_packets: AtomicU64,
    forwarded_bytes: AtomicU64,
    lost_packets: AtomicU64,
    lost_bytes: AtomicU64,
    queue_dropped_packets: AtomicU64,
    queue_dropped_bytes: AtomicU64,
    cut_packets: AtomicU64,
    cut_bytes: AtomicU64,
    unroutable_packets: AtomicU64,
}

/// Why a datagram did not make it, or that it did.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Forwarded,
    Lost,
    QueueFull,
    Cut,
    Unroutable,
}

impl AtomicCounters {
    fn count(&self, fate: Fate, bytes: usize) {
        let bytes = bytes as u64;
        let (p, b) = match fate {
            Fate::Forwarded => (&self.forwarded_packets, Some(&self.forwarded_bytes)),
            Fate::Lost => (&self.lost_packets, Some(&self.lost_bytes)),
            Fate::QueueFull => (&self.queue_dropped_packets, Some(&self.queue_dropped_bytes)),
            Fate::Cut => (&self.cut_packets, Some(&self.cut_bytes)),
            Fate::Unroutable => (&self.unroutable_packets, None),
        };
        p.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = b {
            b.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> DirCounters {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DirCounters {
            forwarded_packets: r(&self.forwarded_packets),
            forwarded_bytes: r(&self.forwarded_bytes),
            lost_packets: r(&self.lost_packets),
            lost_bytes: r(&self.lost_bytes),
            queue_dropped_packets: r(&self.queue_dropped_packets),
            queue_dropped_bytes: r(&self.queue_dropped_bytes),
            cut_packets: r(&self.cut_packets),
            cut_bytes: r(&self.cut_bytes),
            unroutable_packets: r(&self.unroutable_packets),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    AToB,
    BToA,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::AToB => 0,
            Dir::BToA => 1,
        }
    }
}

#[derive(Debug)]
struct Shared {
    cut: AtomicBool,
    spec: Mutex<LinkSpec>,
    counters: [AtomicCounters; 2],
    /// Where side A (index 0) and side B (index 1) are: configured, then the source of the last
    /// datagram received from that side.
    peers: [Mutex<Option<SocketAddr>>; 2],
}

/// A poisoned lock only means another relay task panicked; the data (a spec, an address) is
/// still whole, so the relay keeps using it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run-time handle of a link: cut, restore, reshape, read counters. Cheap to clone; every
/// clone controls the same link.
#[derive(Debug, Clone)]
pub struct LinkControl(Arc<Shared>);

impl LinkControl {
    /// Cuts the link: every datagram, including those already in flight, is dropped.
    pub fn cut(&self) {
        self.set_cut(true);
    }

    /// Restores a cut link.
    pub fn restore(&self) {
        self.set_cut(false);
    }

    /// Cuts (`true`) or restores (`false`) the link.
    pub fn set_cut(&self, cut: bool) {
        self.0.cut.store(cut, Ordering::SeqCst);
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.0.cut.load(Ordering::SeqCst)
    }

    /// Changes the link's behaviour for datagrams arriving from now on.
    pub fn set_spec(&self, spec: LinkSpec) {
        *lock(&self.0.spec) = spec;
    }

    /// The link's behaviour now.
    pub fn spec(&self) -> LinkSpec {
        lock(&self.0.spec).clone()
    }

    /// The counters so far.
    pub fn counters(&self) -> LinkCounters {
        LinkCounters {
            a_to_b: self.0.counters[0].snapshot(),
            b_to_a: self.0.counters[1].snapshot(),
        }
    }
}

/// Where a relay listens and whom it forwards to.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The address of the socket facing A (port 0: any free port).
    pub a_bind: SocketAddr,
    /// A's address, if known; otherwise learnt from A's first datagram. Either way the source of
    /// A's latest datagram wins, so a process that binds a fresh port is still answered.
    pub a_peer: Option<SocketAddr>,
    /// The address of the socket facing B.
    pub b_bind: SocketAddr,
    /// B's address, if known.
    pub b_peer: Option<SocketAddr>,
    /// The link's behaviour.
    pub spec: LinkSpec,
    /// Seed of the loss and jitter draws.
    pub seed: u64,
}

/// A running relay. Dropping it stops its tasks and closes its sockets.
#[derive(Debug)]
pub struct Relay {
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    control: LinkControl,
    tasks: Vec<JoinHandle<()>>,
}

/// One datagram on its way.
#[derive(Debug)]
struct InFlight {
    deliver_at: Instant,
    data: Vec<u8>,
}

impl Relay {
    /// Binds both sockets and starts the relay's four tasks on `rt`.
    pub fn start(rt: &Handle, config: RelayConfig) -> Result<Relay> {
        // Binding with std first reports a bad address here, synchronously, instead of in a task.
        let bind = |addr: SocketAddr| -> Result<UdpSocket> {
            let s = std::net::UdpSocket::bind(addr)
                .with_context(|| format!("relay: cannot bind UDP {addr}"))?;
            s.set_nonblocking(true)
                .context("relay: cannot make the socket non-blocking")?;
            let _guard = rt.enter();
            UdpSocket::from_std(s).context("relay: cannot register the socket with tokio")
        };
        let sa = Arc::new(bind(config.a_bind)?);
        let sb = Arc::new(bind(config.b_bind)?);
        let a_addr = sa.local_addr()?;
        let b_addr = sb.local_addr()?;
        let shared = Arc::new(Shared {
            cut: AtomicBool::new(false),
            spec: Mutex::new(config.spec),
            counters: [AtomicCounters::default(), AtomicCounters::default()],
            peers: [Mutex::new(config.a_peer), Mutex::new(config.b_peer)],
        });
        let mut tasks = Vec::with_capacity(4);
        for (dir, from, to) in [(Dir::AToB, sa.clone(), sb.clone()), (Dir::BToA, sb, sa)] {
            let (tx, rx) = mpsc::channel::<InFlight>(IN_FLIGHT);
            let rng = Rng::derive(config.seed, 0x11_4E, dir.index() as u64);
            tasks.push(rt.spawn(ingress(dir, from, shared.clone(), tx, rng)));
            tasks.push(rt.spawn(egress(dir, to, shared.clone(), rx)));
        }
        Ok(Relay {
            a_addr,
            b_addr,
            control: LinkControl(shared),
            tasks,
        })
    }

    /// Where A sends datagrams meant for B (the socket facing A).
    pub fn a_addr(&self) -> SocketAddr {
        self.a_addr
    }

    /// Where B sends datagrams meant for A (the socket facing B).
    pub fn b_addr(&self) -> SocketAddr {
        self.b_addr
    }

    /// The link's control handle.
    pub fn control(&self) -> LinkControl {
        self.control.clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Reads one side's datagrams and decides each one's fate and arrival instant.
async fn ingress(
    dir: Dir,
    sock: Arc<UdpSocket>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<InFlight>,
    mut rng: Rng,
) {
    let side = dir.index();
    let counters = &shared.counters[side];
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // The instant the emulated wire finishes sending what is already queued.
    let mut tx_free_at = Instant::now();
    // The latest arrival instant handed out, so that arrivals never go backwards.
    let mut last_arrival = Instant::now();
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // Linux reports an earlier send's ICMP error on the next receive; the socket is
                // still good, so the relay keeps reading. Anything else ends this direction.
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    continue;
                }
                // The scenarios crate has no logging subscriber; stderr is where a run's operator
                // looks.
                eprintln!("relay: receive failed: {e}");
                return;
            }
        };
        *lock(&shared.peers[side]) = Some(from);
        if shared.cut.load(Ordering::SeqCst) {
            counters.count(Fate::Cut, n);
            continue;
        }
        let shape = lock(&shared.spec).dir(dir).clone();
        let now = Instant::now();
        let departed = if shape.rate_bps.is_some() {
            let start = tx_free_at.max(now);
            let ns_per_byte = shape.serialization(1).as_nanos();
            // Bytes still waiting for the wire = time until it is free × rate.
            let waiting = (start - now)
                .as_nanos()
                .checked_div(ns_per_byte)
                .unwrap_or(0);
            if waiting + n as u128 > shape.queue_bytes as u128 {
                counters.count(Fate::QueueFull, n);
                continue;
            }
            tx_free_at = start + shape.serialization(n as u64);
            tx_free_at
        } else {
            now
        };
        if shape.loss > 0.0 && rng.chance(shape.loss) {
            counters.count(Fate::Lost, n);
            continue;
        }
        let delay = if shape.jitter.is_zero() {
            shape.delay
        } else {
            let j = shape.jitter.as_secs_f64() * (2.0 * rng.f64() - 1.0);
            Duration::from_secs_f64((shape.delay.as_secs_f64() + j).max(0.0))
        };
        let arrival = (departed + delay).max(last_arrival);
        last_arrival = arrival;
        let packet = InFlight {
            deliver_at: arrival,
            data: buf[..n].to_vec(),
        };
        if tx.try_send(packet).is_err() {
            counters.count(Fate::QueueFull, n);
        }
    }
}

/// Delivers one direction's datagrams at their arrival instants.
async fn egress(
    dir: Dir,
    sock: Arc<UdpSocket>,
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<InFlight>,
) {
    let counters = &shared.counters[dir.index()];
    let target = match dir {
        Dir::AToB => 1,
        Dir::BToA => 0,
    };
    while let Some(p) = rx.recv().await {
        tokio::time::sleep_until(p.deliver_at).await;
        if shared.cut.load(Ordering::SeqCst) {
            counters.count(Fate::Cut, p.data.len());
            continue;
        }
        let to = *lock(&shared.peers[target]);
        let Some(to) = to else {
            counters.count(Fate::Unroutable, p.data.len());
            continue;
        };
        match sock.send_to(&p.data, to).await {
            Ok(_) => counters.count(Fate::Forwarded, p.data.len()),
            Err(_) => counters.count(Fate::Unroutable, p.data.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::probe;

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    /// The next datagram `sock` receives into `buf` (its length and sender), within ten seconds.
    async fn recv(sock: &UdpSocket, buf: &mut [u8]) -> (usize, SocketAddr) {
        tokio::time::timeout(Duration::from_secs(10), sock.recv_from(buf))
            .await
            .unwrap()
            .unwrap()
    }

    /// A relay between two loopback sockets of this test, both sides learnt from their traffic
    /// except B, which is given.
    async fn relay_between(spec: LinkSpec, seed: u64) -> (Relay, UdpSocket, UdpSocket) {
        let a = UdpSocket::bind(loopback()).await.unwrap();
        let b = UdpSocket::bind(loopback()).await.unwrap();
        let relay = Relay::start(
            &Handle::current(),
            RelayConfig {
                a_bind: loopback(),
                a_peer: None,
                b_bind: loopback(),
                b_peer: Some(b.local_addr().unwrap()),
                spec,
                seed,
            },
        )
        .unwrap();
        (relay, a, b)
    }

    /// Polls `cond` until it holds or `limit` passes.
    async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cond()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_64_kbit_cap_moves_32_kb_in_about_4_s() {
        let shape = Shape::perfect().kbit(64).delay(Duration::from_millis(20));
        let (relay, a, b) = relay_between(LinkSpec::symmetric(shape.clone()), 1).await;
        let bytes = 32 * 1024;
        let recv = tokio::spawn(async move { probe::receive(b, Duration::from_secs(30)).await });
        let sent = probe::send(&a, relay.a_addr(), bytes, Duration::from_secs(60))
            .await
            .unwrap();
        let got = recv.await.unwrap().unwrap();
        assert_eq!(got.unique_bytes, bytes as u64);
        let expected = shape.serialization(bytes as u64).as_secs_f64();
        let took = sent.elapsed.as_secs_f64();
        // The acknowledgement of the last datagram adds one round trip and its own tiny
        // serialization; 10 % covers timer slack on a loaded machine.
        assert!(
            took >= expected * 0.95 && took <= expected * 1.10 + 0.2,
            "took {took:.2} s, expected {expected:.2} s: {sent:?} {:?}",
            relay.control().counters()
        );
        let c = relay.control().counters();
        assert_eq!(c.a_to_b.queue_dropped_packets, 0);
        assert!(c.a_to_b.forwarded_bytes >= bytes as u64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loss_drops_the_configured_fraction_with_a_fixed_seed() {
        let spec = LinkSpec {
            a_to_b: Shape::perfect().loss(0.2),
            b_to_a: Shape::perfect(),
        };
        let (relay, a, _b) = relay_between(spec, 7).await;
        let to = relay.a_addr();
        let n = 2000u64;
        for i in 0..n {
            a.send_to(&i.to_be_bytes(), to).await.unwrap();
            // Small bursts keep the loopback socket buffers from overflowing, which would make
            // the relay see fewer datagrams than were sent.
            if i % 50 == 49 {
                let c = relay.control();
                let seen = i + 1;
                assert!(
                    wait_for(Duration::from_secs(10), || c
                        .counters()
                        .a_to_b
                        .received_packets()
                        >= seen)
                    .await
                );
            }
        }
        let c = relay.control().counters().a_to_b;
        assert_eq!(c.received_packets(), n);
        let fraction = c.lost_packets as f64 / n as f64;
        assert!((0.17..=0.23).contains(&fraction), "lost {fraction}");
        assert_eq!(c.forwarded_packets + c.lost_packets, n);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_drops_everything_and_a_restore_passes_again() {
        let (relay, a, b) = relay_between(LinkSpec::perfect(), 3).await;
        let ctl = relay.control();
        let to = relay.a_addr();
        ctl.cut();
        for i in 0..50u32 {
            a.send_to(&i.to_be_bytes(), to).await.unwrap();
        }
        assert!(
            wait_for(Duration::from_secs(10), || ctl
                .counters()
                .a_to_b
                .cut_packets
                == 50)
            .await
        );
        assert_eq!(ctl.counters().a_to_b.forwarded_packets, 0);
        ctl.restore();
        a.send_to(b"after", to).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = recv(&b, &mut buf).await;
        // Nothing sent during the cut shows up: the first datagram B sees is the one after it.
        assert_eq!(&buf[..n], b"after");
        assert_eq!(from, relay.b_addr());
        // The reply goes back to wherever A's datagrams came from.
        b.send_to(b"reply", from).await.unwrap();
        let (n, from) = recv(&a, &mut buf).await;
        assert_eq!(&buf[..n], b"reply");
        assert_eq!(from, relay.a_addr());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delay_is_at_least_the_configured_one() {
        let shape = Shape::perfect()
            .delay(Duration::from_millis(200))
            .jitter(Duration::from_millis(50));
        let (relay, a, b) = relay_between(LinkSpec::symmetric(shape), 5).await;
        let mut buf = [0u8; 64];
        for i in 0..5u32 {
            let started = Instant::now();
            a.send_to(&i.to_be_bytes(), relay.a_addr()).await.unwrap();
            recv(&b, &mut buf).await;
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(150), "took {took:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_drops_instead_of_growing() {
        let shape = Shape::perfect().kbit(8).queue(4000);
        let (relay, a, _b) = relay_between(LinkSpec::symmetric(shape), 9).await;
        let to = relay.a_addr();
        for _ in 0..20 {
            a.send_to(&[0u8; 1000], to).await.unwrap();
        }
        let ctl = relay.control();
        wait_for(Duration::from_secs(10), || {
            ctl.counters().a_to_b.queue_dropped_packets >= 14
        })
        .await;
        // 8 kbit/s is 1,000 bytes a second: the first datagram starts at once, four more fit in
        // a 4,000-byte queue, and the rest of the burst is dropped.
        let c = ctl.counters().a_to_b;
        assert!(c.queue_dropped_packets >= 14, "{c:?}");
    }
}
