//! `yizhan notice …`: notices to applicants (短信通知, issue #15): how this node sends them,
//! the outbox, the city's templates, and the public address printed on receipts.

use super::Ctx;
use crate::output;
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;
use yizhan_node::clock::format_ms;
use yizhan_node::notice::{NoticeKind, NoticeState, SenderConfig};

#[derive(Debug, Subcommand)]
pub enum NoticeCmd {
    /// Show or set how this node sends notices (local to this machine, never synced).
    Sender {
        /// An HTTP SMS gateway: notices are POSTed there as JSON.
        #[arg(long, conflicts_with_all = ["spool", "off"], requires = "key")]
        gateway: Option<String>,
        /// The gateway's key (sent in the X-Api-Key header).
        #[arg(long, requires = "gateway")]
        key: Option<String>,
        /// A folder an SMS modem daemon (gammu-smsd) picks files up from.
        #[arg(long, conflicts_with = "off")]
        spool: Option<String>,
        /// No sender: notices wait here (a village's go to its township instead).
        #[arg(long)]
        off: bool,
    },
    /// The notices this node holds, newest first.
    List {
        /// Only queued, sent or failed ones.
        #[arg(long, value_parser = ["queued", "sent", "failed"])]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue a failed notice again.
    Retry {
        /// The notice's id (see `notice list`).
        id: String,
    },
    /// The network's notice templates (the city edits them).
    Template {
        #[command(subcommand)]
        cmd: TemplateCmd,
    },
    /// Show or set this station's public address of the progress page (receipts print a QR
    /// code of <URL>/query?number=N).
    PublicUrl {
        /// The address, e.g. https://zwfw.example.gov.cn/banjian.
        url: Option<String>,
        /// Remove the address (receipts print no QR code).
        #[arg(long, conflicts_with = "url")]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// Every kind's template.
    List,
    /// Change one kind's text (city only). Placeholders: {number} {item} {station} {due}
    /// {missing} {pickup} {reply}.
    Set {
        /// received, accepted, materials, completed or rectified.
        kind: String,
        /// The text.
        text: String,
    },
    /// Restore one kind's default text (city only).
    Reset {
        /// The kind.
        kind: String,
    },
}

fn kind(k: &str) -> Result<NoticeKind> {
    match NoticeKind::from_key(k.trim()) {
        Some(k) => Ok(k),
        None => bail!(
            "unknown notice kind {k:?} (known: {})",
            NoticeKind::ALL.map(NoticeKind::key).join(", ")
        ),
    }
}

/// Runs one `notice` subcommand.
pub fn run(ctx: &Ctx, cmd: NoticeCmd) -> Result<()> {
    match cmd {
        NoticeCmd::Sender {
            gateway,
            key,
            spool,
            off,
        } => {
            let mut node = ctx.open_signed_in()?;
            let config = match (gateway, key, spool, off) {
                (Some(url), Some(key), None, false) => Some(SenderConfig::Gateway { url, key }),
                (None, None, Some(dir), false) => Some(SenderConfig::Spool { dir }),
                (None, None, None, true) => Some(SenderConfig::None),
                (None, None, None, false) => None,
                _ => bail!("give either --gateway URL --key KEY, --spool DIR or --off"),
            };
            if let Some(c) = &config {
                node.set_sender_config(c)?;
            }
            let c = node.sender_config()?;
            // The key is a secret: shown only as whether it is set.
            let (via, target) = match &c {
                SenderConfig::None => ("none", String::new()),
                SenderConfig::Gateway { url, .. } => ("gateway", url.clone()),
                SenderConfig::Spool { dir } => ("spool", dir.clone()),
            };
            if ctx.json {
                outln!("{}", json!({ "via": via, "target": target }));
            } else if c.is_configured() {
                outln!("notices are sent through {via} {target}");
            } else {
                outln!("no sender: notices wait here (a village's go to its township)");
            }
            Ok(())
        }
        NoticeCmd::List { state, limit } => {
            let node = ctx.open_signed_in()?;
            let state = match state.as_deref() {
                Some("queued") => Some(NoticeState::Queued),
                Some("sent") => Some(NoticeState::Sent),
                Some("failed") => Some(NoticeState::Failed),
                _ => None,
            };
            let rows = node.notices(state, limit.clamp(1, 10_000))?;
            if ctx.json {
                outln!("{}", serde_json::to_string(&rows)?);
                return Ok(());
            }
            for n in rows {
                outln!(
                    "{}  {}  {}  {}  {}  attempts {}  {}  {}",
                    format_ms(n.created_at),
                    n.case_number,
                    n.kind,
                    n.phone_masked(),
                    n.state.key(),
                    n.attempts,
                    n.last_error,
                    n.id
                );
            }
            Ok(())
        }
        NoticeCmd::Retry { id } => {
            let mut node = ctx.open_signed_in()?;
            if !node.retry_notice(&id)? {
                bail!("no failed notice {id:?} here (see `yizhan notice list --state failed`)");
            }
            output::done(&format!("queued {id} again"), ctx.json)
        }
        NoticeCmd::Template { cmd } => {
            let mut node = ctx.open()?;
            match cmd {
                TemplateCmd::List => {}
                TemplateCmd::Set { kind: k, text } => {
                    node.set_notice_template(kind(&k)?, Some(&text))?;
                }
                TemplateCmd::Reset { kind: k } => node.set_notice_template(kind(&k)?, None)?,
            }
            let t = node.notice_templates();
            if ctx.json {
                let map: serde_json::Map<String, serde_json::Value> = NoticeKind::ALL
                    .iter()
                    .map(|k| {
                        (
                            k.key().to_string(),
                            json!({ "text": t.get(*k), "changed": t.is_changed(*k) }),
                        )
                    })
                    .collect();
                outln!("{}", serde_json::Value::Object(map));
            } else {
                for k in NoticeKind::ALL {
                    let mark = if t.is_changed(k) { "*" } else { " " };
                    outln!("{mark}{:<10} {}  {}", k.key(), k.label_zh(), t.get(k));
                }
            }
            Ok(())
        }
        NoticeCmd::PublicUrl { url, clear } => {
            let mut node = ctx.open()?;
            if clear {
                node.set_public_url(None)?;
            } else if let Some(u) = &url {
                node.set_public_url(Some(u))?;
            }
            let now = node.public_url()?;
            if ctx.json {
                outln!("{}", json!({ "public_url": now }));
            } else {
                outln!("{}", now.as_deref().unwrap_or("(none)"));
            }
            Ok(())
        }
    }
}
