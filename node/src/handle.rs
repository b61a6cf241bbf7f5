//! [`NodeHandle`]: the node on its own named thread, behind a bounded channel.
//!
//! The window and the sync engine must never block on SQLite, so they talk to the node through a
//! handle: each request is a closure run on the `yizhan-store` thread, which owns the [`Node`].
//! [`NodeHandle::call`] waits for the answer (for the command line and sync tasks);
//! [`NodeHandle::submit`] returns at once with a receiver the UI polls once per frame.

use crate::error::{NodeError, Result};
use crate::node::Node;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

type Job = Box<dyn FnOnce(&mut Node) + Send>;

/// After this long without a request the store thread checkpoints the WAL.
const IDLE: Duration = Duration::from_millis(250);

/// Requests waiting for the store thread; senders block beyond this (back-pressure).
const QUEUE: usize = 256;

/// A handle to a [`Node`] running on its own thread. Cloning shares the same thread.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: SyncSender<Job>,
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
        let join = std::thread::Builder::new()
            .name("yizhan-store".into())
            .spawn(move || {
                let mut node = node;
                loop {
                    match rx.recv_timeout(IDLE) {
                        Ok(job) => job(&mut node),
                        Err(RecvTimeoutError::Timeout) => {
                            if let Err(e) = node.store().checkpoint() {
                                tracing::warn!("WAL checkpoint failed: {e}");
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
        Ok((NodeHandle { tx }, NodeThread { join: Some(join) }))
    }

    /// Queues `f` on the store thread and returns at once.
    pub fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> Result<T> + Send + 'static,
    ) -> Pending<T> {
        let (rtx, rx) = sync_channel(1);
        let job: Job = Box::new(move |node| {
            let _ = rtx.send(f(node));
        });
        if self.tx.send(job).is_err() {
            let (dtx, drx) = sync_channel(1);
            let _ = dtx.send(Err(NodeError::StoreGone));
            return Pending { rx: drx };
        }
        Pending { rx }
    }

    /// Runs `f` on the store thread and waits for its answer.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit(f).wait()
    }
}
