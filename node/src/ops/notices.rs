//! Notices (issue #15): choosing the node that sends an event's notices when the event is
//! written, queueing them in the event's transaction (or the sync batch's, at the node chosen),
//! the outbox's claims and outcomes for the sender, this node's local notice settings, and the
//! city's edits of the templates. The rules themselves are in [`crate::notice`].

use crate::case::doc::CaseDoc;
use crate::error::Result;
use crate::network::{SETTINGS_ID, SettingsDoc};
use crate::node::{CaseView, NetCache, Node};
use crate::notice::{
    self, Context, Notice, NoticeKind, NoticeState, OutboxCounts, Outcome, SenderConfig, Templates,
};
use crate::ops::network_edit::edit_network;
use crate::store::WriteTx;
use rusqlite::Connection;

/// The meta key of this node's sender configuration (JSON of [`SenderConfig`]).
const SENDER_KEY: &str = "notice.sender";
/// The meta key of this station's public address (receipts' QR codes).
const PUBLIC_URL_KEY: &str = "notice.public_url";
/// The meta key of the address the window serves the progress page on.
const HTTP_KEY: &str = "web.listen";

/// This node's sender configuration, read inside a transaction or on the connection.
fn sender_in(conn: &Connection) -> Result<SenderConfig> {
    let stored: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [SENDER_KEY],
        |r| r.get(0),
    ))?;
    // A value this version cannot read (written by a newer one) counts as no sender: the
    // notices stay queued rather than going somewhere unintended.
    Ok(stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// The node that will send the notices of an event this node writes now, chosen inside the
/// write transaction so that it follows the sender configuration as committed.
pub(crate) fn notices_by(
    wtx: &WriteTx<'_>,
    net: &NetCache,
    station: &str,
    node_id: &str,
) -> Result<String> {
    let has_sender = sender_in(wtx.sql())?.is_configured();
    Ok(notice::responsible_node(
        &net.roster,
        known_nodes(net),
        station,
        node_id,
        has_sender,
    ))
}

/// The nodes this node knows, as (node id, station, ordinal): the roster's and every
/// certificate held here (a township enrolled by the city appears in certificates, not
/// necessarily in the roster).
fn known_nodes(net: &NetCache) -> impl Iterator<Item = (&str, &str, u32)> {
    net.roster
        .members
        .values()
        .map(|m| (m.node_id.as_str(), m.station.as_str(), m.ordinal))
        .chain(net.members.certs().values().map(|c| {
            (
                c.body.node_id.as_str(),
                c.body.station.code.as_str(),
                c.body.ordinal,
            )
        }))
}

/// Queues, in the caller's transaction, the notices of a case that this node must send.
pub(crate) fn queue_case(
    conn: &Connection,
    view: &CaseView,
    net: &NetCache,
    node_id: &str,
    now_ms: i64,
) -> Result<usize> {
    let cx = Context {
        roster: &net.roster,
        templates: &net.templates,
        due: view.deadline.due_on,
    };
    queue_doc(conn, &view.doc, cx, node_id, now_ms)
}

/// [`queue_case`] from the document and its due date.
pub(crate) fn queue_doc(
    conn: &Connection,
    doc: &CaseDoc,
    cx: Context<'_>,
    node_id: &str,
    now_ms: i64,
) -> Result<usize> {
    let notices = notice::notices_for(doc, node_id, cx);
    if notices.is_empty() {
        return Ok(0);
    }
    notice::queue(conn, doc, &notices, now_ms)
}

/// Implements [`Node::claim_notices`].
pub(crate) fn claim(node: &mut Node, limit: usize, backoff_base_ms: u64) -> Result<Vec<Notice>> {
    let now = notice::wall_ms();
    node.store()
        .write(|wtx| notice::claim_due(wtx.sql(), now, limit, backoff_base_ms))
}

/// Implements [`Node::record_notice`].
pub(crate) fn record(node: &mut Node, id: &str, outcome: &Outcome) -> Result<()> {
    let now = node.now_ms();
    node.store()
        .write(|wtx| notice::record_outcome(wtx.sql(), id, outcome, now))
}

/// Implements [`Node::retry_notice`].
pub(crate) fn retry(node: &mut Node, id: &str) -> Result<bool> {
    let now = notice::wall_ms();
    node.store().write(|wtx| notice::retry(wtx.sql(), id, now))
}

/// Implements [`Node::case_notices`].
pub(crate) fn for_case(node: &Node, id_or_number: &str) -> Result<Vec<Notice>> {
    let id = node.resolve(id_or_number)?;
    notice::for_case(node.store_ref().conn(), &id)
}

/// Implements [`Node::notices`].
pub(crate) fn list(node: &Node, state: Option<NoticeState>, limit: usize) -> Result<Vec<Notice>> {
    notice::list(node.store_ref().conn(), state, limit)
}

/// Implements [`Node::outbox_counts`].
pub(crate) fn counts(node: &Node) -> Result<OutboxCounts> {
    notice::counts(node.store_ref().conn())
}

/// Implements [`Node::sender_config`].
pub(crate) fn sender_config(node: &Node) -> Result<SenderConfig> {
    sender_in(node.store_ref().conn())
}

/// Implements [`Node::set_sender_config`].
pub(crate) fn set_sender_config(node: &mut Node, config: &SenderConfig) -> Result<()> {
    config.check()?;
    let text = serde_json::to_string(config).map_err(|e| crate::error::NodeError::Io {
        path: "(notice settings)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    node.store().write(|wtx| wtx.set_meta(SENDER_KEY, &text))
}

fn local(node: &Node, key: &str) -> Result<Option<String>> {
    Ok(node.store_ref().meta(key)?.filter(|s| !s.is_empty()))
}

/// Implements [`Node::public_url`].
pub(crate) fn public_url(node: &Node) -> Result<Option<String>> {
    local(node, PUBLIC_URL_KEY)
}

/// Implements [`Node::set_public_url`].
pub(crate) fn set_public_url(node: &mut Node, url: Option<&str>) -> Result<()> {
    let url = url.map(str::trim).unwrap_or_default();
    if !url.is_empty() {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(crate::error::NodeError::invalid(
                "public address",
                crate::invalid::Invalid::NotAUrl,
            ));
        }
        crate::ops::check_text("public address", url, 200)?;
    }
    let url = url.trim_end_matches('/').to_string();
    node.store().write(|wtx| wtx.set_meta(PUBLIC_URL_KEY, &url))
}

/// Implements [`Node::web_listen`].
pub(crate) fn web_listen(node: &Node) -> Result<Option<String>> {
    local(node, HTTP_KEY)
}

/// Implements [`Node::set_web_listen`].
pub(crate) fn set_web_listen(node: &mut Node, addr: Option<&str>) -> Result<()> {
    let addr = addr.map(str::trim).unwrap_or_default().to_string();
    if !addr.is_empty() && addr.parse::<std::net::SocketAddr>().is_err() {
        return Err(crate::error::NodeError::invalid(
            "progress page address",
            crate::invalid::Invalid::NotAnAddress,
        ));
    }
    node.store().write(|wtx| wtx.set_meta(HTTP_KEY, &addr))
}

/// Implements [`Node::set_notice_template`]: the city changes one kind's text (`None`: back to
/// the default) in the settings document as stored, like every network edit.
pub(crate) fn set_template(node: &mut Node, kind: NoticeKind, text: Option<&str>) -> Result<()> {
    node.refresh()?;
    node.require_city("notice template")?;
    if let Some(t) = text {
        Templates::check(t)?;
    }
    node.store().write(|wtx| {
        edit_network(wtx, SETTINGS_ID, |doc: &mut SettingsDoc| {
            doc.notice_templates = Some(Templates::stored_with(
                doc.notice_templates.as_ref(),
                kind,
                text,
            ));
            Ok(())
        })
        .map(|_| ())
    })?;
    node.refresh()
}

/// The cases at most one sweep warns about; the rest wait for the next sweep.
const WARN_SWEEP: usize = 2_000;

/// Implements [`Node::queue_light_warnings`]: for every station this node warns for (its own,
/// and a township's villages, see [`notice::warning_node`]), every open case held there whose
/// light is yellow or red queues one warning per person of the station who handles cases
/// (window clerks and proxy agents, not disabled, with a phone). Run by the sender on each
/// pass: lights change with the date, not only with events, so a sweep is what notices them.
pub(crate) fn queue_light_warnings(node: &mut Node) -> Result<usize> {
    use crate::case::deadline::Light;
    use crate::query::{CaseFilter, Sort};
    use crate::role::Role;
    let me = node.identity().clone();
    let warned: Vec<String> = {
        let net = &node.net;
        let mut stations = vec![me.station.clone()];
        stations.extend(
            net.roster
                .stations
                .values()
                .filter(|s| s.parent == me.station)
                .map(|s| s.code.clone()),
        );
        stations
            .into_iter()
            .filter(|holder| {
                notice::warning_node(&net.roster, known_nodes(net), holder).as_deref()
                    == Some(me.node_id.as_str())
            })
            .collect()
    };
    let now = node.now_ms();
    let mut added = 0;
    for holder in warned {
        let staff: Vec<(String, String)> = node
            .accounts()
            .of_station(&holder)
            .into_iter()
            .filter(|a| {
                a.disabled.is_none()
                    && matches!(a.role, Some(Role::Clerk | Role::Agent))
                    && !a.phone.trim().is_empty()
            })
            .map(|a| (a.id.clone(), a.phone.trim().to_string()))
            .collect();
        if staff.is_empty() {
            continue;
        }
        let rows = node.list(&CaseFilter {
            holder: Some(holder.clone()),
            due_soon: true,
            sort: Sort::Due,
            limit: WARN_SWEEP,
            ..CaseFilter::default()
        })?;
        let station = node
            .net
            .roster
            .station(&holder)
            .map_or_else(|| holder.clone(), |s| s.name.clone());
        let templates = node.net.templates.clone();
        added += node.store().write(|wtx| {
            let mut added = 0;
            for row in &rows {
                let kind = match row.light.as_deref() {
                    Some(l) if l == Light::Yellow.as_str() => NoticeKind::DueSoon,
                    Some(l) if l == Light::Red.as_str() || l == Light::Severe.as_str() => {
                        NoticeKind::Overdue
                    }
                    _ => continue,
                };
                let vars = notice::Vars {
                    number: row.number.clone(),
                    item: row.item_name.clone(),
                    station: station.clone(),
                    due: row.due_on.clone().unwrap_or_default(),
                    ..notice::Vars::default()
                };
                for (account_id, phone) in &staff {
                    added += notice::queue_warning(
                        wtx.sql(),
                        &templates,
                        &notice::StaffWarning {
                            case_id: &row.id,
                            case_number: &row.number,
                            kind,
                            account_id,
                            phone,
                            vars: vars.clone(),
                        },
                        now,
                    )?;
                }
            }
            Ok(added)
        })?;
    }
    Ok(added)
}
