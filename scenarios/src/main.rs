//! `yizhan-scenarios`: simulated counties and benchmarks of the Yizhan station core.
//!
//! Subcommands:
//! - `bench-store`: the station-core benchmark (intake, open, lists, statistics, memory) on a
//!   generated county store; see [`bench_store`].
//! - `bench-sync`: the sync benchmark (first contact, idle reconnect, catch-up, round trips)
//!   between a city node and a township node over real iroh endpoints on loopback; see
//!   [`bench_sync`].
//! - `bench`: Yizhan's sync beside samod (the Rust automerge-repo, a per-document peer) over
//!   iroh and beside the lower bound, on loopback and on the poor link; see [`bench_cmp`].
//! - `samod-peer` (internal): one side of bench's samod sync; see [`samod_peer`].
//! - `run NAME | --all [--quick]`, `list`: scenarios on a simulated county of real nodes with the
//!   invariants checked; see [`run`].
//! - `link-check`: the link emulator's self-check: bytes through a shaped relay between two
//!   network namespaces, plain UDP and a real sync between two `yizhan` nodes; see [`link`].
//! - `link-probe` (internal): one end of link-check's plain-UDP transfer, run inside a namespace.
//! - `gen-store` (internal): generates a county store; `bench-store` runs it in a child process.
//! - `probe-open` (internal): one cold open-to-ready in a fresh process.

mod bench_cmp;
mod bench_store;
mod bench_sync;
mod bounds;
mod county;
mod generate;
mod link;
mod measure;
mod plan;
mod report;
use yizhan_county::rng;
mod run;
mod samod_peer;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "yizhan-scenarios",
    version,
    about = "Yizhan scenarios and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Station-core benchmark: intake, open-to-ready, filtered lists, statistics and memory on a
    /// generated county store (1,000,000 cases by default).
    BenchStore(bench_store::BenchArgs),
    /// Sync benchmark: first contact, idle reconnect, catch-up and round trips between a city
    /// and a township node over iroh on loopback (100,000 cases and 5,000 changed by default).
    BenchSync(bench_sync::SyncArgs),
    /// Comparison benchmark: Yizhan's sync beside samod (a per-document peer, the Rust
    /// automerge-repo) over iroh and beside the lower bound, on the same data and links: idle
    /// reconnect, catch-up, first contact; on loopback and on the poor link.
    Bench(bench_cmp::CmpArgs),
    /// Runs a scenario (or --all) on a simulated county of real nodes and checks the invariants.
    Run(run::RunArgs),
    /// Lists the scenarios.
    List,
    /// Link emulator self-check: moves bytes through a shaped relay between two network
    /// namespaces (plain UDP, then a real sync between two `yizhan` nodes) and prints the wall
    /// time beside the time the spec predicts, with the relay's counters. Needs root.
    LinkCheck(link::check::CheckArgs),
    /// One end of link-check's plain-UDP transfer (run inside a namespace).
    #[command(hide = true)]
    LinkProbe(link::check::ProbeArgs),
    /// One side of the per-document comparison: a samod peer over iroh (used by bench).
    #[command(hide = true)]
    SamodPeer(samod_peer::PeerArgs),
    /// Generates a county store (used by bench-store).
    #[command(hide = true)]
    GenStore(generate::GenArgs),
    /// One open-to-ready in this fresh process, as JSON (used by bench-store).
    #[command(hide = true)]
    ProbeOpen(bench_store::ProbeArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::BenchStore(args) => bench_store::bench_store(&args),
        Cmd::BenchSync(args) => bench_sync::bench_sync(&args),
        Cmd::Bench(args) => bench_cmp::bench(&args),
        Cmd::Run(args) => run::run(&args),
        Cmd::List => {
            run::list();
            Ok(())
        }
        Cmd::LinkCheck(args) => link::check::link_check(&args),
        Cmd::LinkProbe(args) => link::check::link_probe(&args),
        Cmd::SamodPeer(args) => samod_peer::samod_peer(&args),
        Cmd::GenStore(args) => bench_store::gen_store(&args),
        Cmd::ProbeOpen(args) => bench_store::probe_open(&args),
    }
}
