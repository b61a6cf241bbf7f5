//! Notices (短信通知, issue #15): the texts a case's events send to the applicant, the city's
//! templates they are written from, and the outbox that holds them until they are delivered.
//!
//! **What sends what.** Five events tell the applicant something: intake (收件), acceptance
//! (受理, also 容缺受理), the one-time list of missing materials (一次性告知), completion (办结,
//! with where to pick the result up) and the reply to a bad rating (整改回复: the call back that
//! closes a follow-up opened by a rating of 4 or 5). Each produces one notice from the city's
//! template for its kind ([`Templates`], stored in the settings network document and synced
//! like it); a case without a phone produces none.
//!
//! **One sender per notice.** The author of an event decides, when it writes the event, which
//! node sends its notices, and records that node's id in the event (`Event::notices_by`,
//! `CaseDoc::notices_by` for the intake): itself when it has a sender configured, otherwise
//! (a village without a gateway or modem) its township's first node ([`responsible_node`]).
//! The outbox row is written only by the node so named: by the author in the event's own
//! transaction, or by the township in the transaction of the sync batch that brings the event.
//! Because the choice travels inside the event, every node reads the same choice, whenever and
//! however often the event arrives, and the row's id is derived from the event's id
//! ([`notice_id`]) and inserted with `INSERT OR IGNORE`: no second row, on no other node.
//!
//! **Delivery** is the binary's work (the node does no network I/O): it claims due rows
//! ([`claim_due`], which counts the attempt and moves the next try by the backoff in the same
//! transaction, before anything is sent), delivers them with the row's id as the idempotency
//! key, and records the outcome ([`record_outcome`]). A process that dies between the claim and
//! the outcome sends the notice again after the backoff: at least once, and the gateway can
//! tell the repeat by its key.
//!
//! Phones are personal data: they are stored in the outbox (the sender needs them) but never
//! logged, never in an error message, and shown only masked ([`Notice::phone_masked`]).
//!
//! The module's parts: `mod.rs` the kinds and which node sends what ([`notices_for`],
//! [`responsible_node`], [`warning_node`]); `template.rs` the city's texts and their
//! placeholders; `sender.rs` this machine's delivery settings; `outbox.rs` the `outbox` table
//! (queueing, claiming, outcomes, listing).

use crate::case::doc::{CaseDoc, Event};
use crate::network::Roster;

mod outbox;
mod sender;
mod template;

pub use outbox::{Notice, NoticeState, OutboxCounts, Outcome};
pub(crate) use outbox::{
    StaffWarning, claim_due, counts, for_case, list, queue, queue_warning, record_outcome, retry,
};
pub use sender::SenderConfig;
pub use template::{MAX_TEMPLATE_CHARS, PLACEHOLDERS, Templates, Vars};

/// What a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoticeKind {
    /// 收件: the case was taken in.
    Received,
    /// 受理: the case was accepted (also with gaps, 容缺受理).
    Accepted,
    /// 一次性告知: every missing material, at once.
    Materials,
    /// 办结: decided; where to pick the result up.
    Completed,
    /// 整改回复: the call back that answers a bad rating.
    Rectified,
    /// 临期预警: to the staff of the station holding a case whose light turned yellow.
    DueSoon,
    /// 超期警告: to the staff of the station holding a case whose light turned red.
    Overdue,
}

impl NoticeKind {
    /// Every kind, in the order of a case's life: the applicant's, then the staff's.
    pub const ALL: [NoticeKind; 7] = [
        NoticeKind::Received,
        NoticeKind::Accepted,
        NoticeKind::Materials,
        NoticeKind::Completed,
        NoticeKind::Rectified,
        NoticeKind::DueSoon,
        NoticeKind::Overdue,
    ];

    /// The stored name (outbox rows, template keys, the command line).
    pub fn key(self) -> &'static str {
        match self {
            NoticeKind::Received => "received",
            NoticeKind::Accepted => "accepted",
            NoticeKind::Materials => "materials",
            NoticeKind::Completed => "completed",
            NoticeKind::Rectified => "rectified",
            NoticeKind::DueSoon => "due_soon",
            NoticeKind::Overdue => "overdue",
        }
    }

    /// The kind stored as `key`.
    pub fn from_key(key: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// The kind's name in the glossary's Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            NoticeKind::Received => "收件",
            NoticeKind::Accepted => "受理",
            NoticeKind::Materials => "一次性告知",
            NoticeKind::Completed => "办结",
            NoticeKind::Rectified => "整改回复",
            NoticeKind::DueSoon => "临期预警",
            NoticeKind::Overdue => "超期警告",
        }
    }

    /// The text the network starts with, before the city edits it.
    pub fn default_template(self) -> &'static str {
        match self {
            NoticeKind::Received => {
                "【{station}】您申请的“{item}”已收件，办件编号{number}。可凭编号和手机号后四位查询办理进度。"
            }
            NoticeKind::Accepted => {
                "【{station}】您的办件{number}（{item}）已受理，承诺办结日期{due}。"
            }
            NoticeKind::Materials => {
                "【{station}】您的办件{number}（{item}）需补充以下材料：{missing}。请一次性补齐后送至{pickup}。"
            }
            NoticeKind::Completed => {
                "【{station}】您的办件{number}（{item}）已办结，请携带身份证到{pickup}领取办理结果。"
            }
            NoticeKind::Rectified => {
                "【{station}】关于您对办件{number}（{item}）的评价，整改情况：{reply}。感谢您的监督。"
            }
            NoticeKind::DueSoon => {
                "【电子监察】{station}办件{number}（{item}）将于{due}到期（黄灯），请抓紧办理。"
            }
            NoticeKind::Overdue => {
                "【电子监察】{station}办件{number}（{item}）已超过承诺办结日期{due}（红灯），请立即办理并说明原因。"
            }
        }
    }

    /// Whether an event of this stored kind may produce a notice: only those carry a
    /// `notices_by` (it costs bytes in every copy of the case).
    pub(crate) fn may_follow(event_kind: &str) -> bool {
        matches!(
            event_kind,
            "accept" | "accept_with_gaps" | "request_materials" | "complete" | "follow_up"
        )
    }

    /// The notice an event produces, if it tells the applicant anything.
    fn of_event(event: &Event, rated_badly: bool) -> Option<NoticeKind> {
        match event.kind.as_str() {
            "accept" | "accept_with_gaps" => Some(NoticeKind::Accepted),
            "request_materials" => Some(NoticeKind::Materials),
            "complete" => Some(NoticeKind::Completed),
            "follow_up" if rated_badly => Some(NoticeKind::Rectified),
            _ => None,
        }
    }
}

/// This machine's wall clock (ms since the Unix epoch), which times deliveries: `next_at`,
/// claims and retries follow real time even when the node's dating clock is fixed or
/// corrected (`YIZHAN_NOW`, the offset from the city), which dates the notice (`created_at`)
/// like its event.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The backoff between attempts: `base × 2^(attempts − 1)`, at most an hour.
pub fn backoff_ms(base_ms: u64, attempts: u32) -> i64 {
    const MAX_MS: u64 = 3_600_000;
    let factor = 1u64 << attempts.saturating_sub(1).min(20);
    i64::try_from(base_ms.saturating_mul(factor).min(MAX_MS)).unwrap_or(i64::MAX)
}

/// Attempts before a notice is given up as failed (with the default backoff, about two days).
pub const MAX_ATTEMPTS: u32 = 60;

/// The idempotency key of the notice of `kind` for an event (or, for the intake, the case).
pub fn notice_id(source_id: &str, kind: NoticeKind) -> String {
    format!("{source_id}/{}", kind.key())
}

/// The node that sends the notices of an event written here: this node when it has a sender;
/// else, at a village, its township's first node among `nodes` (node id, station, ordinal: the
/// certificates held here; the lowest ordinal not revoked), which holds
/// the notices of villages without a modem or gateway; else this node (the notices wait here
/// for a sender to be configured).
pub fn responsible_node<'a>(
    roster: &Roster,
    nodes: impl IntoIterator<Item = (&'a str, &'a str, u32)>,
    station: &str,
    node_id: &str,
    has_sender: bool,
) -> String {
    if has_sender {
        return node_id.to_string();
    }
    let parent = roster
        .station(station)
        .filter(|s| s.tier() == crate::station::Tier::Village)
        .map(|s| s.parent.clone());
    parent
        .and_then(|p| first_node(roster, nodes, &p))
        .unwrap_or_else(|| node_id.to_string())
}

/// The first node of `station` among `nodes` (node id, station, ordinal): the lowest ordinal
/// not revoked, ties broken by id, so that every node holding the same roster and certificates
/// names the same one.
fn first_node<'a>(
    roster: &Roster,
    nodes: impl IntoIterator<Item = (&'a str, &'a str, u32)>,
    station: &str,
) -> Option<String> {
    nodes
        .into_iter()
        .filter(|(id, st, _)| *st == station && !roster.is_revoked(id))
        .min_by_key(|(id, _, ordinal)| (*ordinal, *id))
        .map(|(id, _, _)| id.to_string())
}

/// A notice to be queued.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct NewNotice {
    pub(crate) id: String,
    pub(crate) kind: NoticeKind,
    pub(crate) text: String,
}

impl std::fmt::Debug for NewNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewNotice")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What the notices of a case need to know beyond the case itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) roster: &'a Roster,
    pub(crate) templates: &'a Templates,
    /// The promised due date, when the case has one.
    pub(crate) due: Option<chrono::NaiveDate>,
}

impl Context<'_> {
    fn station_name(&self, code: &str) -> String {
        self.roster
            .station(code)
            .map_or_else(|| code.to_string(), |s| s.name.clone())
    }

    fn vars(&self, doc: &CaseDoc, station: &str) -> Vars {
        Vars {
            number: doc.number.clone(),
            item: doc.item.name.clone(),
            station: self.station_name(station),
            due: self
                .due
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            pickup: self.station_name(&doc.origin),
            ..Vars::default()
        }
    }
}

/// Every notice `node_id` must send for a case: the intake's and each event's that name it in
/// `notices_by`. Pure: the same case gives the same notices (ids and all) however often it is
/// asked, which is what makes queueing them again harmless.
pub(crate) fn notices_for(doc: &CaseDoc, node_id: &str, cx: Context<'_>) -> Vec<NewNotice> {
    let mut out = Vec::new();
    if doc.applicant.phone.trim().is_empty() {
        return out;
    }
    if doc.notices_by.as_deref() == Some(node_id) {
        let kind = NoticeKind::Received;
        out.push(NewNotice {
            id: notice_id(&doc.id, kind),
            kind,
            text: cx.templates.render(kind, &cx.vars(doc, &doc.origin)),
        });
    }
    let mut rated_badly = false;
    for event in doc.ordered_events() {
        if event.kind == "rate" {
            rated_badly = event
                .fields
                .get("level")
                .and_then(|l| l.parse::<u8>().ok())
                .is_some_and(|l| l >= 4);
        }
        if event.notices_by.as_deref() != Some(node_id) {
            continue;
        }
        let Some(kind) = NoticeKind::of_event(event, rated_badly) else {
            continue;
        };
        let mut vars = cx.vars(doc, &event.station);
        let field = |k: &str| event.fields.get(k).cloned().unwrap_or_default();
        vars.missing = field("missing").replace('\n', "、");
        vars.reply = field("summary");
        out.push(NewNotice {
            id: notice_id(&event.id, kind),
            kind,
            text: cx.templates.render(kind, &vars),
        });
        if kind == NoticeKind::Rectified {
            rated_badly = false;
        }
    }
    out
}

/// The node that warns the staff of the cases held at `holder` when their lights turn yellow
/// and red (电子监察): for a village, its township's first node (lowest ordinal, not revoked:
/// the township sees its villages' lights and is online more often than a village laptop);
/// for any other station its own first node. One node per station, chosen from the roster
/// and certificates every node holds, so that two nodes never both warn.
pub fn warning_node<'a>(
    roster: &Roster,
    nodes: impl IntoIterator<Item = (&'a str, &'a str, u32)>,
    holder: &str,
) -> Option<String> {
    let station = roster.station(holder)?;
    let sender = if station.tier() == crate::station::Tier::Village {
        station.parent.as_str()
    } else {
        holder
    };
    first_node(roster, nodes, sender)
}

#[cfg(test)]
mod tests;
