//! Work in flight off the UI thread: [`Task`], one request to the store thread, tagged so that a
//! stale answer (for a filter or a case the user has since left) can be recognised and dropped;
//! and [`in_background`], one job on a thread of its own (writing a file, opening a store).

use std::sync::mpsc::{Receiver, channel};
use yizhan_node::Result;
use yizhan_node::handle::Pending;

/// Runs `work` on a thread named `name`; its answer arrives on the receiver. When the thread
/// cannot be started the receiver answers that at once, so a caller polls one receiver for
/// either outcome.
pub fn in_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> std::result::Result<T, String> + Send + 'static,
) -> Receiver<std::result::Result<T, String>> {
    let (tx, rx) = channel();
    let refused = tx.clone();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        let _ = refused.send(Err(e.to_string()));
    }
    rx
}

/// At most one request in flight, with the tag it was started with.
#[derive(Debug)]
pub struct Task<T> {
    pending: Option<(u64, Pending<T>)>,
}

impl<T> Default for Task<T> {
    fn default() -> Self {
        Task { pending: None }
    }
}

impl<T> Task<T> {
    /// Starts a request, replacing (and so forgetting) one in flight.
    pub fn start(&mut self, tag: u64, pending: Pending<T>) {
        self.pending = Some((tag, pending));
    }

    /// The answer with its tag, once it has arrived.
    pub fn poll(&mut self) -> Option<(u64, Result<T>)> {
        let (tag, pending) = self.pending.as_ref()?;
        let answer = pending.poll()?;
        let tag = *tag;
        self.pending = None;
        Some((tag, answer))
    }

    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }
}
