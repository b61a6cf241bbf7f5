//! The sync integration tests, one binary (one link step, one process to start): the sans-I/O
//! session between real stores, interrupted and duplex exchanges, data mules, revocation, real
//! iroh endpoints, and the protocol's properties on in-memory replicas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod common;
mod duplex;
mod interrupted;
mod iroh;
mod mem;
mod mule;
mod props;
mod revoke;
mod session;
mod wire;
