//! Actions on cases. An action is checked first against what only this node knows (its station
//! and tier, the roster, field lengths: [`check_local`]), then against the one transition table
//! (`fold::check`); then the event is appended with `append_event`, the document persisted and
//! the index row updated, all in one transaction per batch.

use crate::case::action::Action;
use crate::case::doc::{CaseDoc, append_event, read_case};
use crate::case::fold::{self, CaseState};
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::node::{CaseView, Identity, NetCache, Node};
use crate::notice::NoticeKind;
use crate::ops::derived::{derive, index_row};
use crate::ops::{check_text, new_uuid, notices};
use crate::refusal::Refusal;
use crate::store::DocType;
use crate::store::index::{self};

/// Implements [`Node::act`].
pub(crate) fn act(
    node: &mut Node,
    id_or_number: &str,
    action: &Action,
    operator: &str,
) -> Result<CaseView> {
    let mut views = node.act_many(&[(id_or_number.to_string(), action.clone())], operator)?;
    views
        .pop()
        .ok_or_else(|| NodeError::CaseNotFound(id_or_number.to_string()))
}

/// Implements [`Node::check_action`].
pub(crate) fn check_action(node: &mut Node, id_or_number: &str, action: &Action) -> Result<()> {
    let view = node.case(id_or_number)?;
    let actor = node.acting()?;
    check_local(&node.net, &node.identity, &view.doc, &view.state, action)?;
    let event = view.doc.next_event(
        &view.state.last_transition,
        action,
        "(check)".to_string(),
        node.now_ms(),
        &node.identity.station,
        &node.identity.node_id,
        "",
        actor.map(|a| a.actor()).as_ref(),
    );
    fold::check(
        &view.state,
        &view.doc.item,
        &node.net.accounts,
        &event,
        action,
    )
    .map_err(|why| NodeError::not_allowed(action.kind(), why))
}

/// Implements [`Node::act_many`].
pub(crate) fn act_many(
    node: &mut Node,
    actions: &[(String, Action)],
    operator: &str,
) -> Result<Vec<CaseView>> {
    node.refresh()?;
    check_text("operator", operator, 64)?;
    // At a station with accounts the signed-in operator acts, under their own name.
    let actor = node.acting()?;
    let (operator, by) = match &actor {
        Some(a) => (a.name.as_str(), Some(a.actor())),
        None => (operator, None),
    };
    let ids = actions
        .iter()
        .map(|(key, _)| node.resolve(key))
        .collect::<Result<Vec<_>>>()?;
    let now = node.now_ms();
    let ident = node.identity.clone();
    let today = node.today();
    let net = &node.net;
    node.store.write(|wtx| {
        // Who sends the notices of these events, chosen in the transaction (issue #15).
        let notices_by = notices::notices_by(wtx, net, &ident.station, &ident.node_id)?;
        let mut views = Vec::with_capacity(actions.len());
        for (id, (_, action)) in ids.iter().zip(actions) {
            let mut am = wtx
                .take_doc(id)?
                .ok_or_else(|| NodeError::CaseNotFound(id.clone()))?;
            let mut doc = read_case(&am, id)?;
            let state = fold::fold_with(&doc, &net.accounts);
            check_local(net, &ident, &doc, &state, action)?;
            let mut event = doc.next_event(
                &state.last_transition,
                action,
                new_uuid()?,
                now,
                &ident.station,
                &ident.node_id,
                operator,
                by.as_ref(),
            );
            if !doc.applicant.phone.trim().is_empty() && NoticeKind::may_follow(&event.kind) {
                event.notices_by = Some(notices_by.clone());
            }
            fold::check(&state, &doc.item, &net.accounts, &event, action)
                .map_err(|why| NodeError::not_allowed(action.kind(), why))?;
            let before = am.get_heads();
            append_event(&mut am, id, &event)?;
            wtx.put_doc(id, DocType::Case, am, Some(&before))?;
            doc.events.push(event);
            let view = derive(doc, &net.calendar, &net.settings, &net.accounts, today);
            index::upsert(wtx.sql(), &index_row(&view, &net.roster))?;
            notices::queue_case(wtx.sql(), &view, net, &ident.node_id, now)?;
            views.push(view);
        }
        Ok(views)
    })
}

/// Checks what only this node knows (the roster, its tier) before the transition table runs.
pub(crate) fn check_local(
    net: &NetCache,
    ident: &Identity,
    doc: &CaseDoc,
    state: &CaseState,
    action: &Action,
) -> Result<()> {
    {
        let me = net
            .roster
            .station(&ident.station)
            .ok_or_else(|| NodeError::UnknownStation(ident.station.clone()))?;
        match action {
            // The tier that handles the item accepts and decides it, also after a forward.
            Action::Accept
            | Action::AcceptWithGaps { .. }
            | Action::Refuse { .. }
            | Action::Approve { .. }
            | Action::Reject { .. }
            | Action::Complete
            | Action::Decline { .. } => {
                // The case's copy of the item was parsed by `read_case`: an unknown tier (a
                // document from a newer version) is refused there, never guessed.
                let item_tier = doc.item.tier;
                if state.holder == me.code && me.tier() != item_tier {
                    return Err(NodeError::not_allowed(
                        action.kind(),
                        Refusal::WrongTier {
                            item_code: doc.item.code.clone(),
                            item_name: doc.item.name.clone(),
                            item_tier,
                            here: me.tier(),
                        },
                    ));
                }
            }
            Action::Forward { to } if net.roster.station(to).is_none() => {
                return Err(NodeError::UnknownStation(to.clone()));
            }
            Action::Consult { with, minutes, .. } => {
                if net.roster.station(with).is_none() {
                    return Err(NodeError::UnknownStation(with.clone()));
                }
                if *minutes == 0 || *minutes > 600 {
                    return Err(NodeError::invalid(
                        "minutes",
                        Invalid::Between { min: 1, max: 600 },
                    ));
                }
            }
            Action::Rate { level, .. } if !(1..=5).contains(level) => {
                return Err(NodeError::invalid("level", Invalid::RatingLevel));
            }
            // A supervisor works at the city, or at a township for its villages' cases.
            Action::Supervise { reason, reply_days } => {
                if me.tier() == crate::station::Tier::Village {
                    return Err(NodeError::not_allowed(
                        action.kind(),
                        Refusal::SupervisorTier,
                    ));
                }
                if reason.trim().is_empty() {
                    return Err(NodeError::invalid("reason", Invalid::ReasonNeeded));
                }
                if !(1..=30).contains(reply_days) {
                    return Err(NodeError::invalid(
                        "reply days",
                        Invalid::WorkingDaysBetween { min: 1, max: 30 },
                    ));
                }
            }
            Action::ReplySupervision { text, .. } if text.trim().is_empty() => {
                return Err(NodeError::invalid("text", Invalid::Empty));
            }
            _ => {}
        }
        let texts: Vec<(&'static str, &str)> = match action {
            Action::Refuse { reason }
            | Action::Suspend { reason }
            | Action::Decline { reason }
            | Action::Reject { reason, .. } => {
                vec![("reason", reason.as_str())]
            }
            Action::Note { text } => vec![("text", text.as_str())],
            Action::Settle { note } => vec![("note", note.as_str())],
            Action::Supervise { reason, .. } => vec![("reason", reason.as_str())],
            Action::ReplySupervision { text, .. } => vec![("text", text.as_str())],
            Action::FollowUp { summary } | Action::Consult { summary, .. } => {
                vec![("summary", summary.as_str())]
            }
            Action::Rate { comment, .. } => vec![("comment", comment.as_str())],
            Action::AcceptWithGaps { promise, .. } => vec![("promise", promise.as_str())],
            _ => vec![],
        };
        for (field, text) in texts {
            check_text(field, text, 2000)?;
        }
        if matches!(
            action,
            Action::Refuse { .. } | Action::Reject { .. } | Action::Decline { .. }
        ) && texts_empty(action)
        {
            return Err(NodeError::invalid("reason", Invalid::ReasonNeeded));
        }
        Ok(())
    }
}

pub(crate) fn texts_empty(action: &Action) -> bool {
    match action {
        Action::Refuse { reason } | Action::Reject { reason, .. } | Action::Decline { reason } => {
            reason.trim().is_empty()
        }
        _ => false,
    }
}
