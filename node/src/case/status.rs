//! A case's status: a leaf of its own, so that the refusals that name a status (`refusal.rs`)
//! and the fold that produces refusals (`fold.rs`) do not import each other.

/// The status of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// 待受理: taken in (or forwarded) and waiting for acceptance at the holder.
    Submitted,
    /// 待补正: waiting for the materials asked for in the one-time notice; the clock (if it has
    /// started) is paused.
    AwaitingMaterials,
    /// 办理中: accepted; the clock runs.
    Accepted,
    /// 特别程序: a hearing, expert review or similar; the clock is paused.
    Suspended,
    /// 不予受理.
    Refused,
    /// 已办结: decided; the clock has stopped.
    Completed,
    /// 已送达: the result was handed to the applicant.
    Delivered,
}

/// Every status, for tables and tests.
pub const ALL_STATUSES: [Status; 7] = [
    Status::Submitted,
    Status::AwaitingMaterials,
    Status::Accepted,
    Status::Suspended,
    Status::Refused,
    Status::Completed,
    Status::Delivered,
];

impl Status {
    /// The stored / command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::AwaitingMaterials => "awaiting_materials",
            Status::Accepted => "accepted",
            Status::Suspended => "suspended",
            Status::Refused => "refused",
            Status::Completed => "completed",
            Status::Delivered => "delivered",
        }
    }

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Submitted => "待受理",
            Status::AwaitingMaterials => "待补正",
            Status::Accepted => "办理中",
            Status::Suspended => "特别程序",
            Status::Refused => "不予受理",
            Status::Completed => "已办结",
            Status::Delivered => "已送达",
        }
    }

    /// Parses the stored name or the Chinese name.
    pub fn parse(s: &str) -> Option<Status> {
        ALL_STATUSES
            .into_iter()
            .find(|st| st.as_str() == s.trim() || st.label_zh() == s.trim())
    }

    /// Whether the case is finished with (no more handling, only rating and follow-up).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::Refused | Status::Completed | Status::Delivered
        )
    }
}
