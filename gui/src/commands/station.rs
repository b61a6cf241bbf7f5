//! `yizhan station …`: the network's stations.

use super::Ctx;
use crate::output;
use anyhow::Result;
use clap::Subcommand;
use yizhan_node::network::Station;

#[derive(Debug, Subcommand)]
pub enum StationCmd {
    /// Add a station (city only).
    Add {
        /// Station code.
        #[arg(long)]
        code: String,
        /// Station name.
        #[arg(long)]
        name: String,
        /// village, township or city.
        #[arg(long, value_parser = ["village", "township"])]
        tier: String,
        /// Parent station code (default: this node's station).
        #[arg(long)]
        parent: Option<String>,
    },
    /// List stations.
    List,
}

/// Runs one `station` subcommand.
pub fn run(ctx: &Ctx, cmd: StationCmd) -> Result<()> {
    let mut node = ctx.open()?;
    match cmd {
        StationCmd::Add {
            code,
            name,
            tier,
            parent,
        } => {
            let parent = parent.unwrap_or_else(|| node.identity().station.clone());
            node.add_station(Station {
                code: code.clone(),
                name,
                tier: tier.parse()?,
                parent,
            })?;
            output::done(&format!("added station {code}"), ctx.json)
        }
        StationCmd::List => output::stations(node.roster(), ctx.json),
    }
}
