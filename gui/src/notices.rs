//! The notice sender (issue #15): a named thread, `yizhan-notices`, that delivers the notices
//! queued in this node's outbox, in `yizhan serve` and in the window (beside the sync engine,
//! so that one process per data directory sends).
//!
//! Each pass claims the due notices on the store thread (`Node::claim_notices`: the attempt is
//! counted and the next try moved by the backoff before anything leaves), delivers each one with
//! its id as the idempotency key, and records the outcome (`Node::record_notice`). A process
//! killed between the claim and the record delivers the notice again after the backoff: at
//! least once, and the gateway recognises the repeat by the key.
//!
//! Two ways out, as configured on the node (`yizhan notice sender`, the window's settings):
//! - an HTTP SMS gateway: `POST <url>` with `X-Api-Key: <key>`, `Idempotency-Key: <id>` and a
//!   JSON body `{"id", "to", "text", "case", "kind"}`; 2xx is sent, 408, 429 and 5xx are retried,
//!   any other answer fails the notice with its status;
//! - a spool folder for an SMS modem daemon (gammu-smsd's files backend): one file per notice,
//!   `OUTA<date>_<time>_00_<phone>_<key>.txt` with the text in UTF-8, written under a temporary
//!   name and renamed, so the daemon never reads half a file; its name follows from the notice,
//!   so a repeat overwrites rather than adds.
//!
//! Phones are never logged: the log names a notice by its id and case number only.

use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;
use yizhan_node::NodeHandle;
use yizhan_node::failpoint::{NOTICE_AFTER_SEND, NOTICE_BEFORE_SEND, pause_if_armed};
use yizhan_node::notice::{Notice, Outcome, SenderConfig};

/// How the sender paces itself.
#[derive(Debug, Clone, Copy)]
pub struct SenderOptions {
    /// The first retry's delay; each further one doubles it (at most an hour).
    pub backoff_base_ms: u64,
    /// How often the outbox is looked at when nothing is due sooner (notices queued by the
    /// command line beside this process, a sender configured meanwhile).
    pub poll: Duration,
    /// A gateway request's time limit.
    pub timeout: Duration,
}

impl Default for SenderOptions {
    fn default() -> SenderOptions {
        SenderOptions {
            backoff_base_ms: 30_000,
            poll: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
        }
    }
}

impl SenderOptions {
    /// The defaults, with `YIZHAN_NOTICE_BACKOFF_MS` and `YIZHAN_NOTICE_POLL_MS` overriding
    /// them (tests keep retries fast with them).
    pub fn from_env() -> SenderOptions {
        let ms = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let d = SenderOptions::default();
        SenderOptions {
            backoff_base_ms: ms("YIZHAN_NOTICE_BACKOFF_MS").unwrap_or(d.backoff_base_ms),
            poll: ms("YIZHAN_NOTICE_POLL_MS").map_or(d.poll, Duration::from_millis),
            timeout: d.timeout,
        }
    }
}

/// The running sender; [`Sender::stop`] ends it after the notice in flight.
#[derive(Debug)]
pub struct Sender {
    stop: SyncSender<()>,
    join: Option<JoinHandle<()>>,
}

/// Notices claimed per pass.
const BATCH: usize = 32;

impl Sender {
    /// Starts the sender thread on a node's store thread.
    pub fn start(handle: NodeHandle, options: SenderOptions) -> std::io::Result<Sender> {
        let (stop, stop_rx) = sync_channel::<()>(1);
        let join = std::thread::Builder::new()
            .name("yizhan-notices".into())
            .spawn(move || run(&handle, options, &stop_rx))?;
        Ok(Sender {
            stop,
            join: Some(join),
        })
    }

    /// Stops the sender and waits for it (at most the notice in flight, bounded by its timeout).
    pub fn stop(mut self) {
        let _ = self.stop.try_send(());
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.stop.try_send(());
    }
}

fn run(handle: &NodeHandle, options: SenderOptions, stop: &std::sync::mpsc::Receiver<()>) {
    // The gateway client needs a runtime and a TLS provider; both live only on this thread.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("the notice sender cannot start its runtime: {e}");
            return;
        }
    };
    let client = match reqwest::Client::builder().timeout(options.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("the notice sender cannot build its HTTP client: {e}");
            return;
        }
    };
    let mut wait = Duration::ZERO;
    loop {
        match stop.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        wait = match pass(handle, &rt, &client, options, stop) {
            Ok(Some(next)) => next,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("notice sender: {e}");
                options.poll
            }
        };
    }
}

/// One pass over the due notices; returns how long to wait before the next one (`None`: stop).
fn pass(
    handle: &NodeHandle,
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    options: SenderOptions,
    stop: &std::sync::mpsc::Receiver<()>,
) -> yizhan_node::Result<Option<Duration>> {
    let config = handle.call(|n| n.sender_config())?;
    if !config.is_configured() {
        return Ok(Some(options.poll));
    }
    // Lights turn with the date as well as with events: each pass looks for new yellow and
    // red ones first, so their warnings go out in this pass.
    handle.call(|n| n.queue_light_warnings())?;
    let base = options.backoff_base_ms;
    let claimed = handle.call(move |n| n.claim_notices(BATCH, base))?;
    let full = claimed.len() == BATCH;
    for notice in claimed {
        if stop.try_recv().is_ok() {
            // The claim is counted: the notice goes out after its backoff, here or next start.
            return Ok(None);
        }
        pause_if_armed(NOTICE_BEFORE_SEND);
        let outcome = deliver(rt, client, &config, &notice);
        pause_if_armed(NOTICE_AFTER_SEND);
        match &outcome {
            Outcome::Sent => {
                tracing::info!(notice = %notice.id, case = %notice.case_number, attempt = notice.attempts, "notice sent")
            }
            Outcome::Retry(why) | Outcome::Refused(why) => {
                tracing::warn!(notice = %notice.id, case = %notice.case_number, attempt = notice.attempts, "notice not sent: {why}")
            }
        }
        let id = notice.id.clone();
        handle.call(move |n| n.record_notice(&id, &outcome))?;
    }
    if full {
        return Ok(Some(Duration::ZERO));
    }
    // Sleep until the next notice is due (a retry's backoff), or the poll, whichever is first.
    let counts = handle.call(|n| n.outbox_counts())?;
    let now = yizhan_node::notice::wall_ms();
    Ok(Some(counts.next_due.map_or(options.poll, |due| {
        Duration::from_millis(u64::try_from(due - now).unwrap_or(0)).min(options.poll)
    })))
}

/// Delivers one notice the configured way.
fn deliver(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    config: &SenderConfig,
    notice: &Notice,
) -> Outcome {
    match config {
        SenderConfig::None => Outcome::Retry("没有配置发送方式 (no sender configured)".into()),
        SenderConfig::Gateway { url, key } => rt.block_on(post(client, url, key, notice)),
        SenderConfig::Spool { dir } => spool(std::path::Path::new(dir), notice),
    }
}

async fn post(client: &reqwest::Client, url: &str, key: &str, notice: &Notice) -> Outcome {
    let body = serde_json::json!({
        "id": notice.id,
        "to": notice.phone,
        "text": notice.text,
        "case": notice.case_number,
        "kind": notice.kind,
    });
    let sent = client
        .post(url)
        .header("X-Api-Key", key)
        .header("Idempotency-Key", &notice.id)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status();
            if status.is_success() {
                Outcome::Sent
            } else if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
                Outcome::Retry(format!("HTTP {}", status.as_u16()))
            } else {
                Outcome::Refused(format!("HTTP {}", status.as_u16()))
            }
        }
        // reqwest's message names the URL, never the body: no phone in it.
        Err(e) => Outcome::Retry(e.without_url().to_string()),
    }
}

/// The spool file's name for a notice: gammu-smsd's outbox naming, fixed by the notice (its
/// queueing time and a hash of its id), so that a repeat replaces the same file.
pub fn spool_name(notice: &Notice) -> String {
    let when = chrono::DateTime::from_timestamp_millis(notice.created_at)
        .unwrap_or_default()
        .format("%Y%m%d_%H%M%S");
    let phone: String = notice
        .phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    // FNV-1a: a stable short tag of the id (gammu wants no slash in a name).
    let tag = notice.id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("OUTA{when}_00_{phone}_{tag:016x}.txt")
}

fn spool(dir: &std::path::Path, notice: &Notice) -> Outcome {
    let name = spool_name(notice);
    let tmp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, notice.text.as_bytes())?;
        std::fs::rename(&tmp, dir.join(&name))
    };
    match write() {
        Ok(()) => Outcome::Sent,
        // The error names the folder, not the file (whose name holds the phone).
        Err(e) => Outcome::Retry(format!("{}: {}", dir.display(), e.kind())),
    }
}
