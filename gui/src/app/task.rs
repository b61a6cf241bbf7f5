//! [`Task`]: one request to the store thread in flight, tagged so that a stale answer (for a
//! filter or a case the user has since left) can be recognised and dropped.

use yizhan_node::Result;
use yizhan_node::handle::Pending;

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
