//! The inbox (待办): what needs this station now, read from the case index.
//!
//! Each section is a [`CaseFilter`] on the station's work queue (the cases it holds), so the
//! counts and the rows are the list's own queries and cost what a list page costs:
//!
//! - arrived (新到待受理): taken in or forwarded here, not yet accepted (at a village: taken in
//!   and not yet sent up);
//! - materials (待补正): waiting for the applicant's missing materials — when the applicant comes
//!   back, the case is here to continue;
//! - due (临期/超期): the clock runs and the light is yellow, red or severe;
//! - follow-ups (整改): a bad rating opened a follow-up that is still open;
//! - supervision (督办待回复): a supervisor sent a 督办 that this station has not answered yet;
//! - news (办理进展, villages only): cases this village took in that changed at another station
//!   since the agent last looked (accepted, materials asked for, completed, ready to pick up).
//!
//! "Last looked" is a local mark (`inbox.seen` in the store's meta table), never synced: each
//! computer's agent has their own.

use crate::case::fold::Status;
use crate::error::Result;
use crate::node::Node;
use crate::query::{CaseFilter, CaseRow, Sort};
use crate::station::Tier;

/// Rows shown per section; the count says how many there are in all.
pub const SECTION_ROWS: usize = 50;

/// A part of the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// 新到待受理.
    Arrived,
    /// 待补正.
    Materials,
    /// Yellow, red or severe light.
    Due,
    /// 整改 after a bad rating.
    FollowUps,
    /// 督办 waiting for this station's reply.
    Supervised,
    /// Changes elsewhere to this village's cases.
    News,
}

/// One section: how many cases, and the first of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxSection {
    /// Which section.
    pub section: Section,
    /// How many cases are in it.
    pub count: u64,
    /// The first [`SECTION_ROWS`] of them, most urgent first.
    pub rows: Vec<CaseRow>,
}

/// What needs this station now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    /// The sections that apply to this station's tier, in the order shown.
    pub sections: Vec<InboxSection>,
    /// When this computer's agent last marked the news as seen (ms).
    pub seen: Option<i64>,
}

impl Inbox {
    /// The cases needing action (every section but the news, which is information).
    pub fn to_do(&self) -> u64 {
        self.sections
            .iter()
            .filter(|s| s.section != Section::News)
            .map(|s| s.count)
            .sum()
    }

    /// The count of one section (0 when it does not apply).
    pub fn count(&self, section: Section) -> u64 {
        self.sections
            .iter()
            .find(|s| s.section == section)
            .map_or(0, |s| s.count)
    }
}

impl Node {
    /// This station's inbox (see the module documentation).
    pub fn inbox(&mut self) -> Result<Inbox> {
        let me = self.identity().station.clone();
        let tier = self.station()?.tier();
        let seen = self.inbox_seen()?;
        let queue = |sort: Sort| CaseFilter {
            holder: Some(me.clone()),
            sort,
            limit: SECTION_ROWS,
            ..CaseFilter::default()
        };
        let mut filters = vec![
            (
                Section::Arrived,
                CaseFilter {
                    status: Some(Status::Submitted),
                    ..queue(Sort::Oldest)
                },
            ),
            (
                Section::Materials,
                CaseFilter {
                    status: Some(Status::AwaitingMaterials),
                    ..queue(Sort::Oldest)
                },
            ),
            (
                Section::Due,
                CaseFilter {
                    due_soon: true,
                    ..queue(Sort::Due)
                },
            ),
            (
                Section::FollowUps,
                CaseFilter {
                    open_follow_up: true,
                    ..queue(Sort::Oldest)
                },
            ),
            (
                Section::Supervised,
                CaseFilter {
                    supervised: true,
                    ..queue(Sort::Oldest)
                },
            ),
        ];
        if tier == Tier::Village {
            filters.push((
                Section::News,
                CaseFilter {
                    area: Some(me.clone()),
                    changed_elsewhere_after: Some((seen.unwrap_or(0), me.clone())),
                    sort: Sort::Newest,
                    limit: SECTION_ROWS,
                    ..CaseFilter::default()
                },
            ));
        }
        let mut sections = Vec::with_capacity(filters.len());
        for (section, f) in filters {
            sections.push(InboxSection {
                section,
                count: self.count(&f)?,
                rows: self.list(&f)?,
            });
        }
        Ok(Inbox { sections, seen })
    }

    /// When this computer's agent last marked the inbox's news as seen (ms).
    pub fn inbox_seen(&self) -> Result<Option<i64>> {
        Ok(self
            .store_ref()
            .meta("inbox.seen")?
            .and_then(|s| s.parse().ok()))
    }

    /// Marks the inbox's news as seen now.
    pub fn mark_inbox_seen(&mut self) -> Result<()> {
        let now = self.clock().now_ms().to_string();
        self.store().write(|wtx| wtx.set_meta("inbox.seen", &now))
    }
}
