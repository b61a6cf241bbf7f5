//! The command line: clap definitions and dispatch (DESIGN.md section 8 is the contract), one
//! module per group of commands, as rerun's `commands/`: [`case`], [`station`], [`catalog`]
//! (and the calendar), [`network`] (invite, join, serve, sync, peers, bundles, revocation) and
//! [`window`] (the station window and the demo). Output goes through `crate::output`.

mod case;
mod catalog;
mod network;
mod notice;
mod operator;
mod station;
mod window;

use crate::output;
use anyhow::{Context as _, Result, anyhow};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use yizhan_node::query::{GroupBy, RankBy};
use yizhan_node::{Clock, InitParams, Node};

/// 驿站 Yizhan: offline-first government service stations.
#[derive(Debug, Parser)]
#[command(name = "yizhan", version, about, propagate_version = true)]
pub struct Cli {
    /// Data directory (default: the platform data directory).
    #[arg(long, global = true, env = "YIZHAN_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Who is operating: the login of an operator account of this station (the password from
    /// YIZHAN_PASSWORD, or typed at a prompt). At a station without accounts yet (its first
    /// run), the name recorded on every event.
    #[arg(long, global = true, env = "YIZHAN_OPERATOR", value_name = "LOGIN")]
    operator: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the station window (the same as `yizhan` with no command).
    Open,
    /// Run a whole demo county on this machine (1 city, 2 townships, 4 villages, each a real node
    /// on loopback) and open the window on it; headless where there is no display.
    Demo {
        /// No window: print what flows where and take commands on stdin.
        #[arg(long)]
        headless: bool,
        /// Keep the county's stores in this (empty) directory instead of a temporary one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Seed of the generated cases.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Create a new network; this node becomes its city station.
    Init {
        /// The network's name, e.g. 太原市政务服务网.
        #[arg(long)]
        network: String,
        /// The city station's code.
        #[arg(long)]
        code: String,
        /// The city station's name.
        #[arg(long)]
        name: String,
    },
    /// Stations of the network.
    #[command(subcommand)]
    Station(station::StationCmd),
    /// Service cases (办件).
    #[command(subcommand)]
    Case(case::CaseCmd),
    /// The catalog of service items (事项清单).
    #[command(subcommand)]
    Catalog(catalog::CatalogCmd),
    /// Working-day calendar (工作日).
    #[command(subcommand)]
    Calendar(catalog::CalendarCmd),
    /// Operator accounts of this station (and, for an administrator, of its child stations).
    #[command(subcommand)]
    Operator(operator::OperatorCmd),
    /// Notices to applicants (短信通知): the sender, the outbox, templates, the public address.
    #[command(subcommand)]
    Notice(notice::NoticeCmd),
    /// Consolidated statistics.
    Stats {
        /// Group by township, village, dept or item; `operator` gives the ranking by person
        /// (on-time rate, handling days, satisfaction), and `dept` adds it by department.
        #[arg(long, value_parser = ["township", "village", "dept", "item", "operator"])]
        by: Option<String>,
        /// Only cases from this station's area.
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
    },
    /// Rebuild the index from the documents.
    Reindex,
    /// Invite a new node (a station's computer) and print its one-time ticket.
    Invite {
        /// The station's code (new or existing).
        #[arg(long)]
        code: String,
        /// The station's name.
        #[arg(long)]
        name: String,
        /// village, township or city.
        #[arg(long, value_parser = ["village", "township", "city"])]
        tier: String,
        /// The parent station (default: this station for a village, the city for a township).
        #[arg(long)]
        parent: Option<String>,
        /// Days the ticket stays valid.
        #[arg(long, default_value_t = 7)]
        valid_days: u32,
        /// Address(es) where this node can be reached (default: where `serve` last listened).
        #[arg(long, value_name = "IP:PORT")]
        addr: Vec<String>,
    },
    /// Join a network with a ticket from `invite`.
    Join {
        /// The ticket (starts with yz1).
        ticket: String,
    },
    /// Sync continuously with every known peer until SIGINT/SIGTERM.
    Serve {
        /// Address to listen on (default: the node's configured address, else the port it
        /// listened on last time, else any port).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
        /// Find and announce nodes on the local network with mDNS.
        #[arg(long)]
        mdns: bool,
        /// A relay server URL (a city's `iroh-relay`), for links where direct paths fail.
        #[arg(long, value_name = "URL")]
        relay: Option<String>,
        /// Also serve the progress page (办件查询) for applicants on this address, e.g.
        /// 127.0.0.1:8080 for the hall's terminal or 0.0.0.0:8080 behind a reverse proxy.
        #[arg(long, value_name = "ADDR:PORT")]
        http: Option<String>,
    },
    /// One sync pass with every known peer, then a summary.
    Sync {
        /// Give up on a peer after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Known peers.
    #[command(subcommand)]
    Peer(network::PeerCmd),
    /// Sync through files (USB sticks).
    #[command(subcommand)]
    Bundle(network::BundleCmd),
    /// Revoke a node (city only).
    Revoke {
        /// The node id.
        node_id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// This node: identity, station, store.
    Status,
}

fn default_data_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("cn", "Yizhan", "yizhan")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow!("no home directory to put the data in; pass --data DIR"))
}

fn clock() -> Result<Clock> {
    match std::env::var("YIZHAN_NOW") {
        Ok(v) if !v.trim().is_empty() => Ok(Clock::fixed_from_rfc3339(&v).context("YIZHAN_NOW")?),
        _ => Ok(Clock::System),
    }
}

/// What every command gets: the data directory, the output mode, the operator and the clock.
pub struct Ctx {
    pub data: PathBuf,
    pub json: bool,
    pub operator: String,
    /// Whether `--operator` (or `YIZHAN_OPERATOR`) was given.
    pub operator_given: bool,
    pub clock: Clock,
}

impl Ctx {
    /// Opens this data directory's store, signing the operator in when the station has
    /// accounts and `--operator` was given.
    pub fn open(&self) -> Result<Node> {
        let mut node = Node::open(&self.data, self.clock)?;
        if self.operator_given && node.needs_sign_in() {
            let secret = operator::secret("YIZHAN_PASSWORD", "密码 / password: ")?;
            node.sign_in(&self.operator, &secret)?;
        }
        Ok(node)
    }

    /// [`Ctx::open`] for a command that reads or writes cases: at a station with accounts, it
    /// needs a signed-in operator.
    pub fn open_signed_in(&self) -> Result<Node> {
        let node = self.open()?;
        if node.needs_sign_in() && node.signed_in().is_none() {
            return Err(yizhan_node::NodeError::SignInRequired.into());
        }
        Ok(node)
    }
}

/// Parses the command line and runs the command.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    let ctx = Ctx {
        data: match cli.data {
            Some(d) => d,
            None => default_data_dir()?,
        },
        json: cli.json,
        operator_given: cli.operator.is_some(),
        operator: cli.operator.unwrap_or_else(|| "操作员".to_string()),
        clock: clock()?,
    };
    let Some(command) = cli.command else {
        return window::open_window(&ctx);
    };
    match command {
        Command::Open => window::open_window(&ctx),
        Command::Demo {
            headless,
            dir,
            seed,
        } => window::demo(headless, dir, seed),
        Command::Init {
            network,
            code,
            name,
        } => {
            let node = Node::init(
                &ctx.data,
                ctx.clock,
                &InitParams {
                    network_name: network,
                    code,
                    name,
                },
            )?;
            output::status(&node, &ctx.data, ctx.json)
        }
        Command::Status => {
            let node = ctx.open()?;
            output::status(&node, &ctx.data, ctx.json)
        }
        Command::Station(cmd) => station::run(&ctx, cmd),
        Command::Case(cmd) => case::run(&ctx, cmd),
        Command::Catalog(cmd) => catalog::catalog(&ctx, cmd),
        Command::Calendar(cmd) => catalog::calendar(&ctx, cmd),
        Command::Operator(cmd) => operator::run(&ctx, cmd),
        Command::Notice(cmd) => notice::run(&ctx, cmd),
        Command::Stats { by, station } => {
            let mut node = ctx.open_signed_in()?;
            let ranking = match by.as_deref() {
                Some("operator") => Some(RankBy::Operator),
                Some("dept") => Some(RankBy::Dept),
                _ => None,
            };
            if ranking == Some(RankBy::Operator) {
                let rows = node.ranking(RankBy::Operator, station.as_deref(), None, None)?;
                return output::ranking(&rows, ctx.json);
            }
            let stats = node.stats(by.as_deref().and_then(GroupBy::parse), station.as_deref())?;
            let rows = match ranking {
                Some(by) => Some(node.ranking(by, station.as_deref(), None, None)?),
                None => None,
            };
            output::stats(&stats, rows.as_deref(), ctx.json)
        }
        Command::Invite {
            code,
            name,
            tier,
            parent,
            valid_days,
            addr,
        } => {
            let mut node = ctx.open()?;
            network::invite(
                &mut node, code, name, tier, parent, valid_days, addr, ctx.json,
            )
        }
        Command::Join { ticket } => network::join(&ctx.data, ctx.clock, &ticket, ctx.json),
        Command::Serve {
            listen,
            mdns,
            relay,
            http,
        } => network::serve_command(&ctx, listen, mdns, relay, http),
        Command::Sync { timeout } => network::sync_once(
            ctx.open()?,
            &ctx.data,
            std::time::Duration::from_secs(timeout.clamp(1, 86_400)),
            ctx.json,
        ),
        Command::Peer(cmd) => network::peer(&ctx, cmd),
        Command::Bundle(cmd) => network::bundle(&ctx, cmd),
        Command::Revoke { node_id, reason } => {
            let mut node = ctx.open()?;
            node.revoke(&node_id, &reason)?;
            output::done(
                &format!("revoked {}", yizhan_node::cert::short(&node_id)),
                ctx.json,
            )
        }
        Command::Reindex => {
            let mut node = ctx.open()?;
            let n = node.reindex()?;
            output::done(&format!("reindexed {n} cases"), ctx.json)
        }
    }
}
