//! The catalog of service items (事项清单) and their guides (办事指南).
//!
//! A catalog is imported from JSON or CSV. Every row is checked against the same rules (codes,
//! names, kinds, tiers and time limits), and an import with any bad row is refused as a whole,
//! with every problem reported. The default catalog shipped with the program is a JSON file in the
//! import format, embedded at build time and parsed by the same validating parser.
//!
//! `parse.rs` reads rows into checked items, `problems.rs` holds what can be wrong with them.

use crate::station::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

mod parse;
mod problems;

use parse::{
    CSV_COLUMNS, CSV_OPTIONAL_COLUMNS, Draft, RowProblems, build, csv_problem, json_draft,
    json_type, parse_days_cell, parse_flag, parse_kind, parse_tier, split_list, strip_bom,
};
pub use problems::{CatalogError, LISTED_PROBLEMS, RowError, RowProblem, SyntaxProblem};

/// The largest catalog file read, in bytes: a city's catalog of a few thousand items with their
/// materials fits many times over, and a file of this size parses in well under a second.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The most items a catalog may have. The catalog is replicated to every node and read whole by
/// intake, so its size is bounded like any other input.
pub const MAX_ITEMS: usize = 5_000;

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

// Stored in a case's copy of its item as the plain string older versions wrote, so existing
// documents read unchanged; an unknown kind is an error naming it, never a guess.
impl autosurgeon::Reconcile for CaseKind {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.as_str())
    }
}

impl autosurgeon::Hydrate for CaseKind {
    fn hydrate_string(s: &'_ str) -> Result<CaseKind, autosurgeon::HydrateError> {
        CaseKind::parse(s).ok_or_else(|| {
            autosurgeon::HydrateError::unexpected(
                "a case kind (instant, promised or consult)",
                format!("{s:?}"),
            )
        })
    }
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
    /// Retired (停用): no new case is taken in for it, but it stays in the catalog so that the
    /// cases taken in for it keep its name in lists, filters and statistics. Left out of JSON
    /// when false, so catalogs without retired items read and print as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// The catalog: service items by code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    items: BTreeMap<String, ServiceItem>,
}

/// The default catalog, written from public service guides, in the import format.
const DEFAULT_CATALOG_JSON: &str = include_str!("../data/catalog-default.json");

/// The longest accepted item code, in characters.
pub const MAX_CODE_CHARS: usize = 32;
/// The longest accepted item name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest accepted legal limit, in working days.
pub const MAX_LEGAL_DAYS: u32 = 365;

impl ServiceItem {
    /// The item as a case records it at intake (the case keeps this copy, so that later edits of
    /// the catalog do not change it): the one place that turns an item into a case's snapshot.
    pub fn snapshot(&self) -> crate::case::doc::ItemSnapshot {
        crate::case::doc::ItemSnapshot {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind,
            legal_days: self.legal_days,
            promised_days: self.promised_days,
            tier: self.tier,
            materials: self.materials.clone(),
            departments: self.departments.clone(),
        }
    }
}

impl Catalog {
    /// The default catalog (at least 30 realistic items over the three tiers), loaded at `init`.
    ///
    /// The embedded file is parsed once; should it ever fail to parse (a unit test guarantees it
    /// does not), the error is logged and the catalog is empty.
    pub fn default_catalog() -> Catalog {
        static DEFAULT: OnceLock<Catalog> = OnceLock::new();
        DEFAULT
            .get_or_init(
                || match Catalog::from_json(DEFAULT_CATALOG_JSON.as_bytes()) {
                    Ok(catalog) => catalog,
                    Err(e) => {
                        tracing::error!("the embedded default catalog does not parse: {e}");
                        Catalog::default()
                    }
                },
            )
            .clone()
    }

    /// A catalog from items (validated like an import).
    ///
    /// Rows are numbered from 1 in the order of `items`.
    pub fn from_items(items: Vec<ServiceItem>) -> Result<Catalog, CatalogError> {
        let drafts = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (i + 1, Draft::from_item(item)))
            .collect();
        build(drafts, Vec::new())
    }

    /// Parses a JSON array of items.
    ///
    /// Each element is an object with the fields of [`ServiceItem`]; `departments`,
    /// `conditions` and `retired` (a boolean) may be left out. Rows are numbered from 1 by array position.
    pub fn from_json(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        let bytes = strip_bom(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(CatalogError::Empty);
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| CatalogError::Syntax {
                format: "JSON",
                problem: SyntaxProblem::Parser(e.to_string()),
            })?;
        let serde_json::Value::Array(rows) = value else {
            return Err(CatalogError::Syntax {
                format: "JSON",
                problem: SyntaxProblem::NotAnArray(json_type(&value)),
            });
        };
        if rows.len() > MAX_ITEMS {
            return Err(CatalogError::TooManyItems {
                found: rows.len(),
                max: MAX_ITEMS,
            });
        }
        let mut errors = Vec::new();
        let drafts = rows
            .iter()
            .enumerate()
            .map(|(i, v)| (i + 1, json_draft(i + 1, v, &mut errors)))
            .collect();
        build(drafts, errors)
    }

    /// Parses CSV with a header row.
    ///
    /// The header names the columns `code,name,kind,legal_days,promised_days,materials,tier`
    /// and optionally `departments`, `conditions` and `retired` (是/否, yes/no, true/false, 1/0;
    /// empty is no), in any order. Lists are separated by `;`, `；`. Rows are numbered from 1 for
    /// the first record after the header.
    pub fn from_csv(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        let bytes = strip_bom(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(CatalogError::Empty);
        }
        let syntax = |problem: SyntaxProblem| CatalogError::Syntax {
            format: "CSV",
            problem,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let header = reader
            .headers()
            .map_err(|e| syntax(csv_problem(&e)))?
            .clone();
        let mut columns: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, name) in header.iter().enumerate() {
            let Some(known) = CSV_COLUMNS.iter().find(|c| **c == name) else {
                return Err(syntax(SyntaxProblem::UnknownColumn(name.to_string())));
            };
            if columns.insert(known, i).is_some() {
                return Err(syntax(SyntaxProblem::ColumnTwice(name.to_string())));
            }
        }
        for column in CSV_COLUMNS {
            if !columns.contains_key(column) && !CSV_OPTIONAL_COLUMNS.contains(&column) {
                return Err(syntax(SyntaxProblem::NoColumn(column)));
            }
        }

        let mut errors = Vec::new();
        let mut drafts = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let row = i + 1;
            if row > MAX_ITEMS {
                return Err(CatalogError::TooManyItems {
                    found: row,
                    max: MAX_ITEMS,
                });
            }
            let record = record.map_err(|e| {
                syntax(SyntaxProblem::Record {
                    row,
                    problem: Box::new(csv_problem(&e)),
                })
            })?;
            let mut p = RowProblems::new(row, &mut errors);
            if record.len() > header.len() {
                p.add(
                    "row",
                    RowProblem::FieldCount {
                        found: record.len(),
                        header: header.len(),
                    },
                );
            }
            let cell = |column: &str| -> &str {
                columns
                    .get(column)
                    .and_then(|&i| record.get(i))
                    .unwrap_or("")
            };
            let code = cell("code").to_string();
            let name = cell("name").to_string();
            let kind = parse_kind(cell("kind"), &mut p);
            let legal_days = parse_days_cell(cell("legal_days"), "legal_days", &mut p);
            let promised_days = parse_days_cell(cell("promised_days"), "promised_days", &mut p);
            let tier = parse_tier(cell("tier"), &mut p);
            drafts.push((
                row,
                Draft {
                    code: Some(code),
                    name: Some(name),
                    kind,
                    legal_days,
                    promised_days,
                    materials: Some(split_list(cell("materials"))),
                    tier,
                    departments: Some(split_list(cell("departments"))),
                    conditions: cell("conditions").to_string(),
                    retired: parse_flag(cell("retired"), &mut p),
                },
            ));
        }
        build(drafts, errors)
    }

    /// Parses a catalog file in either format.
    ///
    /// A hint of `json` or `csv` (a format name or a file extension, with or without the dot,
    /// in any case) decides the format; without a usable hint the file is JSON when its first
    /// non-whitespace byte is `[`, and CSV otherwise.
    pub fn parse(bytes: &[u8], format_hint: Option<&str>) -> Result<Catalog, CatalogError> {
        let hint = format_hint.map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase());
        match hint.as_deref() {
            Some("json") => Catalog::from_json(bytes),
            Some("csv") => Catalog::from_csv(bytes),
            _ => {
                let first = strip_bom(bytes).iter().find(|b| !b.is_ascii_whitespace());
                if first == Some(&b'[') {
                    Catalog::from_json(bytes)
                } else {
                    Catalog::from_csv(bytes)
                }
            }
        }
    }

    /// Reads and parses a catalog file, the format told by its extension (see
    /// [`Catalog::parse`]). A file larger than [`MAX_FILE_BYTES`] is refused before it is read,
    /// and one with more than [`MAX_ITEMS`] items while it is parsed.
    pub fn read_file(path: &std::path::Path) -> Result<Catalog, CatalogError> {
        use std::io::Read as _;
        let io = |source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        if bytes > MAX_FILE_BYTES {
            return Err(CatalogError::TooLarge {
                bytes,
                max: MAX_FILE_BYTES,
            });
        }
        // The read is bounded too, for a file that grows after the check (or is not a regular
        // file and reports no length).
        let mut content = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(io)?;
        let read = u64::try_from(content.len()).unwrap_or(u64::MAX);
        if read > MAX_FILE_BYTES {
            return Err(CatalogError::TooLarge {
                bytes: read,
                max: MAX_FILE_BYTES,
            });
        }
        let hint = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Catalog::parse(&content, hint.as_deref())
    }

    /// The catalog as a pretty-printed JSON array in code order, readable by [`Catalog::from_json`].
    pub fn to_json(&self) -> String {
        let items: Vec<&ServiceItem> = self.items.values().collect();
        match serde_json::to_string_pretty(&items) {
            Ok(json) => json,
            Err(e) => {
                // Plain strings, numbers and enums always serialize; this is unreachable in practice.
                tracing::error!("cannot serialize the catalog: {e}");
                String::from("[]")
            }
        }
    }

    /// Items whose code or name contains `query`, ignoring case; an exact code match comes first.
    ///
    /// An empty query matches every item.
    pub fn search(&self, query: &str) -> Vec<&ServiceItem> {
        let query = query.trim().to_lowercase();
        let mut found: Vec<&ServiceItem> = self
            .items
            .values()
            .filter(|item| {
                item.code.to_lowercase().contains(&query)
                    || item.name.to_lowercase().contains(&query)
            })
            .collect();
        // The sort is stable, so the rest stay in code order.
        found.sort_by_key(|item| item.code.to_lowercase() != query);
        found
    }

    /// Checks one item against the catalog's rules, as an import checks a row, and returns its
    /// problems (empty when the item is good). The window calls it as the clerk types.
    pub fn check_item(item: &ServiceItem) -> Vec<RowError> {
        match Catalog::from_items(vec![item.clone()]) {
            Ok(_) => Vec::new(),
            Err(CatalogError::Rows(rows)) => rows,
            // One item never makes an empty catalog or a syntax error.
            Err(_) => Vec::new(),
        }
    }

    /// This catalog with `item` added, or replacing the item with the same code; validated as a
    /// whole, so a bad item leaves the catalog unchanged.
    pub fn with_item(&self, item: ServiceItem) -> Result<Catalog, CatalogError> {
        let mut items: Vec<ServiceItem> = self
            .items
            .values()
            .filter(|i| i.code != item.code)
            .cloned()
            .collect();
        items.push(item);
        Catalog::from_items(items)
    }

    /// This catalog without the item `code` (unchanged when there is none); an empty catalog is
    /// refused.
    pub fn without(&self, code: &str) -> Result<Catalog, CatalogError> {
        let items: Vec<ServiceItem> = self
            .items
            .values()
            .filter(|i| i.code != code)
            .cloned()
            .collect();
        Catalog::from_items(items)
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

#[cfg(test)]
mod tests;
