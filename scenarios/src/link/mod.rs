//! The link emulator: poor rural links between real nodes, reproducibly.
//!
//! - [`relay`]: a userspace UDP relay applying delay, jitter, loss, a bandwidth cap with a bounded
//!   queue, and a cut, per direction, with counters. It can run anywhere (the unit tests run it
//!   on loopback with plain UDP).
//! - [`netns`]: the lab. iroh finds direct paths around a relay on one loopback, so the link
//!   scenarios put each node in its own network namespace and the relays in the root namespace,
//!   the only path between them.
//! - [`probe`]: a plain-UDP paced transfer (numbered datagrams, acknowledgements), whose bytes can
//!   be compared one for one with the relay's counters.
//! - [`check`]: `yizhan-scenarios link-check`, which moves bytes one way through a relay between
//!   two namespaces, first with the probe and then as a real sync between two `yizhan` nodes, and
//!   prints the wall time beside the time the link's spec predicts and the relay's counters.
//!
//! Typical use by a scenario (nodes 0 and 1, a `yizhan serve` in each):
//!
//! ```text
//! let lab = Lab::new(2)?;
//! let link = lab.link(0, Some(7000), 1, Some(7000), LinkSpec::symmetric(shape), seed)?;
//! lab.spawn(0, Command::new(yizhan).args(["--data", d0, "serve", "--listen", "0.0.0.0:7000"]))?;
//! // node 0 knows node 1 at link.a_dials, node 1 knows node 0 at link.b_dials:
//! //   yizhan --data d0 peer add <id1> <link.a_dials>; yizhan --data d1 peer add <id0> <link.b_dials>
//! link.control.cut(); … link.control.restore(); link.control.counters()
//! ```

// The lab's API is there for the scenarios runner (`run/`); until every item has a caller there,
// the ones only this module's tests use would warn.
#![allow(dead_code)]

pub mod check;
pub mod netns;
pub mod probe;
pub mod relay;

// The API the scenarios runner builds on, re-exported in one place.
#[allow(unused_imports)]
pub use netns::{Lab, LabLink, LabUnavailable, check_available};
#[allow(unused_imports)]
pub use relay::{DirCounters, LinkControl, LinkCounters, LinkSpec, Relay, RelayConfig, Shape};
