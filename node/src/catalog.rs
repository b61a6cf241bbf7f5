//! The catalog of service items (事项清单) and their guides (办事指南).
//!
//! STUB: the API below is fixed; a helper fills in the bodies, the default catalog and the tests.

use crate::station::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// 即办件 / 承诺件 / 咨询件.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseKind {
    /// 即办件: done on the spot, due the same working day.
    Instant,
    /// 承诺件: done within the promised limit.
    Promised,
    /// 咨询件: a consultation only.
    Consult,
}

impl CaseKind {
    /// The stored / command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Instant => "instant",
            CaseKind::Promised => "promised",
            CaseKind::Consult => "consult",
        }
    }
    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseKind::Instant => "即办件",
            CaseKind::Promised => "承诺件",
            CaseKind::Consult => "咨询件",
        }
    }
    /// Parses `instant|promised|consult` or the Chinese names.
    pub fn parse(s: &str) -> Option<CaseKind> {
        match s.trim() {
            "instant" | "即办件" => Some(CaseKind::Instant),
            "promised" | "承诺件" => Some(CaseKind::Promised),
            "consult" | "咨询件" => Some(CaseKind::Consult),
            _ => None,
        }
    }
}

/// One kind of service, with its rules (a row of the catalog) and its public guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceItem {
    /// Item code, unique in the catalog (e.g. `SB-001`).
    pub code: String,
    /// Item name in Chinese (e.g. 城乡居民医保参保登记).
    pub name: String,
    /// 即办件 / 承诺件 / 咨询件.
    pub kind: CaseKind,
    /// 法定时限 in working days.
    pub legal_days: u32,
    /// 承诺时限 in working days (≤ legal_days; 0 for 即办件).
    pub promised_days: u32,
    /// Required materials, in the order of the guide.
    pub materials: Vec<String>,
    /// The tier that accepts and decides this item.
    pub tier: Tier,
    /// Departments that must each approve (并联审批); empty when the holder decides alone.
    pub departments: Vec<String>,
    /// The guide's conditions (受理条件), a short paragraph.
    #[serde(default)]
    pub conditions: String,
}

/// One problem with one row of an imported catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based row (CSV: line after the header; JSON: array position).
    pub row: usize,
    /// The field at fault (`code`, `promised_days`, …) or `row` for the whole row.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why an import was refused; nothing is imported when any row is bad.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be parsed at all.
    #[error("catalog file is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    /// One or more rows are invalid.
    #[error("catalog has {} bad row(s): {}", .0.len(), .0.iter().map(|e| format!("row {} field {}: {}", e.row, e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Rows(Vec<RowError>),
    /// The file is empty.
    #[error("catalog file has no items")]
    Empty,
}

/// The catalog: service items by code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    items: BTreeMap<String, ServiceItem>,
}

impl Catalog {
    /// The default catalog (at least 30 realistic items over the three tiers), loaded at `init`.
    pub fn default_catalog() -> Catalog {
        Catalog::default()
    }
    /// A catalog from items (validated like an import).
    pub fn from_items(items: Vec<ServiceItem>) -> Result<Catalog, CatalogError> {
        Ok(Catalog {
            items: items.into_iter().map(|i| (i.code.clone(), i)).collect(),
        })
    }
    /// Parses a JSON array of items.
    pub fn from_json(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        let _ = bytes;
        Err(CatalogError::Empty)
    }
    /// Parses CSV with a header row.
    pub fn from_csv(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        let _ = bytes;
        Err(CatalogError::Empty)
    }
    /// Looks an item up by code.
    pub fn get(&self, code: &str) -> Option<&ServiceItem> {
        self.items.get(code)
    }
    /// All items in code order.
    pub fn items(&self) -> impl Iterator<Item = &ServiceItem> {
        self.items.values()
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
