//! Network documents: the roster, the catalog, the calendar and the settings.
//!
//! Each is one Automerge document replicated to every node; only city nodes may change them (the
//! sync layer enforces that for received changes, [`crate::Node`] for local ones). The types here
//! are the stored shapes (`*Doc`, hydrated with `autosurgeon`) and the in-memory views the rest of
//! the core uses ([`Roster`], [`Settings`]); the catalog and the calendar convert to
//! [`crate::catalog::Catalog`] and [`crate::calendar::Calendar`].

use crate::calendar::{Calendar, YearRule};
use crate::catalog::{CaseKind, Catalog, ServiceItem};
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::station::Tier;
use autosurgeon::{Hydrate, Reconcile};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Document id of the roster.
pub const ROSTER_ID: &str = "net/roster";
/// Document id of the catalog.
pub const CATALOG_ID: &str = "net/catalog";
/// Document id of the calendar.
pub const CALENDAR_ID: &str = "net/calendar";
/// Document id of the settings.
pub const SETTINGS_ID: &str = "net/settings";
/// All network document ids.
pub const NETWORK_DOC_IDS: [&str; 4] = [ROSTER_ID, CATALOG_ID, CALENDAR_ID, SETTINGS_ID];

/// Network settings (a network document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Settings {
    /// The yellow light shows when the remaining working days are at most
    /// `max(1, ⌈yellow_percent % × promised days⌉)`.
    pub yellow_percent: u32,
    /// Working days to settle a follow-up (整改) opened by a rating of 4 or 5.
    pub follow_up_days: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            yellow_percent: 25,
            follow_up_days: 15,
        }
    }
}

impl Settings {
    /// Remaining working days at or below which the light turns yellow.
    pub fn yellow_threshold(&self, promised_days: u32) -> u32 {
        let pct = u64::from(self.yellow_percent.min(100));
        let t = (u64::from(promised_days) * pct).div_ceil(100);
        u32::try_from(t).unwrap_or(u32::MAX).max(1)
    }

    /// Validates settings typed by a user.
    pub fn validate(&self) -> Result<()> {
        if !(1..=100).contains(&self.yellow_percent) {
            return Err(NodeError::invalid(
                "yellow_percent",
                Invalid::Between { min: 1, max: 100 },
            ));
        }
        if !(1..=365).contains(&self.follow_up_days) {
            return Err(NodeError::invalid(
                "follow_up_days",
                Invalid::WorkingDaysBetween { min: 1, max: 365 },
            ));
        }
        Ok(())
    }
}

/// A station as stored in the roster.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile, serde::Serialize, serde::Deserialize)]
pub struct Station {
    /// Station code, unique in the network.
    pub code: String,
    /// Name, e.g. 小店区北格镇便民服务中心.
    pub name: String,
    /// The station's tier.
    pub tier: Tier,
    /// The parent station's code; empty for the city.
    pub parent: String,
}

impl Station {
    /// A station.
    pub fn new(code: &str, name: &str, tier: Tier, parent: &str) -> Station {
        Station {
            code: code.into(),
            name: name.into(),
            tier,
            parent: parent.into(),
        }
    }

    /// The station's tier.
    pub fn tier(&self) -> Tier {
        self.tier
    }
}

/// A member node as stored in the roster.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Member {
    /// The node id (hex Ed25519 public key; also its Automerge actor id).
    pub node_id: String,
    /// The station it belongs to.
    pub station: String,
    /// Its number within the station, used in case numbers.
    pub ordinal: u32,
    /// When it joined, milliseconds since the Unix epoch.
    pub joined_at: i64,
}

/// The roster document: the network, its stations and its member nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Roster {
    /// Always `yizhan/roster/1`.
    pub schema: String,
    /// The network's id (a UUID), which tells networks apart in bundles and tickets.
    pub network_id: String,
    /// The network's name.
    pub network_name: String,
    /// Stations by code.
    pub stations: BTreeMap<String, Station>,
    /// Member nodes by node id.
    pub members: BTreeMap<String, Member>,
    /// The network's root key (hex Ed25519 public key); certificates chain to it.
    pub root_key: String,
    /// Revoked nodes by node id.
    pub revoked: BTreeMap<String, Revocation>,
}

/// A revoked node.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Revocation {
    /// The node that revoked it.
    pub by: String,
    /// When (ms since the Unix epoch).
    pub at: i64,
    /// Why.
    pub reason: String,
}

impl Roster {
    /// A new roster with one city station.
    pub fn new(
        network_id: String,
        network_name: String,
        root_key: String,
        city: Station,
    ) -> Roster {
        let mut stations = BTreeMap::new();
        stations.insert(city.code.clone(), city);
        Roster {
            schema: "yizhan/roster/1".into(),
            network_id,
            network_name,
            stations,
            members: BTreeMap::new(),
            root_key,
            revoked: BTreeMap::new(),
        }
    }

    /// Whether a node has been revoked.
    pub fn is_revoked(&self, node_id: &str) -> bool {
        self.revoked.contains_key(node_id)
    }

    /// The station and every station below it.
    pub fn subtree(&self, code: &str) -> Vec<String> {
        let mut out = vec![code.to_string()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].clone();
            for s in self.stations.values() {
                if s.parent == parent && !out.contains(&s.code) {
                    out.push(s.code.clone());
                }
            }
            i += 1;
        }
        out
    }

    /// Looks a station up.
    pub fn station(&self, code: &str) -> Option<&Station> {
        self.stations.get(code)
    }

    /// The station and its ancestors, nearest first. Stops on a cycle or an unknown parent.
    pub fn lineage(&self, code: &str) -> Vec<&Station> {
        let mut out: Vec<&Station> = Vec::new();
        let mut cur = self.stations.get(code);
        while let Some(s) = cur {
            if out.iter().any(|o| o.code == s.code) {
                break;
            }
            out.push(s);
            cur = if s.parent.is_empty() {
                None
            } else {
                self.stations.get(&s.parent)
            };
        }
        out
    }

    /// The township a station belongs to (itself if it is one), if any.
    pub fn township_of(&self, code: &str) -> Option<&Station> {
        self.lineage(code)
            .into_iter()
            .find(|s| s.tier() == Tier::Township)
    }

    /// The village a station is (itself if it is one), if any.
    pub fn village_of(&self, code: &str) -> Option<&Station> {
        self.station(code).filter(|s| s.tier() == Tier::Village)
    }

    /// Whether `ancestor` is `code` or one of its ancestors.
    pub fn is_within(&self, code: &str, ancestor: &str) -> bool {
        self.lineage(code).iter().any(|s| s.code == ancestor)
    }

    /// Adds a station, checking the code, the tier and the parent.
    pub fn add_station(&mut self, station: Station) -> Result<()> {
        validate_code("code", &station.code)?;
        if station.name.trim().is_empty() {
            return Err(NodeError::invalid("name", Invalid::StationNameEmpty));
        }
        if self.stations.contains_key(&station.code) {
            return Err(NodeError::invalid(
                "code",
                Invalid::StationExists(station.code),
            ));
        }
        let tier = station.tier;
        let parent = self
            .stations
            .get(&station.parent)
            .ok_or_else(|| NodeError::UnknownStation(station.parent.clone()))?;
        let expected = match tier {
            Tier::Village => Tier::Township,
            Tier::Township => Tier::City,
            Tier::City => return Err(NodeError::invalid("tier", Invalid::SecondCity)),
        };
        if parent.tier() != expected {
            return Err(NodeError::invalid(
                "parent",
                Invalid::WrongParent {
                    tier,
                    expected,
                    parent: parent.code.clone(),
                    parent_tier: parent.tier(),
                },
            ));
        }
        self.stations.insert(station.code.clone(), station);
        Ok(())
    }

    /// The next free node ordinal at a station.
    pub fn next_ordinal(&self, station: &str) -> u32 {
        self.members
            .values()
            .filter(|m| m.station == station)
            .map(|m| m.ordinal)
            .max()
            .unwrap_or(0)
            + 1
    }
}

/// Checks a station or item code: 1–32 characters of ASCII letters, digits, `-` and `_`.
pub fn validate_code(field: &'static str, code: &str) -> Result<()> {
    if code.is_empty() || code.len() > 32 {
        return Err(NodeError::invalid(
            field,
            Invalid::Length { min: 1, max: 32 },
        ));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(NodeError::invalid(
            field,
            Invalid::CodeCharacters(code.to_string()),
        ));
    }
    Ok(())
}

/// A service item as stored in the catalog document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct ItemDoc {
    code: String,
    name: String,
    kind: String,
    legal_days: u32,
    promised_days: u32,
    materials: Vec<String>,
    tier: String,
    departments: Vec<String>,
    conditions: String,
    /// Absent in catalogs written before items could be retired; absent reads as not retired.
    #[autosurgeon(missing = "Default::default")]
    retired: bool,
}

/// The catalog document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct CatalogDoc {
    /// Always `yizhan/catalog/1`.
    pub schema: String,
    /// Items by code.
    pub items: BTreeMap<String, ItemDoc>,
}

impl ItemDoc {
    /// The stored form of an item.
    fn from_item(i: &ServiceItem) -> ItemDoc {
        ItemDoc {
            code: i.code.clone(),
            name: i.name.clone(),
            kind: i.kind.as_str().to_string(),
            legal_days: i.legal_days,
            promised_days: i.promised_days,
            materials: i.materials.clone(),
            tier: i.tier.as_str().to_string(),
            departments: i.departments.clone(),
            conditions: i.conditions.clone(),
            retired: i.retired,
        }
    }

    /// The item, if its kind and tier are known and it validates on its own.
    fn to_item(&self) -> Option<ServiceItem> {
        let item = ServiceItem {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: CaseKind::parse(&self.kind)?,
            legal_days: self.legal_days,
            promised_days: self.promised_days,
            materials: self.materials.clone(),
            tier: Tier::parse(&self.tier)?,
            departments: self.departments.clone(),
            conditions: self.conditions.clone(),
            retired: self.retired,
        };
        Catalog::check_item(&item).is_empty().then_some(item)
    }
}

impl CatalogDoc {
    /// The stored form of a catalog.
    pub fn from_catalog(catalog: &Catalog) -> CatalogDoc {
        let items = catalog
            .items()
            .map(|i| (i.code.clone(), ItemDoc::from_item(i)))
            .collect();
        CatalogDoc {
            schema: "yizhan/catalog/1".into(),
            items,
        }
    }

    /// Whether an item with this code is stored, whether or not it validates.
    pub fn contains(&self, code: &str) -> bool {
        self.items.contains_key(code)
    }

    /// The stored item `code`, if it validates (as [`CatalogDoc::to_catalog`] reads it).
    pub fn item(&self, code: &str) -> Option<ServiceItem> {
        self.items.get(code).and_then(ItemDoc::to_item)
    }

    /// Adds or replaces one item, leaving every other stored item exactly as it is.
    pub fn put_item(&mut self, item: &ServiceItem) {
        self.items
            .insert(item.code.clone(), ItemDoc::from_item(item));
    }

    /// Removes one item, leaving every other stored item exactly as it is.
    pub fn remove_item(&mut self, code: &str) {
        self.items.remove(code);
    }

    /// The in-memory catalog. Items that no longer validate (a merge of two concurrent city edits)
    /// are skipped rather than poisoning the whole catalog.
    pub fn to_catalog(&self) -> Catalog {
        let valid: Vec<ServiceItem> = self.items.values().filter_map(ItemDoc::to_item).collect();
        Catalog::from_items(valid).unwrap_or_default()
    }
}

/// The calendar document: per year, the holidays and make-up working days as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct CalendarDoc {
    /// Always `yizhan/calendar/1`.
    pub schema: String,
    /// Year rules by year (as text, since Automerge map keys are strings).
    pub years: BTreeMap<String, YearDoc>,
}

/// One year of the calendar document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct YearDoc {
    /// Days off that would otherwise be working days (and any declared holiday).
    pub holidays: Vec<String>,
    /// Make-up working days on weekends.
    pub workdays: Vec<String>,
}

impl YearDoc {
    /// The stored form of one year's rule.
    pub fn from_rule(rule: &YearRule) -> YearDoc {
        let fmt = |v: &Vec<NaiveDate>| v.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
        YearDoc {
            holidays: fmt(&rule.holidays),
            workdays: fmt(&rule.workdays),
        }
    }
}

impl CalendarDoc {
    /// The stored form of a calendar.
    pub fn from_calendar(calendar: &Calendar) -> CalendarDoc {
        let years = calendar
            .years()
            .iter()
            .map(|(y, r)| (y.to_string(), YearDoc::from_rule(r)))
            .collect();
        CalendarDoc {
            schema: "yizhan/calendar/1".into(),
            years,
        }
    }

    /// The in-memory calendar. A year whose stored rule does not validate falls back to the
    /// built-in rule for that year (or plain weekends) and is reported in the returned list.
    pub fn to_calendar(&self) -> (Calendar, Vec<String>) {
        let mut cal = Calendar::builtin();
        let mut problems = Vec::new();
        for (y, doc) in &self.years {
            let Ok(year) = y.parse::<i32>() else {
                problems.push(format!("calendar year {y:?} is not a number"));
                continue;
            };
            let parse = |v: &Vec<String>| -> Option<Vec<NaiveDate>> {
                v.iter()
                    .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                    .collect()
            };
            let (Some(holidays), Some(workdays)) = (parse(&doc.holidays), parse(&doc.workdays))
            else {
                problems.push(format!("calendar year {year} has a malformed date"));
                continue;
            };
            if let Err(e) = cal.set_year(year, YearRule { holidays, workdays }) {
                problems.push(e.to_string());
            }
        }
        (cal, problems)
    }
}

/// The settings document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct SettingsDoc {
    /// Always `yizhan/settings/1`.
    pub schema: String,
    /// The settings.
    pub settings: Settings,
    /// The notice templates the city changed, by kind (issue #15; see
    /// [`crate::notice::Templates`]); missing until the city changes one.
    #[autosurgeon(missing = "Default::default")]
    pub notice_templates: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settings document saved before notice templates existed has no `notice_templates`
    /// key; it reads as no changed template instead of failing (which would stop every node
    /// of an upgraded network from reading its settings).
    #[test]
    fn a_settings_document_from_before_notice_templates_still_reads() {
        use automerge::transaction::Transactable as _;
        let mut am = automerge::AutoCommit::new();
        autosurgeon::reconcile(
            &mut am,
            &SettingsDoc {
                schema: "yizhan/settings/1".into(),
                settings: Settings::default(),
                notice_templates: None,
            },
        )
        .expect("write");
        am.delete(automerge::ROOT, "notice_templates")
            .expect("delete the key");
        let read: SettingsDoc = autosurgeon::hydrate(&am).expect("an older document reads");
        assert_eq!(read.notice_templates, None);
        assert_eq!(read.settings, Settings::default());
    }

    fn st(code: &str, tier: &str, parent: &str) -> Station {
        Station {
            code: code.into(),
            name: format!("{code} 站"),
            tier: tier.parse().expect("a tier"),
            parent: parent.into(),
        }
    }

    #[test]
    fn yellow_threshold_is_a_quarter_rounded_up_at_least_one() {
        let s = Settings::default();
        assert_eq!(s.yellow_threshold(0), 1);
        assert_eq!(s.yellow_threshold(3), 1);
        assert_eq!(s.yellow_threshold(5), 2);
        assert_eq!(s.yellow_threshold(20), 5);
    }

    #[test]
    fn roster_checks_tiers_and_lineage() {
        let mut r = Roster::new(
            "n".into(),
            "测试市".into(),
            String::new(),
            st("C", "city", ""),
        );
        r.add_station(st("T1", "township", "C")).unwrap();
        r.add_station(st("V1", "village", "T1")).unwrap();
        for (code, tier, parent, said) in [
            ("V2", "village", "C", "parent"),
            ("T1", "township", "C", "already exists"),
            ("X", "township", "NOPE", "NOPE"),
            ("bad code", "township", "C", "code"),
        ] {
            let refused = r.add_station(st(code, tier, parent)).unwrap_err();
            assert!(refused.to_string().contains(said), "{code}: {refused}");
        }
        assert_eq!(r.township_of("V1").map(|s| s.code.as_str()), Some("T1"));
        assert_eq!(r.township_of("C"), None);
        assert!(r.is_within("V1", "C"));
        assert!(!r.is_within("T1", "V1"));
    }
}
