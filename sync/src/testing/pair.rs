//! [`Pair`]: two sessions driven in memory through encoded frames, and the tallies of what they
//! exchanged ([`Link`]).

use crate::SyncError;
use crate::proto::{self, Msg};
use crate::replica::Replica;
use crate::session::Session;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;
use yizhan_node::Result;

/// A side of a [`Pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that dialed and sent the first hello.
    Dialer,
    /// The side that accepted; always continuous, as every accepting side is over iroh.
    Acceptor,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Dialer => 0,
            Side::Acceptor => 1,
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Dialer => Side::Acceptor,
            Side::Acceptor => Side::Dialer,
        }
    }

    fn direction(self) -> &'static str {
        match self {
            Side::Dialer => "acceptor→dialer",
            Side::Acceptor => "dialer→acceptor",
        }
    }
}

/// A message's kind, as named in [`Link::by_kind`].
pub fn kind_name(m: &Msg) -> &'static str {
    match m {
        Msg::Hello { .. } => "Hello",
        Msg::Certs { .. } => "Certs",
        Msg::Have { .. } => "Have",
        Msg::Want { .. } => "Want",
        Msg::Changes { .. } => "Changes",
        Msg::Sync { .. } => "Sync",
        Msg::Buckets { .. } => "Buckets",
        Msg::BucketWant { .. } => "BucketWant",
        Msg::Idle { .. } => "Idle",
        Msg::Ack { .. } => "Ack",
        Msg::Refused { .. } => "Refused",
        Msg::Packed(_) => "Packed",
        Msg::Saved { .. } => "Saved",
    }
}

/// Frames, bytes and the receiver's handling time of one message kind in one direction.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct KindTally {
    /// Frames.
    pub frames: usize,
    /// Bytes of those frames.
    pub bytes: usize,
    /// Wall time the receiver spent decoding and handling them (and offering its own writes
    /// after each, when continuous), ms.
    pub handle_ms: f64,
    /// CPU time meanwhile, ms, if the pair was given a meter ([`Pair::with_cpu_meter`]).
    pub cpu_ms: f64,
}

/// What a [`Pair`] moved.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Link {
    /// Turns of [`Pair::run`]: each delivers everything queued for the acceptor, then everything
    /// queued for the dialer.
    pub rounds: usize,
    /// Frames delivered, both ways.
    pub frames: usize,
    /// Bytes of those frames.
    pub bytes: usize,
    /// Round trips as the two sessions counted them (the sum of both sides').
    pub round_trips: usize,
    /// Frames lost in flight when the connection was cut.
    pub cut_frames: usize,
    /// Wall time from the pair's creation to the last delivery, ms.
    pub wall_ms: f64,
    /// By `"Kind dialer→acceptor"` / `"Kind acceptor→dialer"`.
    pub by_kind: BTreeMap<String, KindTally>,
}

/// Two sessions and the frames in flight between them. The replicas are passed to each call, so
/// a pair can also be moved onto a node's store thread for one side's turn (the benchmark does).
#[derive(Debug)]
pub struct Pair {
    sessions: [Session; 2],
    /// Encoded frames waiting for each side, in order.
    inbox: [VecDeque<Vec<u8>>; 2],
    continuous_dialer: bool,
    /// The `seq` each side's session last looked at: a continuous session offers local writes
    /// when its node's `seq` moves, as the store's notification has it do in `net`.
    seen: [Option<i64>; 2],
    started: Instant,
    cpu: Option<fn() -> f64>,
    link: Link,
}

/// Bounds the turns of [`Pair::run`]: an exchange that is still talking after this many is
/// looping.
const MAX_ROUNDS: usize = 1_000;

impl Pair {
    /// A pair of sessions, `dialer` made by the dialing node for the acceptor and `acceptor` by
    /// the accepting node for the dialer; nothing is sent until [`Pair::start`].
    pub fn open(dialer: Session, acceptor: Session, continuous_dialer: bool) -> Pair {
        Pair {
            sessions: [dialer, acceptor],
            inbox: [VecDeque::new(), VecDeque::new()],
            continuous_dialer,
            seen: [None, None],
            started: Instant::now(),
            cpu: None,
            link: Link::default(),
        }
    }

    /// Measures each delivery's CPU time with `meter` (ms of the calling thread).
    pub fn with_cpu_meter(mut self, meter: fn() -> f64) -> Pair {
        self.cpu = Some(meter);
        self
    }

    /// The dialer's hello, queued for the acceptor.
    pub fn start<R: Replica + ?Sized>(&mut self, dialer: &mut R) -> Result<(), SyncError> {
        self.seen[0] = Some(dialer.seq()?);
        let out = self.sessions[0].start(dialer)?;
        self.queue(Side::Acceptor, &out);
        Ok(())
    }

    /// Sessions between two replicas in hand, started: `dialer` syncs once (as `sync_once`), the
    /// acceptor is continuous.
    pub fn one_shot<D: Replica + ?Sized, A: Replica + ?Sized>(
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<Pair, SyncError> {
        Pair::between(dialer, acceptor, false)
    }

    /// Sessions between two replicas in hand, started, both continuous (as `keep_synced`).
    pub fn continuous<D: Replica + ?Sized, A: Replica + ?Sized>(
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<Pair, SyncError> {
        Pair::between(dialer, acceptor, true)
    }

    fn between<D: Replica + ?Sized, A: Replica + ?Sized>(
        dialer: &mut D,
        acceptor: &mut A,
        continuous: bool,
    ) -> Result<Pair, SyncError> {
        let sd = Session::new(dialer, acceptor.node_id());
        let sa = Session::new(acceptor, dialer.node_id());
        let mut pair = Pair::open(sd, sa, continuous);
        pair.start(dialer)?;
        Ok(pair)
    }

    fn queue(&mut self, to: Side, msgs: &[Msg]) {
        for m in msgs {
            self.inbox[to.index()].push_back(proto::encode(m));
        }
    }

    fn is_continuous(&self, side: Side) -> bool {
        side == Side::Acceptor || self.continuous_dialer
    }

    /// A side's session.
    pub fn session(&self, side: Side) -> &Session {
        &self.sessions[side.index()]
    }

    /// Frames waiting for a side.
    pub fn pending(&self, side: Side) -> usize {
        self.inbox[side.index()].len()
    }

    /// The next message waiting for a side, decoded (to look at what is about to cross).
    pub fn peek(&self, to: Side) -> Option<Result<Msg, SyncError>> {
        self.inbox[to.index()]
            .front()
            .map(|f| proto::decode_frame(f).map_err(SyncError::from))
    }

    /// Whether no frame is in flight.
    pub fn is_quiet(&self) -> bool {
        self.inbox.iter().all(VecDeque::is_empty)
    }

    /// What moved so far.
    pub fn link(&self) -> Link {
        let mut link = self.link.clone();
        link.round_trips = self.sessions.iter().map(|s| s.stats().round_trips).sum();
        link
    }

    /// Delivers up to `max` frames queued for `to` (all of them with `usize::MAX`) and queues its
    /// answers for the other side; returns how many were delivered. A continuous side offers its
    /// own writes after each frame, as the store's `seq` notification has it do; a one-shot
    /// dialer that is done handles only `Ack`s and answers nothing, as after the adapter's loop.
    pub fn deliver<R: Replica + ?Sized>(
        &mut self,
        to: Side,
        node: &mut R,
        max: usize,
    ) -> Result<usize, SyncError> {
        let mut n = 0;
        while n < max {
            let Some(frame) = self.inbox[to.index()].pop_front() else {
                break;
            };
            n += 1;
            // A session follows its node's `seq` from its first frame on, as it subscribes when
            // it starts: writes before that are offered by the exchange itself.
            if self.seen[to.index()].is_none() {
                self.seen[to.index()] = Some(node.seq()?);
            }
            let msg = proto::decode_frame(&frame)?;
            // A packed frame is tallied under the kind it holds.
            let key = match &msg {
                Msg::Packed(_) => format!(
                    "{} (packed) {}",
                    crate::wire::unpack(msg.clone()).map_or("Packed", |m| kind_name(&m)),
                    to.direction()
                ),
                _ => format!("{} {}", kind_name(&msg), to.direction()),
            };
            let started = Instant::now();
            let cpu = self.cpu.map(|f| f());
            let continuous = self.is_continuous(to);
            let session = &mut self.sessions[to.index()];
            let mut out = Vec::new();
            if !continuous && to == Side::Dialer && session.is_done() {
                if matches!(msg, Msg::Ack { .. }) {
                    session.handle(node, msg)?;
                }
            } else {
                out = session.handle(node, msg)?;
            }
            let tally = self.link.by_kind.entry(key).or_default();
            tally.frames += 1;
            tally.bytes += frame.len();
            tally.handle_ms += started.elapsed().as_secs_f64() * 1e3;
            if let (Some(f), Some(before)) = (self.cpu, cpu) {
                tally.cpu_ms += f() - before;
            }
            self.link.frames += 1;
            self.link.bytes += frame.len();
            self.queue(to.other(), &out);
            if continuous {
                self.notify(to, node)?;
            }
        }
        self.link.wall_ms = self.started.elapsed().as_secs_f64() * 1e3;
        Ok(n)
    }

    /// The store's `seq` notification: if `side` is continuous and its node's `seq` moved since
    /// its session last looked, the session offers what is new. [`Pair::deliver`] calls it after
    /// each frame (the session's own writes move `seq` too); call it after a local write.
    pub fn notify<R: Replica + ?Sized>(
        &mut self,
        side: Side,
        node: &mut R,
    ) -> Result<(), SyncError> {
        if !self.is_continuous(side) {
            return Ok(());
        }
        let seq = node.seq()?;
        if self.seen[side.index()] == Some(seq) {
            return Ok(());
        }
        self.seen[side.index()] = Some(seq);
        let out = self.sessions[side.index()].poll_local(node)?;
        self.queue(side.other(), &out);
        Ok(())
    }

    /// A heartbeat at `side` (continuous sessions send one every few seconds while idle).
    pub fn heartbeat<R: Replica + ?Sized>(
        &mut self,
        side: Side,
        node: &mut R,
    ) -> Result<(), SyncError> {
        let out = self.sessions[side.index()].heartbeat(node)?;
        self.queue(side.other(), &out);
        Ok(())
    }

    /// One turn: everything queued for the acceptor, then everything queued for the dialer.
    pub fn turn<D: Replica + ?Sized, A: Replica + ?Sized>(
        &mut self,
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<(), SyncError> {
        self.link.rounds += 1;
        self.deliver(Side::Acceptor, acceptor, usize::MAX)?;
        self.deliver(Side::Dialer, dialer, usize::MAX)?;
        Ok(())
    }

    /// Turns until nothing is in flight. A one-shot exchange must then be over on both sides; a
    /// failure of either side is returned as it happened.
    pub fn run<D: Replica + ?Sized, A: Replica + ?Sized>(
        &mut self,
        dialer: &mut D,
        acceptor: &mut A,
    ) -> Result<Link, SyncError> {
        for _ in 0..MAX_ROUNDS {
            if self.is_quiet() {
                break;
            }
            self.turn(dialer, acceptor)?;
        }
        self.finish()
    }

    /// What moved, after checking that the exchange is over: nothing in flight and, for a
    /// one-shot dialer, both sides done.
    pub fn finish(&self) -> Result<Link, SyncError> {
        if !self.is_quiet() {
            return Err(SyncError::Protocol(format!(
                "still talking after {MAX_ROUNDS} turns: {:?}",
                self.sessions
            )));
        }
        if !self.continuous_dialer && !self.sessions.iter().all(Session::is_done) {
            return Err(SyncError::Protocol(format!(
                "sessions did not finish: {:?}",
                self.sessions
            )));
        }
        Ok(self.link())
    }

    /// The connection ends: whatever was in flight is lost. Returns what moved.
    pub fn cut(mut self) -> Link {
        self.link.cut_frames = self.inbox.iter().map(VecDeque::len).sum();
        self.link()
    }
}
