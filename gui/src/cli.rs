//! Command-line parsing and dispatch.

use crate::output;
use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use yizhan_node::case::Action;
use yizhan_node::case::deadline::Light;
use yizhan_node::case::fold::Status;
use yizhan_node::catalog::Catalog;
use yizhan_node::network::Station;
use yizhan_node::query::{CaseFilter, GroupBy, Sort};
use yizhan_node::{Clock, InitParams, NewCase, Node};

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
    /// Who is operating (recorded on every event).
    #[arg(long, global = true, env = "YIZHAN_OPERATOR", value_name = "NAME")]
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
    Station(StationCmd),
    /// Service cases (办件).
    #[command(subcommand)]
    Case(CaseCmd),
    /// The catalog of service items (事项清单).
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// Working-day calendar (工作日).
    #[command(subcommand)]
    Calendar(CalendarCmd),
    /// Consolidated statistics.
    Stats {
        /// Group by township, village, dept or item.
        #[arg(long, value_parser = ["township", "village", "dept", "item"])]
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
    },
    /// One sync pass with every known peer, then a summary.
    Sync {
        /// Give up on a peer after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Known peers.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// Sync through files (USB sticks).
    #[command(subcommand)]
    Bundle(BundleCmd),
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

#[derive(Debug, Subcommand)]
enum BundleCmd {
    /// Write every document in scope for a station (or this node's whole scope) to a file.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// The station the bundle is for.
        #[arg(long = "for", value_name = "CODE")]
        for_station: Option<String>,
    },
    /// Merge a bundle file; importing it again, or bundles in any order, changes nothing more.
    Import {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PeerCmd {
    /// Remember a peer and its address.
    Add {
        /// The peer's node id.
        node_id: String,
        /// Its address.
        #[arg(value_name = "ADDR:PORT")]
        addr: String,
    },
    /// List known peers, last contact and progress.
    List,
}

#[derive(Debug, Subcommand)]
enum StationCmd {
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

#[derive(Debug, Subcommand)]
enum CatalogCmd {
    /// List service items.
    List,
    /// Replace the catalog with a JSON or CSV file (city only).
    Import {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CalendarCmd {
    /// Working days between two dates and the due date of a limit.
    Due {
        /// Acceptance date, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Working days.
        #[arg(long)]
        days: u32,
    },
}

#[derive(Debug, Args)]
struct Target {
    /// Case id or case number.
    #[arg(value_name = "ID_OR_NUMBER")]
    case: String,
}

#[derive(Debug, Subcommand)]
enum CaseCmd {
    /// Take in a new case (收件 / 代办登记).
    New {
        /// Item code from the catalog.
        #[arg(long)]
        item: String,
        /// Applicant's name.
        #[arg(long)]
        applicant: String,
        /// Resident ID number (18 characters, checked).
        #[arg(long)]
        id_number: Option<String>,
        /// Phone.
        #[arg(long)]
        phone: Option<String>,
        /// Address.
        #[arg(long)]
        address: Option<String>,
        /// Taken in by a proxy agent on the applicant's behalf (代办).
        #[arg(long)]
        delegated: bool,
        /// The letter of entrustment (委托书) was recorded.
        #[arg(long, requires = "delegated")]
        entrustment: bool,
        /// Materials handed over to the agent, separated by ；or ,
        #[arg(long, requires = "delegated", value_name = "LIST")]
        handed_over: Option<String>,
        /// Take in this many cases, each committed and printed as soon as it is on disk.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        count: u32,
    },
    /// List cases.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// Only this light.
        #[arg(long, value_parser = ["green", "yellow", "red", "severe"])]
        light: Option<String>,
        /// Only cases from this station's area.
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
        /// Only cases held by this station now.
        #[arg(long, value_name = "CODE")]
        holder: Option<String>,
        /// Only this item.
        #[arg(long)]
        item: Option<String>,
        /// Case number or its tail (261122-1-001, 001), ID number or its last 4–6 characters,
        /// phone or its last 4 digits, or any part of the applicant's name.
        #[arg(long, value_name = "Q")]
        search: Option<String>,
        /// Only cases with an unsettled conflict.
        #[arg(long)]
        conflict: bool,
        /// newest, oldest or due.
        #[arg(long, default_value = "newest", value_parser = ["newest", "oldest", "due"])]
        sort: String,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Rows to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Show one case with its timeline.
    Show(Target),
    /// 受理.
    Accept(Target),
    /// 容缺受理: accept with minor materials missing.
    AcceptWithGaps {
        #[command(flatten)]
        target: Target,
        /// The missing materials.
        #[arg(long)]
        missing: String,
        /// The applicant's written promise.
        #[arg(long)]
        promise: String,
    },
    /// 不予受理.
    Refuse {
        #[command(flatten)]
        target: Target,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// 一次性告知: ask once for every missing material (pauses the clock).
    RequestMaterials {
        #[command(flatten)]
        target: Target,
        /// Every missing material, separated by ；or ,
        #[arg(long)]
        missing: String,
    },
    /// 特别程序: pause the clock.
    Suspend {
        #[command(flatten)]
        target: Target,
        /// Which procedure and why.
        #[arg(long)]
        reason: String,
    },
    /// Materials arrived / special procedure ended: the clock runs again.
    Resume(Target),
    /// 上报 / 转办 / 下派 to another station.
    Forward {
        #[command(flatten)]
        target: Target,
        /// The receiving station's code.
        #[arg(long)]
        to: String,
    },
    /// 并联审批: a department approves.
    Approve {
        #[command(flatten)]
        target: Target,
        /// The department.
        #[arg(long)]
        dept: String,
    },
    /// 并联审批: a department rejects.
    Reject {
        #[command(flatten)]
        target: Target,
        /// The department.
        #[arg(long)]
        dept: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// 办结.
    Complete(Target),
    /// 不予许可: decide against the application.
    Decline {
        #[command(flatten)]
        target: Target,
        /// Why, as written to the applicant.
        #[arg(long)]
        reason: String,
    },
    /// 送达.
    Deliver(Target),
    /// 好差评: 1 非常满意 … 5 非常不满意.
    Rate {
        #[command(flatten)]
        target: Target,
        /// 1..5.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        level: u8,
        /// The applicant's words.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// 回访: a call back to the applicant.
    FollowUp {
        #[command(flatten)]
        target: Target,
        /// What was said and done.
        #[arg(long)]
        summary: String,
    },
    /// 视频咨询: record a remote session with another station.
    Consult {
        #[command(flatten)]
        target: Target,
        /// The other station.
        #[arg(long)]
        with: String,
        /// Minutes.
        #[arg(long)]
        minutes: u32,
        /// What was discussed.
        #[arg(long)]
        summary: String,
    },
    /// Add a note to the timeline.
    Note {
        /// Case id or case number.
        #[arg(value_name = "ID_OR_NUMBER")]
        case: String,
        /// The note.
        text: String,
    },
    /// Settle a flagged conflict.
    Settle {
        #[command(flatten)]
        target: Target,
        /// What was decided.
        #[arg(long)]
        note: String,
    },
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

/// Opens the window on this data directory's node; the store runs on its own thread.
fn open_window(ctx: &Ctx) -> Result<()> {
    // First run: no store yet. With a display the start screen offers to create a network, join
    // one or open the demo; without one, opening the store fails below with its one-line error.
    if !ctx.data.join(yizhan_node::store::STORE_FILE).exists() && has_display() {
        return yizhan::app::run_start(ctx.data.clone(), ctx.clock);
    }
    let node = ctx.open()?;
    let label = node
        .station()
        .map(|s| s.name.clone())
        .unwrap_or_else(|_| node.identity().station.clone());
    let (handle, thread) = yizhan_node::NodeHandle::spawn(node)?;
    let result = yizhan::app::run_window(yizhan::app::AppInit {
        stations: vec![yizhan::app::StationSlot {
            label,
            handle,
            sync: Some(ctx.data.clone()),
        }],
        county: None,
    });
    // The window has closed and dropped its handles: let queued writes finish before exiting.
    thread.join();
    result
}

/// Whether a window can be opened (an X11 or Wayland display is named in the environment).
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// `yizhan demo`: the county in the window, or headless when asked or when there is no display.
fn demo(headless: bool, dir: Option<PathBuf>, seed: u64) -> Result<()> {
    let display = has_display();
    let county = yizhan::demo::DemoCounty::start(&yizhan::demo::DemoOptions { dir, seed })?;
    if headless || !display {
        if !headless {
            eprintln!(
                "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): running the demo county headless"
            );
        }
        return yizhan::demo::run_headless(county, &mut std::io::stdout());
    }
    let stations = county.slots();
    yizhan::app::run_window(yizhan::app::AppInit {
        stations,
        county: Some(Box::new(county)),
    })
}

struct Ctx {
    data: PathBuf,
    json: bool,
    operator: String,
    clock: Clock,
}

impl Ctx {
    fn open(&self) -> Result<Node> {
        Ok(Node::open(&self.data, self.clock)?)
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
        operator: cli.operator.unwrap_or_else(|| "操作员".to_string()),
        clock: clock()?,
    };
    let Some(command) = cli.command else {
        return open_window(&ctx);
    };
    match command {
        Command::Open => open_window(&ctx),
        Command::Demo {
            headless,
            dir,
            seed,
        } => demo(headless, dir, seed),
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
        Command::Station(cmd) => station(&ctx, cmd),
        Command::Case(cmd) => case(&ctx, cmd),
        Command::Catalog(CatalogCmd::List) => {
            let node = ctx.open()?;
            output::catalog(node.catalog(), ctx.json)
        }
        Command::Catalog(CatalogCmd::Import { file }) => {
            let catalog = read_catalog(&file)?;
            let mut node = ctx.open()?;
            node.import_catalog(&catalog)?;
            output::done(
                &format!("imported {} items from {}", catalog.len(), file.display()),
                ctx.json,
            )
        }
        Command::Calendar(CalendarCmd::Due { from, days }) => {
            let node = ctx.open()?;
            let from = chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                .map_err(|_| anyhow!("invalid --from {from:?}: expected YYYY-MM-DD"))?;
            output::due(node.calendar(), from, days, ctx.json)
        }
        Command::Stats { by, station } => {
            let mut node = ctx.open()?;
            let stats = node.stats(by.as_deref().and_then(GroupBy::parse), station.as_deref())?;
            output::stats(&stats, ctx.json)
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
            crate::netcmd::invite(
                &mut node, code, name, tier, parent, valid_days, addr, ctx.json,
            )
        }
        Command::Join { ticket } => crate::netcmd::join(&ctx.data, ctx.clock, &ticket, ctx.json),
        Command::Serve {
            listen,
            mdns,
            relay,
        } => {
            let addr = listen
                .map(|l| {
                    l.parse()
                        .map_err(|_| anyhow!("invalid --listen {l:?}: expected IP:PORT"))
                })
                .transpose()?;
            // Flags given on the command line replace the node's own discovery settings.
            let discovery = (mdns || relay.is_some()).then_some(yizhan_sync::net::Discovery {
                mdns,
                relay_url: relay,
            });
            crate::netcmd::serve(ctx.open()?, &ctx.data, addr, discovery)
        }
        Command::Sync { timeout } => crate::netcmd::sync_once(
            ctx.open()?,
            &ctx.data,
            std::time::Duration::from_secs(timeout.clamp(1, 86_400)),
            ctx.json,
        ),
        Command::Peer(PeerCmd::Add { node_id, addr }) => {
            let mut node = ctx.open()?;
            crate::netcmd::peer_add(&mut node, &node_id, &addr, ctx.json)
        }
        Command::Bundle(BundleCmd::Export { out, for_station }) => {
            let mut node = ctx.open()?;
            let r = yizhan_sync::bundle::export(&mut node, &out, for_station.as_deref())?;
            output::done(
                &format!(
                    "wrote {} documents, {} bytes, to {}",
                    r.docs,
                    r.bytes,
                    out.display()
                ),
                ctx.json,
            )
        }
        Command::Bundle(BundleCmd::Import { file }) => {
            let mut node = ctx.open()?;
            let r = yizhan_sync::bundle::import(&mut node, &file)?;
            if ctx.json {
                outln!("{}", serde_json::to_string(&r)?);
                Ok(())
            } else {
                outln!(
                    "{}: {} documents, {} changed, {} already here, {} outside this station's scope",
                    file.display(),
                    r.docs,
                    r.changed,
                    r.unchanged,
                    r.out_of_scope
                );
                Ok(())
            }
        }
        Command::Peer(PeerCmd::List) => crate::netcmd::peer_list(&ctx.open()?, ctx.json),
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

fn read_catalog(file: &Path) -> Result<Catalog> {
    Catalog::read_file(file).with_context(|| format!("{}", file.display()))
}

fn station(ctx: &Ctx, cmd: StationCmd) -> Result<()> {
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

fn case(ctx: &Ctx, cmd: CaseCmd) -> Result<()> {
    let mut node = ctx.open()?;
    let (target, action) = match cmd {
        CaseCmd::New {
            item,
            applicant,
            id_number,
            phone,
            address,
            delegated,
            entrustment,
            handed_over,
            count,
        } => {
            let new = NewCase {
                item_code: item,
                applicant_name: applicant,
                id_number: id_number.unwrap_or_default(),
                phone: phone.unwrap_or_default(),
                address: address.unwrap_or_default(),
                delegated,
                entrustment,
                handed_over: handed_over
                    .as_deref()
                    .map(Action::parse_list)
                    .unwrap_or_default(),
                operator: ctx.operator.clone(),
            };
            for _ in 0..count {
                let view = node.new_case(&new)?;
                output::created(&view, ctx.json)?;
            }
            return Ok(());
        }
        CaseCmd::List {
            status,
            light,
            station,
            holder,
            item,
            search,
            conflict,
            sort,
            limit,
            offset,
        } => {
            let filter = CaseFilter {
                status: status
                    .map(|s| Status::parse(&s).ok_or_else(|| anyhow!("invalid --status {s:?}: expected one of submitted, awaiting_materials, accepted, suspended, refused, completed, delivered")))
                    .transpose()?,
                light: light.as_deref().and_then(Light::parse),
                area: station,
                holder,
                item,
                search,
                conflict_only: conflict,
                sort: match sort.as_str() {
                    "oldest" => Sort::Oldest,
                    "due" => Sort::Due,
                    _ => Sort::Newest,
                },
                limit,
                offset,
                ..CaseFilter::default()
            };
            let rows = node.list(&filter)?;
            let total = node.count(&filter)?;
            return output::list(&rows, total, ctx.json);
        }
        CaseCmd::Show(t) => {
            let view = node.case(&t.case)?;
            return output::case(&view, node.calendar(), ctx.json);
        }
        CaseCmd::Accept(t) => (t, Action::Accept),
        CaseCmd::AcceptWithGaps {
            target,
            missing,
            promise,
        } => (
            target,
            Action::AcceptWithGaps {
                missing: Action::parse_list(&missing),
                promise,
            },
        ),
        CaseCmd::Refuse { target, reason } => (target, Action::Refuse { reason }),
        CaseCmd::RequestMaterials { target, missing } => (
            target,
            Action::RequestMaterials {
                missing: Action::parse_list(&missing),
            },
        ),
        CaseCmd::Suspend { target, reason } => (target, Action::Suspend { reason }),
        CaseCmd::Resume(t) => (t, Action::Resume),
        CaseCmd::Forward { target, to } => (target, Action::Forward { to }),
        CaseCmd::Approve { target, dept } => (target, Action::Approve { dept }),
        CaseCmd::Reject {
            target,
            dept,
            reason,
        } => (target, Action::Reject { dept, reason }),
        CaseCmd::Complete(t) => (t, Action::Complete),
        CaseCmd::Decline { target, reason } => (target, Action::Decline { reason }),
        CaseCmd::Deliver(t) => (t, Action::Deliver),
        CaseCmd::Rate {
            target,
            level,
            comment,
        } => (target, Action::Rate { level, comment }),
        CaseCmd::FollowUp { target, summary } => (target, Action::FollowUp { summary }),
        CaseCmd::Consult {
            target,
            with,
            minutes,
            summary,
        } => (
            target,
            Action::Consult {
                with,
                minutes,
                summary,
            },
        ),
        CaseCmd::Note { case, text } => (Target { case }, Action::Note { text }),
        CaseCmd::Settle { target, note } => (target, Action::Settle { note }),
    };
    let view = node.act(&target.case, &action, &ctx.operator)?;
    output::case(&view, node.calendar(), ctx.json)
}
