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

use crate::case::doc::{CaseDoc, Event};
use crate::error::{NodeError, Result};
use crate::idcard::mask_phone;
use crate::invalid::Invalid;
use crate::network::Roster;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

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

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 7] = [
    "{number}",
    "{item}",
    "{station}",
    "{due}",
    "{missing}",
    "{pickup}",
    "{reply}",
];

/// Longest template, in characters (a long SMS is split into at most five parts).
pub const MAX_TEMPLATE_CHARS: usize = 300;

/// The city's notice templates: the texts it changed, by kind; every other kind reads its
/// default. Stored in the settings network document (`SettingsDoc::notice_templates`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    changed: BTreeMap<String, String>,
}

impl Templates {
    /// Templates from what the settings document stores (unknown kinds, from a newer version,
    /// are kept as stored and not used).
    pub fn from_stored(stored: Option<&BTreeMap<String, String>>) -> Templates {
        Templates {
            changed: stored.cloned().unwrap_or_default(),
        }
    }

    /// The template for a kind.
    pub fn get(&self, kind: NoticeKind) -> &str {
        self.changed
            .get(kind.key())
            .map_or(kind.default_template(), String::as_str)
    }

    /// Whether the city changed the template of a kind.
    pub fn is_changed(&self, kind: NoticeKind) -> bool {
        self.changed.contains_key(kind.key())
    }

    /// Checks a template typed in: not empty, not too long, no control characters, and only
    /// known placeholders (a misspelt one would reach applicants as it is).
    pub fn check(text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(NodeError::invalid("template", Invalid::Empty));
        }
        crate::ops::check_text("template", text, MAX_TEMPLATE_CHARS)?;
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let tail = &rest[open..];
            let close = tail.find('}').ok_or_else(|| {
                NodeError::invalid("template", Invalid::UnknownPlaceholder(tail.into()))
            })?;
            let name = &tail[..=close];
            if !PLACEHOLDERS.contains(&name) {
                return Err(NodeError::invalid(
                    "template",
                    Invalid::UnknownPlaceholder(name.into()),
                ));
            }
            rest = &tail[close + 1..];
        }
        Ok(())
    }

    /// Sets a kind's text (`None`: back to the default), as the stored map.
    pub(crate) fn stored_with(
        stored: Option<&BTreeMap<String, String>>,
        kind: NoticeKind,
        text: Option<&str>,
    ) -> BTreeMap<String, String> {
        let mut map = stored.cloned().unwrap_or_default();
        match text {
            Some(t) => map.insert(kind.key().to_string(), t.to_string()),
            None => map.remove(kind.key()),
        };
        map
    }

    /// Writes a kind's notice with `vars`.
    pub fn render(&self, kind: NoticeKind, vars: &Vars) -> String {
        let mut out = self.get(kind).to_string();
        for (name, value) in [
            ("{number}", &vars.number),
            ("{item}", &vars.item),
            ("{station}", &vars.station),
            ("{due}", &vars.due),
            ("{missing}", &vars.missing),
            ("{pickup}", &vars.pickup),
            ("{reply}", &vars.reply),
        ] {
            out = out.replace(name, value);
        }
        out
    }
}

/// What a template's placeholders stand for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// The case number.
    pub number: String,
    /// The item's name.
    pub item: String,
    /// The name of the station where the event happened.
    pub station: String,
    /// The promised due date, or empty.
    pub due: String,
    /// The missing materials, joined with 、.
    pub missing: String,
    /// Where the result is picked up (the station that took the case in).
    pub pickup: String,
    /// The reply to a bad rating.
    pub reply: String,
}

/// How this node delivers notices: local to the machine, never synced (the key is a secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum SenderConfig {
    /// No sender: notices stay queued here until one is configured.
    #[default]
    None,
    /// An HTTP SMS gateway: a JSON POST to `url` with `key` in the `X-Api-Key` header.
    Gateway {
        /// `http://` or `https://` URL.
        url: String,
        /// The key the gateway issued to this station.
        key: String,
    },
    /// Files in a folder that an SMS modem daemon (gammu-smsd's `outbox`) picks up.
    Spool {
        /// The folder.
        dir: String,
    },
}

impl SenderConfig {
    /// Whether notices can leave this node.
    pub fn is_configured(&self) -> bool {
        !matches!(self, SenderConfig::None)
    }

    /// Checks the configuration typed in.
    pub fn check(&self) -> Result<()> {
        match self {
            SenderConfig::None => Ok(()),
            SenderConfig::Gateway { url, key } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(NodeError::invalid("gateway URL", Invalid::NotAUrl));
                }
                crate::ops::check_text("gateway URL", url, 500)?;
                crate::ops::check_text("gateway key", key, 500)
            }
            SenderConfig::Spool { dir } => {
                if dir.trim().is_empty() {
                    return Err(NodeError::invalid("spool folder", Invalid::Empty));
                }
                crate::ops::check_text("spool folder", dir, 500)
            }
        }
    }
}

/// Where a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// Waiting for its first or next attempt.
    Queued,
    /// Delivered to the gateway or the spool folder.
    Sent,
    /// Given up: refused by the gateway, or out of attempts.
    Failed,
}

impl NoticeState {
    /// The stored name.
    pub fn key(self) -> &'static str {
        match self {
            NoticeState::Queued => "queued",
            NoticeState::Sent => "sent",
            NoticeState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> NoticeState {
        match s {
            "sent" => NoticeState::Sent,
            "failed" => NoticeState::Failed,
            _ => NoticeState::Queued,
        }
    }

    /// The state in the window's Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            NoticeState::Queued => "待发送",
            NoticeState::Sent => "已发送",
            NoticeState::Failed => "发送失败",
        }
    }
}

/// One notice in the outbox.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// The idempotency key, derived from the event ([`notice_id`]).
    pub id: String,
    /// The case.
    pub case_id: String,
    /// The case number.
    pub case_number: String,
    /// What it tells ([`NoticeKind::key`]).
    pub kind: String,
    /// The phone it goes to: personal data, never logged; serialised masked.
    #[serde(rename = "phone", serialize_with = "masked")]
    pub phone: String,
    /// The text.
    pub text: String,
    /// When it was queued (ms since the Unix epoch).
    pub created_at: i64,
    /// Where it is.
    pub state: NoticeState,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (ms), while queued.
    pub next_at: i64,
    /// Why the last attempt failed, or empty.
    pub last_error: String,
    /// When it was delivered (ms).
    pub sent_at: Option<i64>,
}

fn masked<S: serde::Serializer>(phone: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&mask_phone(phone))
}

// The phone never reaches a log through `{:?}`.
impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notice")
            .field("id", &self.id)
            .field("case_number", &self.case_number)
            .field("kind", &self.kind)
            .field("phone", &self.phone_masked())
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl Notice {
    /// The phone as every output shows it.
    pub fn phone_masked(&self) -> String {
        mask_phone(&self.phone)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Sent,
    /// Worth another try (the gateway unreachable or answering 5xx, the folder not writable).
    Retry(String),
    /// Not worth another try (the gateway refused the request itself).
    Refused(String),
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
        .and_then(|p| {
            nodes
                .into_iter()
                .filter(|(id, st, _)| *st == p && !roster.is_revoked(id))
                .min_by_key(|(id, _, ordinal)| (*ordinal, *id))
                .map(|(id, _, _)| id.to_string())
        })
        .unwrap_or_else(|| node_id.to_string())
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

/// Queues notices for a case, each once: a notice already in the outbox (queued, sent or
/// failed) is left as it is. Returns how many were new.
pub(crate) fn queue(
    conn: &Connection,
    doc: &CaseDoc,
    notices: &[NewNotice],
    now_ms: i64,
) -> Result<usize> {
    let mut added = 0;
    for n in notices {
        added += insert(
            conn,
            n,
            &doc.id,
            &doc.number,
            doc.applicant.phone.trim(),
            now_ms,
        )?;
    }
    Ok(added)
}

/// Queues one notice to `phone` unless its id is in the outbox already; 1 when it was new.
fn insert(
    conn: &Connection,
    n: &NewNotice,
    case_id: &str,
    case_number: &str,
    phone: &str,
    now_ms: i64,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO outbox (id, case_id, case_number, kind, phone, text, created_at, state, next_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8)",
        )?
        .execute(params![
            n.id,
            case_id,
            case_number,
            n.kind.key(),
            phone,
            n.text,
            now_ms,
            wall_ms()
        ])?)
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
    nodes
        .into_iter()
        .filter(|(id, st, _)| *st == sender && !roster.is_revoked(id))
        .min_by_key(|(id, _, ordinal)| (*ordinal, *id))
        .map(|(id, _, _)| id.to_string())
}

/// One staff warning to be queued: a case whose light is yellow or red, and a person of the
/// station holding it with a phone.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StaffWarning<'a> {
    pub(crate) case_id: &'a str,
    pub(crate) case_number: &'a str,
    pub(crate) kind: NoticeKind,
    pub(crate) account_id: &'a str,
    pub(crate) phone: &'a str,
    pub(crate) vars: Vars,
}

/// Queues a staff warning once per case, light and person: the id is made of the three, so
/// that the sweep may run as often as it likes.
pub(crate) fn queue_warning(
    conn: &Connection,
    templates: &Templates,
    w: &StaffWarning<'_>,
    now_ms: i64,
) -> Result<usize> {
    let n = NewNotice {
        id: notice_id(&format!("{}/{}", w.case_id, w.account_id), w.kind),
        kind: w.kind,
        text: templates.render(w.kind, &w.vars),
    };
    insert(conn, &n, w.case_id, w.case_number, w.phone, now_ms)
}

const COLUMNS: &str = "id, case_id, case_number, kind, phone, text, created_at, state, attempts, next_at, last_error, sent_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notice> {
    Ok(Notice {
        id: r.get(0)?,
        case_id: r.get(1)?,
        case_number: r.get(2)?,
        kind: r.get(3)?,
        phone: r.get(4)?,
        text: r.get(5)?,
        created_at: r.get(6)?,
        state: NoticeState::parse(&r.get::<_, String>(7)?),
        attempts: r.get(8)?,
        next_at: r.get(9)?,
        last_error: r.get(10)?,
        sent_at: r.get(11)?,
    })
}

/// Claims the notices due at `now_ms`, at most `limit`: each one's attempt is counted and its
/// next try moved by the backoff in this transaction, before anything is sent, so a process
/// that dies while sending tries again after the backoff (at least once), and a second process
/// on the same data directory does not claim the same notice meanwhile.
pub(crate) fn claim_due(
    conn: &Connection,
    now_ms: i64,
    limit: usize,
    base_ms: u64,
) -> Result<Vec<Notice>> {
    let due: Vec<Notice> = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE state = 'queued' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2"
        ))?
        .query_map(
            params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
            row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut claimed = Vec::with_capacity(due.len());
    for mut n in due {
        n.attempts += 1;
        n.next_at = now_ms + backoff_ms(base_ms, n.attempts);
        conn.prepare_cached("UPDATE outbox SET attempts = ?2, next_at = ?3 WHERE id = ?1")?
            .execute(params![n.id, n.attempts, n.next_at])?;
        claimed.push(n);
    }
    Ok(claimed)
}

/// Records how an attempt ended. A notice already sent stays sent (a late answer to an
/// earlier attempt changes nothing).
pub(crate) fn record_outcome(
    conn: &Connection,
    id: &str,
    outcome: &Outcome,
    now_ms: i64,
) -> Result<()> {
    let current: Option<(String, u32)> = conn
        .query_row(
            "SELECT state, attempts FROM outbox WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((state, attempts)) = current else {
        return Ok(());
    };
    if state == "sent" {
        return Ok(());
    }
    match outcome {
        Outcome::Sent => conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?2, last_error = '' WHERE id = ?1",
            params![id, now_ms],
        )?,
        Outcome::Retry(why) if attempts < MAX_ATTEMPTS => conn.execute(
            "UPDATE outbox SET last_error = ?2 WHERE id = ?1",
            params![id, why],
        )?,
        Outcome::Retry(why) | Outcome::Refused(why) => conn.execute(
            "UPDATE outbox SET state = 'failed', last_error = ?2 WHERE id = ?1",
            params![id, why],
        )?,
    };
    Ok(())
}

/// Puts a failed notice back in the queue, due now, with its attempts counted afresh.
pub(crate) fn retry(conn: &Connection, id: &str, now_ms: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE outbox SET state = 'queued', attempts = 0, next_at = ?2 WHERE id = ?1 AND state = 'failed'",
        params![id, now_ms],
    )? > 0)
}

/// The notices of a case, oldest first.
pub(crate) fn for_case(conn: &Connection, case_id: &str) -> Result<Vec<Notice>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE case_id = ?1 ORDER BY created_at, id"
        ))?
        .query_map([case_id], row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The newest notices, optionally of one state, at most `limit`.
pub(crate) fn list(
    conn: &Connection,
    state: Option<NoticeState>,
    limit: usize,
) -> Result<Vec<Notice>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match state {
        Some(s) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE state = ?1 ORDER BY created_at DESC, id LIMIT ?2"
            ))?
            .query_map(params![s.key(), limit], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox ORDER BY created_at DESC, id LIMIT ?1"
            ))?
            .query_map([limit], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    Ok(rows)
}

/// How many notices are queued, sent and failed, and when the next queued one is due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    /// Waiting for an attempt.
    pub queued: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
    /// When the earliest queued notice is due (ms), if any.
    pub next_due: Option<i64>,
}

pub(crate) fn counts(conn: &Connection) -> Result<OutboxCounts> {
    let mut c = OutboxCounts::default();
    let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM outbox GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for r in rows {
        let (state, n) = r?;
        let n = u64::try_from(n).unwrap_or(0);
        match NoticeState::parse(&state) {
            NoticeState::Queued => c.queued = n,
            NoticeState::Sent => c.sent = n,
            NoticeState::Failed => c.failed = n,
        }
    }
    c.next_due = conn.query_row(
        "SELECT min(next_at) FROM outbox WHERE state = 'queued'",
        [],
        |r| r.get(0),
    )?;
    Ok(c)
}

#[cfg(test)]
mod tests;
