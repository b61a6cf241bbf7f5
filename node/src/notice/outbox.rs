//! The `outbox` table: notices queued once each, claimed with their attempt counted before they
//! are sent, their outcomes recorded, and the lists and counts the window and the command line
//! show.

use super::{MAX_ATTEMPTS, NewNotice, NoticeKind, Templates, Vars, backoff_ms, notice_id, wall_ms};
use crate::case::doc::CaseDoc;
use crate::error::Result;
use crate::idcard::mask_phone;
use rusqlite::{Connection, OptionalExtension, params};

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
