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
    /// Set the station's phone for questions about progress (本站咨询电话), printed on its
    /// receipts; an administrator of the station or of a parent station. An empty number clears
    /// it.
    SetPhone {
        /// A mobile (11 digits) or a landline with its area code, e.g. 0351-1234567.
        phone: String,
        /// The station (default: this node's station).
        #[arg(long)]
        station: Option<String>,
    },
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
        StationCmd::List => output::stations(node.roster(), node.accounts(), ctx.json),
        StationCmd::SetPhone { phone, station } => {
            let station = station.unwrap_or_else(|| node.identity().station.clone());
            let phone = phone.trim();
            node.set_station_phone(&station, Some(phone))?;
            let message = if phone.is_empty() {
                format!("已清除 {station} 的咨询电话")
            } else {
                format!("{station} 的咨询电话已设为 {phone}")
            };
            output::done(&message, ctx.json)
        }
    }
}
