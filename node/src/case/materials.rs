//! Where each material of a case stands (issue #13): received at intake, asked for in the
//! one-time notice, promised under 容缺受理, supplied later, or still missing.
//!
//! One function answers it for the window's detail view, the one-time notice's starting list,
//! the receipts and the command line, so that they never disagree. The letter of entrustment
//! (委托书) has one source of truth: when the item lists it as a material, the delegation's
//! `entrustment` is that material received.

use super::doc::CaseDoc;
use super::fold::CaseState;

/// Where one material stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaterialState {
    /// Handed over at intake (to the window, or to the agent).
    Received,
    /// Arrived after intake (材料已补齐 after a notice, or a 容缺 material supplied), at this time.
    Supplied(i64),
    /// Accepted as missing under 容缺受理, against the applicant's promise.
    Promised(String),
    /// Asked for in the one-time notice and not yet brought.
    Requested,
    /// Not handed over.
    Missing,
    /// The case was taken in before intake recorded what was received (issue #13).
    NotRecorded,
}

impl MaterialState {
    /// Whether the applicant still owes this material.
    pub fn outstanding(&self) -> bool {
        matches!(
            self,
            MaterialState::Promised(_) | MaterialState::Requested | MaterialState::Missing
        )
    }
}

/// One material and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialLine {
    /// The material's name.
    pub name: String,
    /// Where it stands.
    pub state: MaterialState,
}

/// Whether a material is the letter of entrustment.
pub fn is_entrustment(name: &str) -> bool {
    name.contains("委托书")
}

/// Every material of the case: the item's, then any other the notice, 容缺受理 or a supply
/// named, each with where it stands now.
pub fn materials(doc: &CaseDoc, state: &CaseState) -> Vec<MaterialLine> {
    let received: Option<Vec<String>> = match &doc.delegation {
        Some(d) => {
            let mut r = d.handed_over.clone();
            if d.entrustment {
                r.extend(
                    doc.item
                        .materials
                        .iter()
                        .filter(|m| is_entrustment(m))
                        .cloned(),
                );
            }
            Some(r)
        }
        None => doc.received.clone(),
    };
    let state_of = |name: &String| {
        if state.gaps.contains(name) {
            MaterialState::Promised(state.gap_promise.clone())
        } else if let Some(s) = state.supplied.iter().rev().find(|s| s.name == *name) {
            MaterialState::Supplied(s.at)
        } else if state.missing.contains(name) {
            MaterialState::Requested
        } else {
            match &received {
                Some(r) if r.contains(name) => MaterialState::Received,
                Some(_) => MaterialState::Missing,
                None => MaterialState::NotRecorded,
            }
        }
    };
    let mut names: Vec<&String> = doc.item.materials.iter().collect();
    for extra in state
        .gaps
        .iter()
        .chain(&state.missing)
        .chain(state.supplied.iter().map(|s| &s.name))
    {
        if !names.contains(&extra) {
            names.push(extra);
        }
    }
    names
        .into_iter()
        .map(|name| MaterialLine {
            name: name.clone(),
            state: state_of(name),
        })
        .collect()
}

/// What the one-time notice starts from: the materials not handed over and not promised (for a
/// case taken in before received materials were recorded, every material not yet supplied).
pub fn notice_list(doc: &CaseDoc, state: &CaseState) -> Vec<String> {
    materials(doc, state)
        .into_iter()
        .filter(|l| {
            matches!(
                l.state,
                MaterialState::Missing | MaterialState::Requested | MaterialState::NotRecorded
            )
        })
        .map(|l| l.name)
        .collect()
}
