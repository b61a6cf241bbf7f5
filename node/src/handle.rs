//! [`NodeHandle`]: the node on its own named thread, behind a bounded channel.
//!
//! The window and the sync engine must never block on SQLite, so they talk to the node through a
//! handle: each request is a closure run on the `yizhan-store` thread, which owns the [`Node`].
//! [`NodeHandle::call`] waits for the answer (for the command line and sync tasks);
//! [`NodeHandle::submit`] returns at once with a receiver the UI polls once per frame.

use crate::error::{NodeError, Result};
use crate::node::Node;
use std::sync::mpsc::{
    Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel,
};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

type Job = Box<dyn FnOnce(&mut Node) + Send>;

/// After this long without a request the store thread checkpoints the WAL.
const IDLE: Duration = Duration::from_millis(250);

/// Requests waiting for the store thread; senders block beyond this (back-pressure).
const QUEUE: usize = 256;

/// A handle to a [`Node`] running on its own thread. Cloning shares the same thread.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: SyncSender<Job>,
    seq: watch::Receiver<i64>,
}

/// The store thread; joining waits for queued requests to finish.
#[derive(Debug)]
pub struct NodeThread {
    join: Option<JoinHandle<()>>,
}

impl NodeThread {
    /// Waits for the thread to finish (after every handle is dropped).
    pub fn join(mut self) {
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// An answer that will arrive later.
#[derive(Debug)]
pub struct Pending<T> {
    rx: Receiver<Result<T>>,
}

impl<T> Pending<T> {
    /// An answer that is already known.
    fn ready(answer: Result<T>) -> Pending<T> {
        let (tx, rx) = sync_channel(1);
        let _ = tx.send(answer);
        Pending { rx }
    }

    /// The answer if it has arrived; `None` while the request is still running.
    pub fn poll(&self) -> Option<Result<T>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(NodeError::StoreGone)),
        }
    }

    /// Waits for the answer.
    pub fn wait(self) -> Result<T> {
        self.rx.recv().unwrap_or(Err(NodeError::StoreGone))
    }
}

impl NodeHandle {
    /// Moves `node` onto a new thread named `yizhan-store`.
    pub fn spawn(node: Node) -> Result<(NodeHandle, NodeThread)> {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let seq = node.store_ref().subscribe_seq()?;
        let join = std::thread::Builder::new()
            .name("yizhan-store".into())
            .spawn(move || {
                let mut node = node;
                loop {
                    match rx.recv_timeout(IDLE) {
                        Ok(job) => job(&mut node),
                        Err(RecvTimeoutError::Timeout) => {
                            if let Err(e) = node.store().idle() {
                                tracing::warn!("the store's idle work failed: {e}");
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|source| NodeError::Io {
                path: "(store thread)".into(),
                source,
            })?;
        Ok((NodeHandle { tx, seq }, NodeThread { join: Some(join) }))
    }

    /// Follows the node's `seq`: the receiver sees a new value as soon as a document write is
    /// committed on the store thread (local work or received changes), so a sync session or the
    /// window can react at once and do nothing while the node is idle. Writes by another process
    /// on the same data directory are not seen; whoever cares polls `Node::seq` slowly for those.
    pub fn subscribe_seq(&self) -> watch::Receiver<i64> {
        let mut rx = self.seq.clone();
        rx.mark_unchanged();
        rx
    }

    /// Queues `f` on the store thread and returns at once, never waiting (the window calls this
    /// on its UI thread): when the queue is full the answer is [`NodeError::Busy`] at once.
    pub fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> Result<T> + Send + 'static,
    ) -> Pending<T> {
        let (job, rx) = job(f);
        match self.tx.try_send(job) {
            Ok(()) => Pending { rx },
            Err(TrySendError::Full(_)) => Pending::ready(Err(NodeError::Busy)),
            Err(TrySendError::Disconnected(_)) => Pending::ready(Err(NodeError::StoreGone)),
        }
    }

    /// Runs `f` on the store thread and waits for its answer; a full queue makes the caller
    /// wait its turn (back-pressure for sync and the command line, never the window).
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (job, rx) = job(f);
        if self.tx.send(job).is_err() {
            return Err(NodeError::StoreGone);
        }
        Pending { rx }.wait()
    }
}

/// `f` as a job for the store thread, with the receiver of its answer.
fn job<T: Send + 'static>(
    f: impl FnOnce(&mut Node) -> Result<T> + Send + 'static,
) -> (Job, Receiver<Result<T>>) {
    let (rtx, rx) = sync_channel(1);
    let job: Job = Box::new(move |node| {
        let _ = rtx.send(f(node));
    });
    (job, rx)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{Clock, InitParams};
    use std::time::Instant;

    /// A new city node running on its store thread, in a temporary directory.
    fn city_on_its_thread() -> (tempfile::TempDir, NodeHandle, NodeThread) {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::init(
            dir.path(),
            Clock::Fixed(1_772_413_200_000),
            &InitParams::new("测试市", "C", "测试市政务服务中心"),
        )
        .unwrap();
        let (handle, thread) = NodeHandle::spawn(node).unwrap();
        (dir, handle, thread)
    }

    /// Issue #11: a subscriber sees the `seq` of a write as soon as the write has returned, and
    /// nothing while the node does only reads.
    #[test]
    fn subscribers_see_each_committed_write() {
        let (_dir, handle, thread) = city_on_its_thread();
        let mut seq = handle.subscribe_seq();
        let before = *seq.borrow();
        assert_eq!(before, handle.call(|n| n.seq()).unwrap());
        handle.call(|n| n.list(&Default::default())).unwrap();
        assert!(!seq.has_changed().unwrap(), "a read moved seq");
        let written = handle
            .call(|n| {
                n.new_case(&crate::NewCase {
                    item_code: "CT-001".into(),
                    applicant_name: "甲".into(),
                    ..crate::NewCase::default()
                })?;
                n.seq()
            })
            .unwrap();
        assert!(seq.has_changed().unwrap());
        assert_eq!(*seq.borrow_and_update(), written);
        assert!(written > before);
        drop(handle);
        thread.join();
    }

    /// Issue #11: with the store thread stuck on a long request and the queue full, `submit`
    /// answers "busy" at once instead of blocking the window's thread.
    #[test]
    fn submit_never_waits_for_a_full_queue() {
        let (_dir, handle, thread) = city_on_its_thread();
        let (release, hold) = sync_channel::<()>(0);
        let (started_tx, started_rx) = sync_channel::<()>(1);
        let stuck = handle.submit(move |_| {
            let _ = started_tx.send(());
            let _ = hold.recv();
            Ok(())
        });
        // The store thread has taken the stuck request off the queue.
        started_rx.recv().unwrap();
        let queued: Vec<_> = (0..QUEUE).map(|_| handle.submit(|n| n.seq())).collect();
        let started = Instant::now();
        let refused = handle.submit(|n| n.seq());
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(matches!(refused.poll(), Some(Err(NodeError::Busy))));
        release.send(()).unwrap();
        stuck.wait().unwrap();
        for p in queued {
            p.wait().unwrap();
        }
        drop(handle);
        thread.join();
    }
}
