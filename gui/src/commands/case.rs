//! `yizhan case …`: intake, lists, a case's detail, and every action on a case.

use super::Ctx;
use crate::output;
use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use yizhan_node::NewCase;
use yizhan_node::case::Action;
use yizhan_node::case::deadline::Light;
use yizhan_node::case::fold::Status;
use yizhan_node::query::{CaseFilter, Sort};

#[derive(Debug, Args)]
pub struct Target {
    /// Case id or case number.
    #[arg(value_name = "ID_OR_NUMBER")]
    pub case: String,
}

#[derive(Debug, Subcommand)]
pub enum CaseCmd {
    /// Take in a new case (收件 / 代办登记).
    New {
        #[command(flatten)]
        case: NewArgs,
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
    /// 督办: ask the station holding the case to act and reply (a supervisor at the city, or at
    /// a township for its villages).
    Supervise {
        #[command(flatten)]
        target: Target,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Working days the holder has to reply.
        #[arg(long, default_value_t = 3)]
        reply_days: u32,
    },
    /// 督办回复: answer the oldest open 督办 on the case (or the one given with --to).
    ReplySupervision {
        #[command(flatten)]
        target: Target,
        /// The answer.
        #[arg(long)]
        text: String,
        /// The 督办's id (default: the oldest not yet answered).
        #[arg(long, value_name = "ID")]
        to: Option<String>,
    },
    /// 原件退还: record originals handed back to the applicant.
    ReturnOriginals {
        #[command(flatten)]
        target: Target,
        /// What was handed back, separated by ；or ,
        #[arg(long)]
        items: String,
    },
}

/// What `case new` takes in: one application.
#[derive(Debug, Args)]
pub struct NewArgs {
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
}

impl NewArgs {
    /// The application as the node takes it in, by `operator`.
    fn into_case(self, operator: String) -> NewCase {
        NewCase {
            item_code: self.item,
            applicant_name: self.applicant,
            id_number: self.id_number.unwrap_or_default(),
            phone: self.phone.unwrap_or_default(),
            address: self.address.unwrap_or_default(),
            delegated: self.delegated,
            entrustment: self.entrustment,
            handed_over: self
                .handed_over
                .as_deref()
                .map(Action::parse_list)
                .unwrap_or_default(),
            operator,
        }
    }
}

/// Runs one `case` subcommand.
pub fn run(ctx: &Ctx, cmd: CaseCmd) -> Result<()> {
    let mut node = ctx.open_signed_in()?;
    let (target, action) = match cmd {
        CaseCmd::New { case, count } => {
            let new = case.into_case(ctx.operator.clone());
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
            return output::list(&rows, total, node.roster(), ctx.json);
        }
        CaseCmd::Show(t) => {
            let view = node.case(&t.case)?;
            let notices = node.case_notices(&view.doc.id)?;
            return output::case(&view, node.calendar(), node.roster(), &notices, ctx.json);
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
        CaseCmd::Supervise {
            target,
            reason,
            reply_days,
        } => (target, Action::Supervise { reason, reply_days }),
        CaseCmd::ReplySupervision { target, text, to } => {
            let to = match to {
                Some(to) => to,
                None => node
                    .case(&target.case)?
                    .state
                    .open_supervisions()
                    .next()
                    .map(|s| s.id.clone())
                    .ok_or_else(|| anyhow!("case {} has no open 督办 to answer", target.case))?,
            };
            (target, Action::ReplySupervision { to, text })
        }
        CaseCmd::ReturnOriginals { target, items } => (
            target,
            Action::ReturnOriginals {
                items: Action::parse_list(&items),
            },
        ),
    };
    let view = node.act(&target.case, &action, &ctx.operator)?;
    let notices = node.case_notices(&view.doc.id)?;
    output::case(&view, node.calendar(), node.roster(), &notices, ctx.json)
}
