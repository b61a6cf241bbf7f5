//! One session over an open stream pair: the reader task that always drains the incoming side,
//! the writer task that owns the outgoing side, and the loop between them that feeds the
//! [`Session`] on the store thread and keeps the live-session record.

use super::*;

/// Reads one frame; `None` when the peer finished the stream cleanly between frames.
pub(super) async fn read_frame<T: for<'a> serde::Deserialize<'a>>(
    recv: &mut (impl AsyncRead + Unpin),
) -> Result<Option<(T, usize)>, SyncError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        let n = recv
            .read(&mut header[got..])
            .await
            .map_err(|e| SyncError::Io(format!("read: {e}")))?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(SyncError::Io(
                    "the peer closed the stream inside a frame header".into(),
                ))
            };
        }
        got += n;
    }
    let len = proto::check_len(header)?;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body)
        .await
        .map_err(|e| SyncError::Io(format!("read: {e}")))?;
    let msg = proto::decode(&body)?;
    Ok(Some((msg, len + 4)))
}

/// The writer task: writes queued frames in order, then finishes the stream when the queue is
/// closed. It stops at the first failed write (the peer is gone); the loop notices when its next
/// frame cannot be queued.
async fn write_frames(
    mut send: impl AsyncWrite + Unpin,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    unsent: Arc<AtomicU64>,
) -> Result<(), SyncError> {
    while let Some(frame) = frames.recv().await {
        send.write_all(&frame)
            .await
            .map_err(|e| SyncError::Io(format!("write: {e}")))?;
        unsent.fetch_sub(frame.len() as u64, Ordering::Relaxed);
    }
    send.shutdown()
        .await
        .map_err(|e| SyncError::Io(format!("finish: {e}")))
}

/// How a session runs: one-shot or continuous, and what it reports to and listens for.
#[derive(Debug, Clone)]
struct Drive {
    handle: NodeHandle,
    peer: String,
    /// The highest protocol version to offer or accept.
    version: u32,
    dialer: bool,
    continuous: bool,
    shutdown: watch::Receiver<bool>,
    kick: Kick,
    live: LiveSessions,
}

/// What every session of a node shares: its store, its shutdown, "sync now" and the live status.
#[derive(Debug, Clone)]
pub(super) struct Sessions {
    pub(super) handle: NodeHandle,
    pub(super) live: LiveSessions,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) kick: Kick,
}

impl Sessions {
    /// Runs one session with `peer` over an open stream pair, speaking protocol `version` at
    /// most, listed among the live sessions while it runs.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run(
        &self,
        peer: &str,
        dialer: bool,
        continuous: bool,
        version: u32,
        send: impl AsyncWrite + Unpin + Send + 'static,
        recv: impl AsyncRead + Unpin + Send + 'static,
    ) -> SessionReport {
        let _active = ActiveGuard::new(&self.live, peer, dialer);
        let d = Drive {
            handle: self.handle.clone(),
            peer: peer.to_string(),
            version,
            dialer,
            continuous,
            shutdown: self.shutdown.clone(),
            kick: self.kick.clone(),
            live: self.live.clone(),
        };
        drive(d, send, recv).await
    }
}

/// Runs one session over an open stream pair until it is done (one-shot), the peer leaves, or
/// `shutdown` fires. While it runs, its progress is kept in `live` under the peer's id.
async fn drive<R, W>(d: Drive, send: W, mut recv: R) -> SessionReport
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Drive {
        handle,
        peer,
        version,
        dialer,
        continuous,
        mut shutdown,
        mut kick,
        live,
    } = d;
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Result<(Msg, usize), SyncError>>(8);
    let reader = tokio::spawn(async move {
        loop {
            let r = read_frame::<Msg>(&mut recv).await;
            let stop = !matches!(r, Ok(Some(_)));
            let item = match r {
                Ok(Some(m)) => Ok(m),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    // Unbounded on purpose, see the module documentation: a bounded queue here is exactly the
    // deadlock this task exists to prevent.
    let (wtx, wrx) = mpsc::unbounded_channel::<Vec<u8>>();
    let unsent = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_frames(send, wrx, unsent.clone()));
    let mut report = SessionReport {
        peer: peer.clone(),
        station: None,
        stats: SessionStats::default(),
        bytes_in: 0,
        bytes_out: 0,
        ms: 0,
        error: None,
        refused: None,
    };
    let queue = |frame: Vec<u8>, report: &mut SessionReport| -> Result<(), SyncError> {
        report.bytes_out += frame.len() as u64;
        unsent.fetch_add(frame.len() as u64, Ordering::Relaxed);
        wtx.send(frame)
            .map_err(|_| SyncError::Io("the connection closed while writing".into()))
    };
    let show = |report: &SessionReport, awaiting: usize| {
        if let Ok(mut l) = live.lock() {
            l.insert(
                peer.clone(),
                LiveSession {
                    dialer,
                    station: report.station.clone(),
                    bytes_in: report.bytes_in,
                    bytes_out: report.bytes_out,
                    unsent_bytes: unsent.load(Ordering::Relaxed),
                    awaiting,
                    docs_in: report.stats.docs_in,
                    docs_out: report.stats.docs_out,
                },
            );
        }
    };
    show(&report, 0);
    let mut session_after: Option<Session> = None;
    let result: Result<(), SyncError> = async {
        let p = peer.clone();
        let (mut session, out) = on_store(&handle, move |node| {
            let mut s = Session::new(node, &p).speaking(version);
            let out = if dialer { s.start(node) } else { Ok(Vec::new()) };
            Ok((s, out))
        })
        .await?;
        let mut out = out?;
        // Every committed write moves the store's `seq`, local work and received changes alike:
        // the session offers what is new right away, and an idle node wakes for nothing.
        let mut seq = handle.subscribe_seq();
        let mut tick = tokio::time::interval(SLOW_POLL);
        tick.reset();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.reset();
        kick.borrow_and_update();
        let r = loop {
            for m in out.drain(..) {
                queue(proto::encode(&m), &mut report)?;
            }
            report.stats = session.stats().clone();
            report.station = session.peer_station().map(str::to_string);
            show(&report, session.awaiting());
            if !continuous && session.is_done() {
                break Ok(());
            }
            tokio::select! {
                item = rx.recv() => {
                    let Some(item) = item else {
                        // The peer finished its side: normal for a continuous session.
                        break if continuous || session.is_done() { Ok(()) } else {
                            Err(SyncError::Io("the peer closed the connection mid-sync".into()))
                        };
                    };
                    let (msg, n) = item?;
                    report.bytes_in += n as u64;
                    let (s, r) = on_store(&handle, move |node| { let r = session.handle(node, msg); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                Ok(()) = seq.changed(), if continuous => {
                    seq.borrow_and_update();
                    let (s, r) = on_store(&handle, move |node| { let r = session.poll_local(node); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                _ = tick.tick(), if continuous => {
                    let (s, r) = on_store(&handle, move |node| { let r = session.poll_local(node); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                _ = heartbeat.tick(), if continuous => {
                    let (s, r) = on_store(&handle, move |node| { let r = session.heartbeat(node); Ok((session, r)) }).await?;
                    session = s;
                    out = r?;
                }
                Ok(()) = kick.changed(), if continuous => {
                    if kicked(&kick, &peer) {
                        let (s, r) = on_store(&handle, move |node| { let r = session.poll_local(node); Ok((session, r)) }).await?;
                        session = s;
                        out = r?;
                    }
                }
                _ = shutdown.changed() => break Ok(()),
            }
        };
        session_after = Some(session);
        r
    }
    .await;
    if let Err(e) = &result {
        report.error = Some(e.to_string());
        if let SyncError::Refused(d, _) = e {
            report.refused = Some(*d);
        }
        let _ = queue(
            proto::encode(&Msg::Refused {
                kind: e.denial(),
                reason: e.to_string(),
            }),
            &mut report,
        );
        let p = peer.clone();
        let msg = e.stored();
        // Only members get a row in `peers`; a stranger's failed attempt is just logged.
        if report.station.is_some() || matches!(e, SyncError::Refused(..)) {
            let _ = on_store(&handle, move |node| {
                node.record_contact(&p, Contact::Failed(&msg))
            })
            .await;
        }
        tracing::debug!(peer = %short(&peer), "sync session failed: {e}");
    }
    // Closing the queue lets the writer write what is left and finish this side. A healthy
    // session waits for that however long the link takes (a dead link fails the writes within the
    // QUIC idle timeout); a failed one gives the peer only a moment to read the refusal.
    drop(wtx);
    let written = if result.is_ok() {
        Ok(writer.await)
    } else {
        tokio::time::timeout(LINGER, writer).await
    };
    if report.error.is_none() {
        match written {
            Ok(Ok(Ok(()))) | Err(_) => {}
            Ok(Ok(Err(e))) => report.error = Some(e.to_string()),
            Ok(Err(e)) => report.error = Some(format!("writer task: {e}")),
        }
    }
    // Closing the connection before the peer has read everything could drop this side's last
    // frames: a one-shot side that is done waits, briefly, for the peer to finish its own side.
    // What the peer still says meanwhile is its acknowledgement of this side's last offers
    // (`Ack`), handled so that a clean exchange leaves nothing counted as pending; answers to it
    // are not sent, the exchange being over.
    if report.error.is_none()
        && !continuous
        && let Some(mut session) = session_after
    {
        let _ = tokio::time::timeout(LINGER, async {
            while let Some(Ok((msg, n))) = rx.recv().await {
                report.bytes_in += n as u64;
                if matches!(msg, Msg::Ack { .. }) {
                    let r = on_store(&handle, move |node| {
                        let r = session.handle(node, msg);
                        Ok((session, r))
                    })
                    .await;
                    match r {
                        Ok((s, _)) => session = s,
                        Err(_) => break,
                    }
                }
            }
        })
        .await;
    }
    reader.abort();
    report.ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// One one-shot session over any ordered, reliable byte stream (the iroh adapter uses a QUIC
/// stream; tests use an in-memory pipe with a small buffer to prove that two sides answering with
/// large batches at once do not deadlock). `peer` must be the node id at the other end: the
/// session verifies the peer's certificate against it.
pub async fn sync_stream<R, W>(
    handle: NodeHandle,
    peer: String,
    recv: R,
    send: W,
    dialer: bool,
) -> SessionReport
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (_keep, shutdown) = watch::channel(false);
    let (_kick, kick) = watch::channel((0, None));
    let sessions = Sessions {
        handle,
        live: LiveSessions::default(),
        shutdown,
        kick,
    };
    sessions
        .run(&peer, dialer, false, VERSION, send, recv)
        .await
}

/// Runs `f` on the store thread without stalling the async runtime: the wait for the store
/// happens on tokio's blocking pool.
pub(crate) async fn on_store<T: Send + 'static>(
    handle: &NodeHandle,
    f: impl FnOnce(&mut Node) -> yizhan_node::Result<T> + Send + 'static,
) -> Result<T, SyncError> {
    let h = handle.clone();
    tokio::task::spawn_blocking(move || h.call(f))
        .await
        .map_err(|e| SyncError::Io(format!("store task: {e}")))?
        .map_err(SyncError::from)
}

/// Marks a peer as having a running session for as long as it lives, so that a session whose
/// task is aborted (a link switched off in the demo, a runtime shutting down) does not leave the
/// peer marked forever and block reconnecting.
struct ActiveGuard {
    active: LiveSessions,
    peer: String,
}

impl ActiveGuard {
    fn new(active: &LiveSessions, peer: &str, dialer: bool) -> ActiveGuard {
        if let Ok(mut a) = active.lock() {
            a.insert(
                peer.to_string(),
                LiveSession {
                    dialer,
                    ..LiveSession::default()
                },
            );
        }
        ActiveGuard {
            active: active.clone(),
            peer: peer.to_string(),
        }
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Ok(mut a) = self.active.lock() {
            a.remove(&self.peer);
        }
    }
}
