//! Running the sync protocol in memory: an in-memory [`Replica`] and a driver for two sessions.
//!
//! Nothing here touches a socket or SQLite, and nothing pulls a test-only crate into the normal
//! dependency tree: the module is ordinary library code so that the sync tests and the
//! benchmarks (`scenarios`' `bench-sync`) share one driver instead of each keeping a copy.
//!
//! - [`MemNetwork`] makes a network in memory: a root key, stations, and nodes with real
//!   certificates (`yizhan_node::cert`) whose keys are derived from a seed, so every run is the
//!   same.
//! - [`MemReplica`] is one node of it: real Automerge case documents in a map, a node-wide `seq`
//!   stamped on every write, peers' watermarks, Automerge sync states and contact records, and
//!   the same author and scope checks as the store-backed node when it applies a peer's changes
//!   (a change by a non-member or a revoked node, a case outside either side's scope, a change by
//!   a station that never held the case: the whole batch is refused). The station tree is fixed
//!   when the replica is made; network documents are not synced between in-memory replicas.
//! - [`Pair`] pumps encoded frames between a dialing and an accepting session, running each side
//!   as production does: the acceptor is continuous (it offers its own writes as soon as they are
//!   committed, which the store's `seq` notification triggers in `net`), the dialer one-shot or
//!   continuous. A one-shot dialer that is done stops handling anything but the peer's `Ack`s, as
//!   the adapter's linger does. The caller chooses how frames interleave ([`Pair::deliver`] one
//!   side at a time, [`Pair::run`] in turns) and where the connection is cut ([`Pair::cut`]);
//!   frames of one direction are never reordered or lost one by one, because the transport is one
//!   reliable, ordered stream whose only failure is to end.
//!
//! ```
//! use yizhan_node::station::Tier;
//! use yizhan_sync::testing::{MemNetwork, Pair};
//!
//! let mut net = MemNetwork::new(7);
//! net.add_station("T", Tier::Township, "C").unwrap();
//! let mut city = net.replica("C").unwrap();
//! let mut town = net.replica("T").unwrap();
//! let id = town.new_case().unwrap();
//! let link = Pair::one_shot(&mut town, &mut city).unwrap().run(&mut town, &mut city).unwrap();
//! assert_eq!(city.heads_of_case(&id), town.heads_of_case(&id));
//! assert!(link.round_trips <= 4);
//! ```
//!
//! `network.rs` holds the in-memory network and its keys, `replica.rs` the in-memory node and its
//! `Replica` implementation, `pair.rs` the driver of two sessions and what it tallies.

mod network;
mod pair;
mod replica;

pub use network::MemNetwork;
pub use pair::{KindTally, Link, Pair, Side, kind_name};
pub use replica::{MemPeer, MemReplica};

/// 2026-03-02T09:00:00+08:00: the clock of every in-memory replica starts here.
pub const NOW: i64 = 1_772_413_200_000;
