//! The demo county's controls, as the window sees them.
//!
//! `yizhan demo` runs a whole county (city, townships, villages) in one process, each station a
//! real node with its own store and iroh endpoint. The window does not know how the county is
//! built; it only needs what this trait offers: the links between stations with a switch each, a
//! stream of villagers' applications to start and stop, and a snapshot of each station's sync
//! status. Implementations must answer from memory and never block (the window calls these every
//! frame on the UI thread); anything slow happens on the county's own threads.

use std::fmt::Debug;

/// One link between two stations of the demo county.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// A stable id the county understands in [`County::set_link`].
    pub id: usize,
    /// One end (a label as shown in the station switcher).
    pub a: String,
    /// The other end.
    pub b: String,
    /// Whether the link is up now.
    pub up: bool,
}

/// How one station of the county is doing with sync, as of the county's last observation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationSyncStatus {
    /// The station's label (as in [`crate::app::StationSlot::label`]).
    pub label: String,
    /// Peers currently connected.
    pub connected_peers: usize,
    /// Documents this station has that some peer still lacks.
    pub pending_docs: usize,
    /// When the station last finished a sync with anyone (milliseconds since the Unix epoch).
    pub last_sync_ms: Option<i64>,
    /// The last sync error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The demo county's controls. Every method must return at once.
pub trait County: Debug + Send {
    /// Every link with its state.
    fn links(&self) -> Vec<LinkInfo>;
    /// Cuts (`up == false`) or restores a link.
    fn set_link(&mut self, id: usize, up: bool);
    /// Whether the stream of applications is running.
    fn streaming(&self) -> bool;
    /// Starts or stops the stream of villagers' applications.
    fn set_streaming(&mut self, on: bool);
    /// Each station's sync status, in the order of the station switcher.
    fn sync_status(&self) -> Vec<StationSyncStatus>;
}
