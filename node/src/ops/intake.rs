//! Intake (收件): the typed-in form is validated against the catalog and the field rules, then
//! every case of the batch is written with `write_case`, numbered from the day's counter and
//! indexed, in one transaction: all of the batch or none of it.

use crate::account::Account;
use crate::case::doc::{Applicant, CASE_SCHEMA, CaseDoc, Delegation, ItemSnapshot, write_case};
use crate::clock::china_date;
use crate::error::{NodeError, Result};
use crate::idcard::validate_id_number;
use crate::invalid::Invalid;
use crate::node::{CaseView, NewCase, Node};
use crate::ops::derived::{derive, index_row};
use crate::ops::{check_text, new_case_id, notices};
use crate::refusal::Refusal;
use crate::store::DocType;
use crate::store::index::{self};

impl NewCase {
    /// The applicant as the case document keeps it: trimmed, the ID number's check character in
    /// upper case.
    pub fn applicant(&self) -> Applicant {
        Applicant {
            name: self.applicant_name.trim().to_string(),
            id_number: self.id_number.trim().to_uppercase(),
            phone: self.phone.trim().to_string(),
            address: self.address.trim().to_string(),
        }
    }

    /// The delegation (代办) as the case document keeps it, if the case was taken in by an agent:
    /// the signed-in agent's account, name and phone, or at a station without accounts the name
    /// typed in.
    pub fn delegation(&self, agent: Option<&Account>) -> Option<Delegation> {
        self.delegated.then(|| Delegation {
            agent: agent.map_or_else(|| self.operator.trim().to_string(), |a| a.name.clone()),
            entrustment: self.entrustment,
            handed_over: self.handed_over.clone(),
            agent_account: agent.map(|a| a.id.clone()),
            agent_phone: agent.map(|a| a.phone.clone()),
        })
    }
}

pub(crate) fn validate_new(node: &Node, new: &NewCase) -> Result<ItemSnapshot> {
    let item = node
        .catalog()
        .get(new.item_code.trim())
        .ok_or_else(|| NodeError::UnknownItem(new.item_code.clone()))?;
    if item.retired {
        return Err(NodeError::not_allowed(
            "intake",
            Refusal::ItemRetired {
                code: item.code.clone(),
                name: item.name.clone(),
            },
        ));
    }
    let name = new.applicant_name.trim();
    if name.is_empty() {
        return Err(NodeError::invalid("applicant name", Invalid::Empty));
    }
    check_text("applicant name", name, 64)?;
    if !new.id_number.trim().is_empty() {
        validate_id_number(new.id_number.trim())
            .map_err(|e| NodeError::invalid("ID number", Invalid::IdNumber(e)))?;
    }
    if !new.phone.trim().is_empty() {
        validate_phone(new.phone.trim())?;
    }
    check_text("address", &new.address, 200)?;
    check_text("operator", &new.operator, 64)?;
    for m in &new.handed_over {
        check_text("materials handed over", m, 100)?;
    }
    // Without an agent, `handed_over` is what the window received (kept as `received`); a
    // letter of entrustment only exists for an agent.
    if !new.delegated && new.entrustment {
        return Err(NodeError::invalid("delegation", Invalid::NotDelegated));
    }
    Ok(item.snapshot())
}

/// Implements [`Node::new_case`].
pub(crate) fn new_case(node: &mut Node, new: &NewCase) -> Result<CaseView> {
    let mut views = node.new_cases(std::slice::from_ref(new))?;
    views
        .pop()
        .ok_or_else(|| NodeError::invalid("case", Invalid::NothingCreated))
}

/// Implements [`Node::new_cases`].
pub(crate) fn new_cases(node: &mut Node, batch: &[NewCase]) -> Result<Vec<CaseView>> {
    node.refresh()?;
    let actor = node.acting()?;
    if let Some(a) = &actor
        && !a.role.is_some_and(crate::role::Role::handles_cases)
    {
        return Err(NodeError::not_allowed(
            "intake",
            Refusal::RoleNeeded {
                needed: vec![
                    crate::role::Role::Agent,
                    crate::role::Role::Clerk,
                    crate::role::Role::Admin,
                ],
                role: a.role.unwrap_or(crate::role::Role::Agent),
                dept: None,
            },
        ));
    }
    let items = batch
        .iter()
        .map(|n| validate_new(node, n))
        .collect::<Result<Vec<_>>>()?;
    let now = node.now_ms();
    let today = china_date(now);
    let ident = node.identity.clone();
    let net = &node.net;
    node.store.write(|wtx| {
        let day = today.format("%y%m%d").to_string();
        let mut counter: u64 = match wtx.meta("number_day")? {
            Some(d) if d == day => wtx
                .meta("number_counter")?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            _ => 0,
        };
        // Who sends this batch's intake notices, chosen in the transaction (issue #15).
        let notices_by = notices::notices_by(wtx, net, &ident.station, &ident.node_id)?;
        let mut views = Vec::with_capacity(batch.len());
        let mut keys = index::PendingKeys::default();
        for (new, item) in batch.iter().zip(items) {
            counter += 1;
            let doc = CaseDoc {
                schema: CASE_SCHEMA.into(),
                id: new_case_id(now)?,
                number: format!("{}-{}-{}-{:03}", ident.station, day, ident.ordinal, counter),
                created_at: now,
                origin: ident.station.clone(),
                origin_node: ident.node_id.clone(),
                item,
                applicant: new.applicant(),
                delegation: new.delegation(actor.as_ref()),
                intake_by: actor.as_ref().map(Account::actor),
                intake_operator: Some(
                    actor
                        .as_ref()
                        .map_or_else(|| new.operator.trim().to_string(), |a| a.name.clone()),
                ),
                notices_by: (!new.phone.trim().is_empty()).then(|| notices_by.clone()),
                received: (!new.delegated).then(|| new.handed_over.clone()),
                events: Vec::new(),
            };
            let mut am = wtx.new_doc();
            write_case(&mut am, &doc)?;
            wtx.put_doc(&doc.id, DocType::Case, am, None)?;
            let view = derive(doc, &net.calendar, &net.settings, &net.accounts, today);
            index::upsert_deferring_keys(wtx.sql(), &index_row(&view, &net.roster), &mut keys)?;
            notices::queue_case(wtx.sql(), &view, net, &ident.node_id, now)?;
            views.push(view);
        }
        // The batch's search keys together, in key order (a large batch's wait to be merged).
        keys.write(wtx.sql())?;
        wtx.set_meta("number_day", &day)?;
        wtx.set_meta("number_counter", &counter.to_string())?;
        Ok(views)
    })
}

pub(crate) fn validate_phone(phone: &str) -> Result<()> {
    if crate::idcard::is_valid_phone(phone) {
        Ok(())
    } else {
        Err(NodeError::invalid("phone", Invalid::Phone))
    }
}
