//! Byte and frame counts of a peer's streams, for the report.

use iroh::endpoint::{Connection, RecvStream, SendStream};
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Traffic on one side's connections.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) bytes_in: AtomicU64,
    pub(super) bytes_out: AtomicU64,
    pub(super) frames_in: AtomicU64,
    pub(super) frames_out: AtomicU64,
}

impl Counters {
    pub(super) fn json(&self) -> Value {
        json!({
            "bytes_in": self.bytes_in.load(Ordering::Relaxed),
            "bytes_out": self.bytes_out.load(Ordering::Relaxed),
            "frames_in": self.frames_in.load(Ordering::Relaxed),
            "frames_out": self.frames_out.load(Ordering::Relaxed),
        })
    }
}

/// Follows a stream of length-prefixed frames (4-byte big-endian lengths) to count them.
#[derive(Debug, Default)]
pub(super) struct FrameCounter {
    pub(super) header: [u8; 4],
    pub(super) have: usize,
    pub(super) left: u64,
}

impl FrameCounter {
    /// Feeds bytes; returns how many frames began in them.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut frames = 0;
        while !bytes.is_empty() {
            if self.left > 0 {
                let take = (self.left.min(bytes.len() as u64)) as usize;
                self.left -= take as u64;
                bytes = &bytes[take..];
                continue;
            }
            self.header[self.have] = bytes[0];
            self.have += 1;
            bytes = &bytes[1..];
            if self.have == 4 {
                self.have = 0;
                self.left = u64::from(u32::from_be_bytes(self.header));
                frames += 1;
            }
        }
        frames
    }
}

/// An iroh bi-directional stream, counted, as one tokio I/O object for samod's framing. It holds
/// the connection so that the connection lives as long as samod uses the stream.
///
/// Writes never block: they go to a writer task through an unbounded queue. samod's connection
/// loop awaits each send before it reads again, so when both sides write more than the QUIC
/// windows hold, each waits for the other to read and the connection deadlocks (seen here in a
/// catch-up of 10,000 documents: both processes idle, the sync stalled for good). Yizhan's own
/// adapter has a writer task for the same reason; samod gets the same help. The queue is
/// unbounded as samod's own outbound channel already is.
pub(super) struct CountedStream {
    pub(super) recv: RecvStream,
    pub(super) queue: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    pub(super) counters: Arc<Counters>,
    pub(super) reading: FrameCounter,
    pub(super) writing: FrameCounter,
    pub(super) _conn: Connection,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.recv).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let got = &buf.filled()[before..];
            this.counters
                .bytes_in
                .fetch_add(got.len() as u64, Ordering::Relaxed);
            let frames = this.reading.feed(got);
            this.counters.frames_in.fetch_add(frames, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.queue.send(buf.to_vec()).is_err() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the stream's writer ended",
            )));
        }
        this.counters
            .bytes_out
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        let frames = this.writing.feed(buf);
        this.counters
            .frames_out
            .fetch_add(frames, Ordering::Relaxed);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        // Queued bytes are the writer task's to send.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        // The writer finishes the stream once this side's sender is dropped.
        Poll::Ready(Ok(()))
    }
}

/// Wraps a stream; must be called inside the runtime (it spawns the writer task).
pub(super) fn counted(
    conn: Connection,
    mut send: SendStream,
    recv: RecvStream,
    counters: &Arc<Counters>,
) -> CountedStream {
    let (queue, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(buf) = rx.recv().await {
            if tokio::io::AsyncWriteExt::write_all(&mut send, &buf)
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = send.finish();
    });
    CountedStream {
        recv,
        queue,
        counters: counters.clone(),
        reading: FrameCounter::default(),
        writing: FrameCounter::default(),
        _conn: conn,
    }
}
