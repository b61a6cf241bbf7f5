//! What a person can do to a case, and its stored form as an event.

use std::collections::BTreeMap;

/// One action on a case. Every action becomes exactly one event in the case's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 受理: formal acceptance; starts the clock.
    Accept,
    /// 容缺受理: accept with minor materials missing, against a written promise to bring them.
    AcceptWithGaps {
        /// The materials still missing.
        missing: Vec<String>,
        /// The applicant's written promise (承诺), e.g. "5 个工作日内补齐".
        promise: String,
    },
    /// 不予受理.
    Refuse {
        /// Why.
        reason: String,
    },
    /// 补正 (一次性告知): ask once for all missing materials; the clock pauses.
    RequestMaterials {
        /// Every missing material, all at once.
        missing: Vec<String>,
    },
    /// 特别程序 (听证, 专家评审 …): the clock pauses.
    Suspend {
        /// Which procedure and why.
        reason: String,
    },
    /// The materials arrived or the special procedure ended: the clock runs again.
    Resume,
    /// 上报 / 转办 / 下派: hand the case to another station.
    Forward {
        /// The receiving station's code.
        to: String,
    },
    /// 并联审批: one department approves.
    Approve {
        /// The department.
        dept: String,
    },
    /// 并联审批: one department rejects; the case is decided (rejected).
    Reject {
        /// The department.
        dept: String,
        /// Why.
        reason: String,
    },
    /// 办结: decided.
    Complete,
    /// 不予许可: the holder decides against the application (after acceptance).
    Decline {
        /// Why, as it will be written to the applicant.
        reason: String,
    },
    /// 送达: the result is handed to the applicant.
    Deliver,
    /// 好差评: 1 非常满意 … 5 非常不满意; 4 and 5 open a follow-up (整改).
    Rate {
        /// 1..=5.
        level: u8,
        /// The applicant's words, if any.
        comment: String,
    },
    /// 回访: a call back to the applicant; closes an open follow-up.
    FollowUp {
        /// What was said and done.
        summary: String,
    },
    /// 视频咨询: a recorded remote session with another station.
    Consult {
        /// The other station's code.
        with: String,
        /// Length in minutes.
        minutes: u32,
        /// What was discussed and decided.
        summary: String,
    },
    /// A free-text note on the timeline.
    Note {
        /// The note.
        text: String,
    },
    /// Settles a flagged conflict after a person has looked at it.
    Settle {
        /// What was decided.
        note: String,
    },
    /// 督办: a supervisor (city, or township for its villages) asks the holder to act, with a
    /// reason and a reply-by date in working days.
    Supervise {
        /// Why.
        reason: String,
        /// Working days the holder has to reply.
        reply_days: u32,
    },
    /// 督办回复: the holder answers a 督办.
    ReplySupervision {
        /// The id of the 督办 event answered.
        to: String,
        /// The answer.
        text: String,
    },
    /// 原件退还: originals the agent or the window took in are handed back to the applicant.
    ReturnOriginals {
        /// What was handed back.
        items: Vec<String>,
    },
    /// 容缺材料补齐: materials accepted as missing (容缺受理) arrived (issue #13).
    SupplyGaps {
        /// The materials that arrived, each one of the case's outstanding 容缺 materials.
        items: Vec<String>,
    },
}

/// Every action kind, in the order of the transition table's documentation.
pub const ACTION_KINDS: &[&str] = &[
    "accept",
    "accept_with_gaps",
    "refuse",
    "request_materials",
    "suspend",
    "resume",
    "forward",
    "approve",
    "reject",
    "complete",
    "decline",
    "deliver",
    "rate",
    "follow_up",
    "consult",
    "note",
    "settle",
    "supervise",
    "reply_supervision",
    "return_originals",
    "supply_gaps",
];

fn list(items: &[String]) -> String {
    items.join("；")
}

fn split_list(s: &str) -> Vec<String> {
    s.split(['；', ';', '，', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Action {
    /// The stored event kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::AcceptWithGaps { .. } => "accept_with_gaps",
            Action::Refuse { .. } => "refuse",
            Action::RequestMaterials { .. } => "request_materials",
            Action::Suspend { .. } => "suspend",
            Action::Resume => "resume",
            Action::Forward { .. } => "forward",
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::Complete => "complete",
            Action::Decline { .. } => "decline",
            Action::Deliver => "deliver",
            Action::Rate { .. } => "rate",
            Action::FollowUp { .. } => "follow_up",
            Action::Consult { .. } => "consult",
            Action::Note { .. } => "note",
            Action::Settle { .. } => "settle",
            Action::Supervise { .. } => "supervise",
            Action::ReplySupervision { .. } => "reply_supervision",
            Action::ReturnOriginals { .. } => "return_originals",
            Action::SupplyGaps { .. } => "supply_gaps",
        }
    }

    /// The Chinese name for the timeline.
    pub fn label_zh(kind: &str) -> &'static str {
        match kind {
            "intake" => "收件登记",
            "accept" => "受理",
            "accept_with_gaps" => "容缺受理",
            "refuse" => "不予受理",
            "request_materials" => "一次性告知补正",
            "suspend" => "特别程序",
            "resume" => "恢复计时",
            "forward" => "转办",
            "approve" => "部门同意",
            "reject" => "部门不同意",
            "complete" => "办结",
            "decline" => "不予许可",
            "deliver" => "送达",
            "rate" => "评价",
            "follow_up" => "回访",
            "consult" => "视频咨询",
            "note" => "备注",
            "settle" => "冲突处理",
            "supervise" => "督办",
            "reply_supervision" => "督办回复",
            "return_originals" => "原件退还",
            "supply_gaps" => "容缺材料补齐",
            _ => "未知事件",
        }
    }

    /// Whether the action changes status or holder and so takes part in conflict detection.
    pub fn is_transition(kind: &str) -> bool {
        matches!(
            kind,
            "accept"
                | "accept_with_gaps"
                | "refuse"
                | "request_materials"
                | "suspend"
                | "resume"
                | "forward"
                | "complete"
                | "decline"
                | "deliver"
                | "settle"
        )
    }

    /// The action's fields as stored in the event.
    pub fn fields(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            f.insert(k.to_string(), v);
        };
        match self {
            Action::Accept | Action::Resume | Action::Complete | Action::Deliver => {}
            Action::AcceptWithGaps { missing, promise } => {
                put("missing", list(missing));
                put("promise", promise.clone());
            }
            Action::Refuse { reason } | Action::Suspend { reason } | Action::Decline { reason } => {
                put("reason", reason.clone())
            }
            Action::RequestMaterials { missing } => put("missing", list(missing)),
            Action::Forward { to } => put("to", to.clone()),
            Action::Approve { dept } => put("dept", dept.clone()),
            Action::Reject { dept, reason } => {
                put("dept", dept.clone());
                put("reason", reason.clone());
            }
            Action::Rate { level, comment } => {
                put("level", level.to_string());
                put("comment", comment.clone());
            }
            Action::FollowUp { summary } => put("summary", summary.clone()),
            Action::Consult {
                with,
                minutes,
                summary,
            } => {
                put("with", with.clone());
                put("minutes", minutes.to_string());
                put("summary", summary.clone());
            }
            Action::Note { text } => put("text", text.clone()),
            Action::Settle { note } => put("note", note.clone()),
            Action::Supervise { reason, reply_days } => {
                put("reason", reason.clone());
                put("reply_days", reply_days.to_string());
            }
            Action::ReplySupervision { to, text } => {
                put("to", to.clone());
                put("text", text.clone());
            }
            Action::ReturnOriginals { items } | Action::SupplyGaps { items } => {
                put("items", list(items))
            }
        }
        f
    }

    /// Rebuilds an action from a stored event. Unknown kinds (from a newer Yizhan) and malformed
    /// fields give `None`; the fold then shows the event on the timeline without applying it.
    pub fn from_event(kind: &str, fields: &BTreeMap<String, String>) -> Option<Action> {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        Some(match kind {
            "accept" => Action::Accept,
            "accept_with_gaps" => Action::AcceptWithGaps {
                missing: split_list(&get("missing")),
                promise: get("promise"),
            },
            "refuse" => Action::Refuse {
                reason: get("reason"),
            },
            "request_materials" => Action::RequestMaterials {
                missing: split_list(&get("missing")),
            },
            "suspend" => Action::Suspend {
                reason: get("reason"),
            },
            "resume" => Action::Resume,
            "forward" => Action::Forward {
                to: fields.get("to")?.clone(),
            },
            "approve" => Action::Approve {
                dept: fields.get("dept")?.clone(),
            },
            "reject" => Action::Reject {
                dept: fields.get("dept")?.clone(),
                reason: get("reason"),
            },
            "complete" => Action::Complete,
            "decline" => Action::Decline {
                reason: get("reason"),
            },
            "deliver" => Action::Deliver,
            "rate" => {
                let level: u8 = fields.get("level")?.parse().ok()?;
                if !(1..=5).contains(&level) {
                    return None;
                }
                Action::Rate {
                    level,
                    comment: get("comment"),
                }
            }
            "follow_up" => Action::FollowUp {
                summary: get("summary"),
            },
            "consult" => Action::Consult {
                with: fields.get("with")?.clone(),
                minutes: fields.get("minutes")?.parse().ok()?,
                summary: get("summary"),
            },
            "note" => Action::Note { text: get("text") },
            "settle" => Action::Settle { note: get("note") },
            "supervise" => Action::Supervise {
                reason: get("reason"),
                reply_days: fields.get("reply_days")?.parse().ok()?,
            },
            "reply_supervision" => Action::ReplySupervision {
                to: fields.get("to")?.clone(),
                text: get("text"),
            },
            "return_originals" => Action::ReturnOriginals {
                items: split_list(&get("items")),
            },
            "supply_gaps" => Action::SupplyGaps {
                items: split_list(&get("items")),
            },
            _ => return None,
        })
    }

    /// Splits a user-typed list of materials (separated by `；`, `;`, `，` or `,`; not `、`, which
    /// occurs inside material names such as 营业执照正、副本).
    pub fn parse_list(s: &str) -> Vec<String> {
        split_list(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_actions() -> Vec<Action> {
        vec![
            Action::Accept,
            Action::AcceptWithGaps {
                missing: vec!["户口簿".into()],
                promise: "三日内补齐".into(),
            },
            Action::Refuse {
                reason: "不属于本机关职权".into(),
            },
            Action::RequestMaterials {
                missing: vec!["户口簿".into(), "照片".into()],
            },
            Action::Suspend {
                reason: "听证".into(),
            },
            Action::Resume,
            Action::Forward { to: "T01".into() },
            Action::Approve {
                dept: "税务局".into(),
            },
            Action::Reject {
                dept: "公安局".into(),
                reason: "材料不符".into(),
            },
            Action::Complete,
            Action::Decline {
                reason: "不符合条件".into(),
            },
            Action::Deliver,
            Action::Rate {
                level: 4,
                comment: "等太久".into(),
            },
            Action::FollowUp {
                summary: "已电话回访".into(),
            },
            Action::Consult {
                with: "C01".into(),
                minutes: 12,
                summary: "咨询宅基地政策".into(),
            },
            Action::Note {
                text: "申请人来电".into(),
            },
            Action::Settle {
                note: "以办结为准".into(),
            },
            Action::Supervise {
                reason: "逾期未办结".into(),
                reply_days: 2,
            },
            Action::ReplySupervision {
                to: "e9".into(),
                text: "已联系申请人补齐材料".into(),
            },
            Action::ReturnOriginals {
                items: vec!["身份证原件".into()],
            },
            Action::SupplyGaps {
                items: vec!["户口簿".into()],
            },
        ]
    }

    #[test]
    fn every_action_round_trips_through_its_event_form() {
        let actions = all_actions();
        assert_eq!(actions.len(), ACTION_KINDS.len());
        for (a, kind) in actions.iter().zip(ACTION_KINDS) {
            assert_eq!(a.kind(), *kind);
            assert_eq!(Action::from_event(a.kind(), &a.fields()).as_ref(), Some(a));
            assert_ne!(Action::label_zh(kind), "未知事件");
        }
    }

    #[test]
    fn malformed_events_are_not_actions() {
        let mut f = BTreeMap::new();
        f.insert("level".to_string(), "9".to_string());
        assert_eq!(Action::from_event("rate", &f), None);
        assert_eq!(Action::from_event("forward", &BTreeMap::new()), None);
        assert_eq!(Action::from_event("teleport", &BTreeMap::new()), None);
    }
}
