//! The catalog of service items (事项清单) and their guides (办事指南).
//!
//! A catalog is imported from JSON or CSV. Every row is checked against the same rules (codes,
//! names, kinds, tiers and time limits), and an import with any bad row is refused as a whole,
//! with every problem reported. The default catalog shipped with the program is a JSON file in the
//! import format, embedded at build time and parsed by the same validating parser.

use crate::station::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

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

/// One problem with one row of an imported catalog (or with one item edited in the window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based row (CSV: line after the header; JSON: array position).
    pub row: usize,
    /// The field at fault (`code`, `promised_days`, …) or `row` for the whole row.
    pub field: String,
    /// What is wrong, as data, so that the window can word it in Chinese.
    pub problem: RowProblem,
}

impl RowError {
    /// What is wrong, in English.
    pub fn message(&self) -> String {
        self.problem.to_string()
    }
}

/// What is wrong with one field of one row. `Display` is the English the command line prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    /// The field is empty.
    Empty,
    /// A required field is missing (JSON).
    Missing,
    /// The field is not one the catalog knows (JSON).
    UnknownField,
    /// The code contains whitespace.
    Whitespace(String),
    /// The text is longer than `max` characters (`shown` is the value, when it is short enough
    /// to quote: a code).
    TooLong {
        /// The value, quoted in the message when present.
        shown: Option<String>,
        /// The limit in characters.
        max: usize,
    },
    /// The code was already used by an earlier row.
    Duplicate {
        /// The code.
        code: String,
        /// The row that used it first.
        first_row: usize,
    },
    /// A day count above the limit.
    MoreThan {
        /// The count given.
        value: u64,
        /// The limit.
        max: u32,
    },
    /// The promised limit exceeds the legal one.
    PromisedOverLegal {
        /// 承诺时限.
        promised: u32,
        /// 法定时限.
        legal: u32,
    },
    /// An instant item (即办件) with a promised limit other than 0.
    InstantNotZero(u32),
    /// A promised item (承诺件) with a promised limit of 0.
    PromisedZero,
    /// A promised item without materials.
    NoMaterials,
    /// A department listed twice.
    ListedTwice(String),
    /// A negative day count (the value as written).
    Negative(String),
    /// A day count too large to read (the value as written).
    TooLarge(String),
    /// Not a whole number of days (the value as written, quoted for CSV cells).
    NotWholeDays(String),
    /// A JSON value of the wrong type.
    WrongType {
        /// What was expected, e.g. `a string`.
        expected: &'static str,
        /// What was found, e.g. `a number`.
        found: &'static str,
    },
    /// An entry of a JSON list that is not a string.
    WrongEntry {
        /// 1-based position in the list.
        entry: usize,
        /// What was found.
        found: &'static str,
    },
    /// An unknown kind.
    UnknownKind(String),
    /// An unknown tier.
    UnknownTier(String),
    /// A CSV record with more fields than the header.
    FieldCount {
        /// Fields in the record.
        found: usize,
        /// Fields in the header.
        header: usize,
    },
    /// Not a yes/no value (the `retired` column).
    NotAFlag(String),
    /// A new item's code is already in the catalog (adding an item in the window).
    AlreadyInCatalog(String),
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowProblem::Empty => f.write_str("is empty"),
            RowProblem::Missing => f.write_str("is missing"),
            RowProblem::UnknownField => f.write_str("is not a known field"),
            RowProblem::Whitespace(code) => write!(f, "{code:?} contains whitespace"),
            RowProblem::TooLong {
                shown: Some(v),
                max,
            } => write!(f, "{v:?} is longer than {max} characters"),
            RowProblem::TooLong { shown: None, max } => {
                write!(f, "is longer than {max} characters")
            }
            RowProblem::Duplicate { code, first_row } => {
                write!(f, "{code:?} is a duplicate of row {first_row}")
            }
            RowProblem::MoreThan { value, max } => write!(f, "{value} is more than {max}"),
            RowProblem::PromisedOverLegal { promised, legal } => {
                write!(f, "{promised} is more than legal_days {legal}")
            }
            RowProblem::InstantNotZero(p) => {
                write!(f, "{p} for an instant item (即办件 must be 0)")
            }
            RowProblem::PromisedZero => {
                f.write_str("0 for a promised item (承诺件 needs at least 1)")
            }
            RowProblem::NoMaterials => {
                f.write_str("is empty for a promised item (承诺件 needs its materials)")
            }
            RowProblem::ListedTwice(d) => write!(f, "{d:?} is listed twice"),
            RowProblem::Negative(v) => write!(f, "{v} is negative"),
            RowProblem::TooLarge(v) => write!(f, "{v} is too large"),
            RowProblem::NotWholeDays(v) => write!(f, "{v} is not a whole number of days"),
            RowProblem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            RowProblem::WrongEntry { entry, found } => {
                write!(f, "entry {entry} is {found}, expected a string")
            }
            RowProblem::UnknownKind(k) => write!(
                f,
                "unknown kind {k:?} (expected instant, promised or consult)"
            ),
            RowProblem::UnknownTier(t) => {
                write!(f, "unknown tier {t:?} (expected village, township or city)")
            }
            RowProblem::FieldCount { found, header } => {
                write!(f, "has {found} fields, the header has {header}")
            }
            RowProblem::NotAFlag(v) => {
                write!(f, "{v:?} is not yes or no (是/否, true/false, 1/0)")
            }
            RowProblem::AlreadyInCatalog(code) => {
                write!(f, "{code:?} is already in the catalog")
            }
        }
    }
}

/// Why a catalog file could not be read at all, as data like [`RowProblem`], so that the window
/// can word the checks made here in its own language; what the JSON and CSV parsers say is kept
/// as they said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxProblem {
    /// The parser's own message (serde_json's or the csv crate's), passed on as it gave it.
    Parser(String),
    /// A line is not UTF-8, most often because the file was saved as GBK.
    NotUtf8 {
        /// The line, from 1 (0 when the parser did not say).
        line: u64,
    },
    /// The JSON document is not an array (what it is instead, e.g. `an object`).
    NotAnArray(&'static str),
    /// A CSV header names a column that is not a catalog field.
    UnknownColumn(String),
    /// A CSV header names a column twice.
    ColumnTwice(String),
    /// A CSV header lacks a required column.
    NoColumn(&'static str),
    /// A CSV record could not be read.
    Record {
        /// The record, from 1 for the first after the header.
        row: usize,
        /// What is wrong with it ([`SyntaxProblem::Parser`] or [`SyntaxProblem::NotUtf8`]).
        problem: Box<SyntaxProblem>,
    },
}

impl std::fmt::Display for SyntaxProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyntaxProblem::Parser(message) => f.write_str(message),
            SyntaxProblem::NotUtf8 { line } => {
                write!(
                    f,
                    "line {line} is not UTF-8 (save the file as UTF-8, not GBK)"
                )
            }
            SyntaxProblem::NotAnArray(found) => {
                write!(f, "expected an array of items, found {found}")
            }
            SyntaxProblem::UnknownColumn(name) => write!(
                f,
                "unknown column {name:?} in the header (expected {})",
                CSV_COLUMNS.join(",")
            ),
            SyntaxProblem::ColumnTwice(name) => {
                write!(f, "column {name:?} appears twice in the header")
            }
            SyntaxProblem::NoColumn(column) => write!(f, "the header has no column {column:?}"),
            SyntaxProblem::Record { row, problem } => write!(f, "row {row}: {problem}"),
        }
    }
}

/// Why an import was refused; nothing is imported when any row is bad.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be parsed at all.
    #[error("catalog file is not valid {format}: {problem}")]
    Syntax {
        format: &'static str,
        problem: SyntaxProblem,
    },
    /// One or more rows are invalid. Every problem is kept; messages list the first
    /// [`LISTED_PROBLEMS`] ([`CatalogError::listed`]).
    #[error("catalog has {} bad row(s): {}", .0.len(), rows_listed(.0))]
    Rows(Vec<RowError>),
    /// The file is empty.
    #[error("catalog file has no items")]
    Empty,
    /// The file is larger than a catalog can be; it was not read.
    #[error("catalog file is {bytes} bytes, more than the {max} a catalog may have")]
    TooLarge { bytes: u64, max: u64 },
    /// The file has more items than a catalog may have.
    #[error("catalog file has more than {max} items ({found} or more)")]
    TooManyItems { found: usize, max: usize },
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How many problems a message lists before "… and N more".
pub const LISTED_PROBLEMS: usize = 5;

/// The largest catalog file read, in bytes: a city's catalog of a few thousand items with their
/// materials fits many times over, and a file of this size parses in well under a second.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The most items a catalog may have. The catalog is replicated to every node and read whole by
/// intake, so its size is bounded like any other input.
pub const MAX_ITEMS: usize = 5_000;

impl CatalogError {
    /// For [`CatalogError::Rows`]: the problems a message lists and how many more there are.
    pub fn listed(rows: &[RowError]) -> (&[RowError], usize) {
        let shown = rows.len().min(LISTED_PROBLEMS);
        (&rows[..shown], rows.len() - shown)
    }
}

fn rows_listed(rows: &[RowError]) -> String {
    let (shown, more) = CatalogError::listed(rows);
    let mut text = shown
        .iter()
        .map(|e| format!("row {} field {}: {}", e.row, e.field, e.problem))
        .collect::<Vec<_>>()
        .join("; ");
    if more > 0 {
        text.push_str(&format!("; … and {more} more"));
    }
    text
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

/// The CSV columns, in their usual order.
const CSV_COLUMNS: [&str; 10] = [
    "code",
    "name",
    "kind",
    "legal_days",
    "promised_days",
    "materials",
    "tier",
    "departments",
    "conditions",
    "retired",
];
/// CSV columns that may be left out of the header (they default to empty, and `retired` to no).
const CSV_OPTIONAL_COLUMNS: [&str; 3] = ["departments", "conditions", "retired"];
/// JSON fields of an item; `departments`, `conditions` and `retired` may be left out.
const JSON_FIELDS: [&str; 10] = CSV_COLUMNS;

/// One row as extracted from a file, before the rules are checked.
///
/// A field is `None` when it was missing or malformed; that problem has already been recorded,
/// and the rules that need the field are skipped so each mistake is reported once.
#[derive(Debug, Default)]
struct Draft {
    code: Option<String>,
    name: Option<String>,
    kind: Option<CaseKind>,
    legal_days: Option<u32>,
    promised_days: Option<u32>,
    materials: Option<Vec<String>>,
    tier: Option<Tier>,
    departments: Option<Vec<String>>,
    conditions: String,
    retired: bool,
}

impl Draft {
    /// A draft holding every field of an already-typed item.
    fn from_item(item: ServiceItem) -> Draft {
        Draft {
            code: Some(item.code),
            name: Some(item.name),
            kind: Some(item.kind),
            legal_days: Some(item.legal_days),
            promised_days: Some(item.promised_days),
            materials: Some(item.materials),
            tier: Some(item.tier),
            departments: Some(item.departments),
            conditions: item.conditions,
            retired: item.retired,
        }
    }
}

/// Records one problem with one row.
fn row_error(errors: &mut Vec<RowError>, row: usize, field: &str, problem: RowProblem) {
    errors.push(RowError {
        row,
        field: field.to_string(),
        problem,
    });
}

/// Trims every entry of a list and drops the empty ones.
fn clean_list(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits a list cell on `;` or `；` and drops empty entries. `、` is not a separator: it occurs
/// inside material names such as 营业执照正、副本.
fn split_list(cell: &str) -> Vec<String> {
    clean_list(cell.split([';', '；']).map(str::to_string).collect())
}

/// Checks the rules on a draft and builds the item when the row is good.
///
/// `seen` maps codes to the row that first used them, to report duplicates.
fn finish_row(
    row: usize,
    draft: Draft,
    seen: &mut BTreeMap<String, usize>,
    errors: &mut Vec<RowError>,
) -> Option<ServiceItem> {
    let before = errors.len();

    if let Some(code) = &draft.code {
        if code.is_empty() {
            row_error(errors, row, "code", RowProblem::Empty);
        } else if code.chars().any(char::is_whitespace) {
            row_error(errors, row, "code", RowProblem::Whitespace(code.clone()));
        } else if code.chars().count() > MAX_CODE_CHARS {
            row_error(
                errors,
                row,
                "code",
                RowProblem::TooLong {
                    shown: Some(code.clone()),
                    max: MAX_CODE_CHARS,
                },
            );
        } else if let Some(first) = seen.get(code) {
            row_error(
                errors,
                row,
                "code",
                RowProblem::Duplicate {
                    code: code.clone(),
                    first_row: *first,
                },
            );
        } else {
            seen.insert(code.clone(), row);
        }
    }

    let name = draft.name.map(|n| n.trim().to_string());
    if let Some(name) = &name {
        if name.is_empty() {
            row_error(errors, row, "name", RowProblem::Empty);
        } else if name.chars().count() > MAX_NAME_CHARS {
            row_error(
                errors,
                row,
                "name",
                RowProblem::TooLong {
                    shown: None,
                    max: MAX_NAME_CHARS,
                },
            );
        }
    }

    if let Some(legal) = draft.legal_days
        && legal > MAX_LEGAL_DAYS
    {
        row_error(
            errors,
            row,
            "legal_days",
            RowProblem::MoreThan {
                value: u64::from(legal),
                max: MAX_LEGAL_DAYS,
            },
        );
    }

    if let (Some(promised), Some(legal)) = (draft.promised_days, draft.legal_days)
        && promised > legal
    {
        row_error(
            errors,
            row,
            "promised_days",
            RowProblem::PromisedOverLegal { promised, legal },
        );
    }

    let materials = draft.materials.map(clean_list);
    match (draft.kind, draft.promised_days) {
        (Some(CaseKind::Instant), Some(promised)) if promised != 0 => row_error(
            errors,
            row,
            "promised_days",
            RowProblem::InstantNotZero(promised),
        ),
        (Some(CaseKind::Promised), Some(0)) => {
            row_error(errors, row, "promised_days", RowProblem::PromisedZero)
        }
        _ => {}
    }
    if draft.kind == Some(CaseKind::Promised) && materials.as_ref().is_some_and(Vec::is_empty) {
        row_error(errors, row, "materials", RowProblem::NoMaterials);
    }

    let departments = draft.departments.map(clean_list);
    if let Some(departments) = &departments {
        let mut listed = std::collections::BTreeSet::new();
        for department in departments {
            if !listed.insert(department.as_str()) {
                row_error(
                    errors,
                    row,
                    "departments",
                    RowProblem::ListedTwice(department.clone()),
                );
            }
        }
    }

    if errors.len() != before {
        return None;
    }
    Some(ServiceItem {
        code: draft.code?,
        name: name?,
        kind: draft.kind?,
        legal_days: draft.legal_days?,
        promised_days: draft.promised_days?,
        materials: materials?,
        tier: draft.tier?,
        departments: departments?,
        conditions: draft.conditions.trim().to_string(),
        retired: draft.retired,
    })
}

/// Checks every draft and builds the catalog, or reports every bad row.
fn build(drafts: Vec<(usize, Draft)>, mut errors: Vec<RowError>) -> Result<Catalog, CatalogError> {
    if drafts.is_empty() && errors.is_empty() {
        return Err(CatalogError::Empty);
    }
    let mut seen = BTreeMap::new();
    let mut items = BTreeMap::new();
    for (row, draft) in drafts {
        if let Some(item) = finish_row(row, draft, &mut seen, &mut errors) {
            items.insert(item.code.clone(), item);
        }
    }
    if errors.is_empty() {
        Ok(Catalog { items })
    } else {
        errors.sort_by_key(|e| e.row);
        Err(CatalogError::Rows(errors))
    }
}

/// Parses a day count from a CSV cell.
fn parse_days_cell(cell: &str, row: usize, field: &str, errors: &mut Vec<RowError>) -> Option<u32> {
    let cell = cell.trim();
    if cell.is_empty() {
        row_error(errors, row, field, RowProblem::Empty);
        return None;
    }
    match cell.parse::<i64>() {
        Ok(n) if n < 0 => {
            row_error(errors, row, field, RowProblem::Negative(n.to_string()));
            None
        }
        Ok(n) => match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                row_error(
                    errors,
                    row,
                    field,
                    RowProblem::MoreThan {
                        value: n.unsigned_abs(),
                        max: MAX_LEGAL_DAYS,
                    },
                );
                None
            }
        },
        Err(_)
            if cell
                .trim_start_matches(['-', '+'])
                .chars()
                .all(|c| c.is_ascii_digit()) =>
        {
            row_error(errors, row, field, RowProblem::TooLarge(cell.to_string()));
            None
        }
        Err(_) => {
            row_error(
                errors,
                row,
                field,
                RowProblem::NotWholeDays(format!("{cell:?}")),
            );
            None
        }
    }
}

/// Parses a day count from a JSON value.
fn parse_days_value(
    value: &serde_json::Value,
    row: usize,
    field: &str,
    errors: &mut Vec<RowError>,
) -> Option<u32> {
    let Some(number) = value.as_number() else {
        row_error(
            errors,
            row,
            field,
            RowProblem::WrongType {
                expected: "a number",
                found: json_type(value),
            },
        );
        return None;
    };
    if let Some(n) = number.as_u64() {
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                row_error(
                    errors,
                    row,
                    field,
                    RowProblem::MoreThan {
                        value: n,
                        max: MAX_LEGAL_DAYS,
                    },
                );
                None
            }
        }
    } else if number.as_i64().is_some() || number.as_f64().is_some_and(|f| f < 0.0) {
        row_error(errors, row, field, RowProblem::Negative(number.to_string()));
        None
    } else {
        row_error(
            errors,
            row,
            field,
            RowProblem::NotWholeDays(number.to_string()),
        );
        None
    }
}

/// A short name for the type of a JSON value, for messages.
fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Extracts a string field from a JSON value.
fn json_string(
    value: &serde_json::Value,
    row: usize,
    field: &str,
    errors: &mut Vec<RowError>,
) -> Option<String> {
    match value.as_str() {
        Some(s) => Some(s.to_string()),
        None => {
            row_error(
                errors,
                row,
                field,
                RowProblem::WrongType {
                    expected: "a string",
                    found: json_type(value),
                },
            );
            None
        }
    }
}

/// Extracts a list of strings from a JSON value.
fn json_list(
    value: &serde_json::Value,
    row: usize,
    field: &str,
    errors: &mut Vec<RowError>,
) -> Option<Vec<String>> {
    let Some(array) = value.as_array() else {
        row_error(
            errors,
            row,
            field,
            RowProblem::WrongType {
                expected: "an array of strings",
                found: json_type(value),
            },
        );
        return None;
    };
    let mut list = Vec::with_capacity(array.len());
    for (i, entry) in array.iter().enumerate() {
        match entry.as_str() {
            Some(s) => list.push(s.to_string()),
            None => {
                row_error(
                    errors,
                    row,
                    field,
                    RowProblem::WrongEntry {
                        entry: i + 1,
                        found: json_type(entry),
                    },
                );
                return None;
            }
        }
    }
    Some(list)
}

/// Parses a kind, recording an error when it is unknown.
fn parse_kind(s: &str, row: usize, errors: &mut Vec<RowError>) -> Option<CaseKind> {
    if s.trim().is_empty() {
        row_error(errors, row, "kind", RowProblem::Empty);
        return None;
    }
    let kind = CaseKind::parse(s);
    if kind.is_none() {
        row_error(
            errors,
            row,
            "kind",
            RowProblem::UnknownKind(s.trim().to_string()),
        );
    }
    kind
}

/// Parses a tier, recording an error when it is unknown.
fn parse_tier(s: &str, row: usize, errors: &mut Vec<RowError>) -> Option<Tier> {
    if s.trim().is_empty() {
        row_error(errors, row, "tier", RowProblem::Empty);
        return None;
    }
    let tier = Tier::parse(s);
    if tier.is_none() {
        row_error(
            errors,
            row,
            "tier",
            RowProblem::UnknownTier(s.trim().to_string()),
        );
    }
    tier
}

/// Parses the `retired` CSV cell: empty means no.
fn parse_flag(s: &str, row: usize, errors: &mut Vec<RowError>) -> bool {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "no" | "false" | "0" | "否" => false,
        "yes" | "true" | "1" | "是" | "停用" => true,
        _ => {
            row_error(
                errors,
                row,
                "retired",
                RowProblem::NotAFlag(s.trim().to_string()),
            );
            false
        }
    }
}

/// Extracts one JSON array element into a draft, recording type errors.
fn json_draft(row: usize, value: &serde_json::Value, errors: &mut Vec<RowError>) -> Draft {
    let mut draft = Draft::default();
    let Some(object) = value.as_object() else {
        row_error(
            errors,
            row,
            "row",
            RowProblem::WrongType {
                expected: "an object",
                found: json_type(value),
            },
        );
        return draft;
    };
    for key in object.keys() {
        if !JSON_FIELDS.contains(&key.as_str()) {
            row_error(errors, row, key, RowProblem::UnknownField);
        }
    }
    let required = |field: &str, errors: &mut Vec<RowError>| {
        let found = object.get(field);
        if found.is_none() {
            row_error(errors, row, field, RowProblem::Missing);
        }
        found
    };
    if let Some(v) = required("code", errors) {
        draft.code = json_string(v, row, "code", errors);
    }
    if let Some(v) = required("name", errors) {
        draft.name = json_string(v, row, "name", errors);
    }
    if let Some(v) = required("kind", errors) {
        draft.kind = json_string(v, row, "kind", errors).and_then(|s| parse_kind(&s, row, errors));
    }
    if let Some(v) = required("legal_days", errors) {
        draft.legal_days = parse_days_value(v, row, "legal_days", errors);
    }
    if let Some(v) = required("promised_days", errors) {
        draft.promised_days = parse_days_value(v, row, "promised_days", errors);
    }
    if let Some(v) = required("materials", errors) {
        draft.materials = json_list(v, row, "materials", errors);
    }
    if let Some(v) = required("tier", errors) {
        draft.tier = json_string(v, row, "tier", errors).and_then(|s| parse_tier(&s, row, errors));
    }
    draft.departments = match object.get("departments") {
        None | Some(serde_json::Value::Null) => Some(Vec::new()),
        Some(v) => json_list(v, row, "departments", errors),
    };
    match object.get("conditions") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => {
            if let Some(s) = json_string(v, row, "conditions", errors) {
                draft.conditions = s;
            }
        }
    }
    match object.get("retired") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Bool(b)) => draft.retired = *b,
        Some(v) => row_error(
            errors,
            row,
            "retired",
            RowProblem::WrongType {
                expected: "a boolean",
                found: json_type(v),
            },
        ),
    }
    draft
}

/// Removes a UTF-8 byte order mark, which spreadsheet programs often write.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The CSV error message, with a hint for files that are not UTF-8.
fn csv_problem(e: &csv::Error) -> SyntaxProblem {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => SyntaxProblem::NotUtf8 {
            line: pos.as_ref().map_or(0, csv::Position::line),
        },
        _ => SyntaxProblem::Parser(e.to_string()),
    }
}

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
            if record.len() > header.len() {
                row_error(
                    &mut errors,
                    row,
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
            let kind = parse_kind(cell("kind"), row, &mut errors);
            let legal_days = parse_days_cell(cell("legal_days"), row, "legal_days", &mut errors);
            let promised_days =
                parse_days_cell(cell("promised_days"), row, "promised_days", &mut errors);
            let tier = parse_tier(cell("tier"), row, &mut errors);
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
                    retired: parse_flag(cell("retired"), row, &mut errors),
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
mod tests {
    use super::*;

    const HEADER: &str =
        "code,name,kind,legal_days,promised_days,materials,tier,departments,conditions\n";

    fn item(code: &str, kind: CaseKind, legal: u32, promised: u32) -> ServiceItem {
        ServiceItem {
            code: code.to_string(),
            name: format!("测试事项{code}"),
            kind,
            legal_days: legal,
            promised_days: promised,
            materials: vec!["居民身份证".to_string(), "申请表".to_string()],
            tier: Tier::Township,
            departments: Vec::new(),
            conditions: String::new(),
            retired: false,
        }
    }

    fn rows(result: Result<Catalog, CatalogError>) -> Vec<RowError> {
        match result {
            Err(CatalogError::Rows(rows)) => rows,
            other => panic!("expected row errors, got {other:?}"),
        }
    }

    /// Asserts that exactly one error names `row` and `field`, and that its message contains `text`.
    fn has(errors: &[RowError], row: usize, field: &str, text: &str) {
        let found: Vec<&RowError> = errors
            .iter()
            .filter(|e| e.row == row && e.field == field)
            .collect();
        assert_eq!(found.len(), 1, "row {row} field {field} in {errors:?}");
        assert!(
            found[0].message().contains(text),
            "{:?} does not contain {text:?}",
            found[0].message()
        );
    }

    fn csv(body: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_csv(format!("{HEADER}{body}").as_bytes())
    }

    #[test]
    fn default_catalog_parses_and_covers_the_tiers() {
        let parsed = Catalog::from_json(DEFAULT_CATALOG_JSON.as_bytes());
        let catalog = match parsed {
            Ok(c) => c,
            Err(e) => panic!("default catalog does not parse: {e}"),
        };
        assert!(catalog.len() >= 30, "{} items", catalog.len());
        for tier in [Tier::Village, Tier::Township, Tier::City] {
            assert!(
                catalog.items().filter(|i| i.tier == tier).count() >= 5,
                "too few {tier} items"
            );
        }
        for kind in [CaseKind::Instant, CaseKind::Promised, CaseKind::Consult] {
            assert!(catalog.items().any(|i| i.kind == kind), "no {kind:?} item");
        }
        assert!(
            catalog.items().filter(|i| i.departments.len() >= 2).count() >= 3,
            "fewer than 3 parallel-approval items"
        );
        assert!(catalog.items().all(|i| !i.conditions.is_empty()));
        assert_eq!(Catalog::default_catalog(), catalog);
        assert!(catalog.get("TS-001").is_some());
    }

    #[test]
    fn default_lists_survive_csv() {
        // CSV splits lists on `;` and `；`, so default entries must not contain them.
        for item in Catalog::default_catalog().items() {
            for entry in item.materials.iter().chain(&item.departments) {
                assert!(!entry.contains([';', '；']), "{}: {entry}", item.code);
            }
        }
    }

    #[test]
    fn json_round_trip() {
        let catalog = Catalog::default_catalog();
        let json = catalog.to_json();
        let again = Catalog::from_json(json.as_bytes()).expect("round trip");
        assert_eq!(again, catalog);
        assert!(json.starts_with('['));
        assert!(json.contains("城乡居民基本医疗保险参保登记"));
    }

    #[test]
    fn csv_round_trip() {
        let catalog = Catalog::default_catalog();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(CSV_COLUMNS).expect("header");
        for i in catalog.items() {
            writer
                .write_record([
                    i.code.as_str(),
                    i.name.as_str(),
                    i.kind.label_zh(),
                    &i.legal_days.to_string(),
                    &i.promised_days.to_string(),
                    &i.materials.join("；"),
                    i.tier.as_str(),
                    &i.departments.join("；"),
                    i.conditions.as_str(),
                    if i.retired { "是" } else { "" },
                ])
                .expect("record");
        }
        let bytes = writer.into_inner().expect("flush");
        let again = Catalog::from_csv(&bytes).expect("csv parses");
        assert_eq!(again, catalog);
        assert_eq!(Catalog::parse(&bytes, None).expect("sniffed"), catalog);
        assert_eq!(
            Catalog::parse(&bytes, Some(".CSV")).expect("hinted"),
            catalog
        );
    }

    #[test]
    fn csv_accepts_chinese_names_separators_bom_and_any_column_order() {
        let text = "\u{feff}tier,code,name,kind,legal_days,promised_days,materials\n\
                    乡镇, TS-9 ,低保申请,承诺件,30,20,申请书;居民身份证；户口簿；营业执照正、副本\n\
                    村,VL-9,政策咨询,咨询件,0,0,\n\
                    市,CT-9,营业执照,即办件,1,0,居民身份证\n";
        let catalog = Catalog::from_csv(text.as_bytes()).expect("parses");
        let ts = catalog.get("TS-9").expect("TS-9");
        assert_eq!(ts.tier, Tier::Township);
        assert_eq!(ts.kind, CaseKind::Promised);
        assert_eq!(
            ts.materials,
            ["申请书", "居民身份证", "户口簿", "营业执照正、副本"]
        );
        assert!(ts.departments.is_empty());
        assert_eq!(catalog.get("VL-9").map(|i| i.tier), Some(Tier::Village));
        assert_eq!(catalog.get("CT-9").map(|i| i.kind), Some(CaseKind::Instant));
    }

    #[test]
    fn json_conditions_and_departments_are_optional() {
        let json = r#"[{"code":"A-1","name":"事项","kind":"instant","legal_days":0,
            "promised_days":0,"materials":["居民身份证"],"tier":"township"}]"#;
        let catalog = Catalog::from_json(json.as_bytes()).expect("parses");
        let a = catalog.get("A-1").expect("A-1");
        assert!(a.departments.is_empty());
        assert!(a.conditions.is_empty());
    }

    #[test]
    fn from_items_validates() {
        assert_eq!(
            Catalog::from_items(vec![item("A-1", CaseKind::Promised, 20, 5)])
                .expect("valid")
                .len(),
            1
        );
        let errors = rows(Catalog::from_items(vec![
            item("A-1", CaseKind::Promised, 20, 5),
            item("A-1", CaseKind::Promised, 20, 30),
        ]));
        has(&errors, 2, "code", "duplicate of row 1");
        has(&errors, 2, "promised_days", "30 is more than legal_days 20");
        assert!(matches!(
            Catalog::from_items(Vec::new()),
            Err(CatalogError::Empty)
        ));
    }

    #[test]
    fn retired_items_read_from_json_and_csv_and_print_only_when_set() {
        let json = r#"[{"code":"A-1","name":"甲","kind":"instant","legal_days":0,
            "promised_days":0,"materials":[],"tier":"city","retired":true},
            {"code":"A-2","name":"乙","kind":"instant","legal_days":0,
            "promised_days":0,"materials":[],"tier":"city"}]"#;
        let catalog = Catalog::from_json(json.as_bytes()).expect("parses");
        assert!(catalog.get("A-1").expect("A-1").retired);
        assert!(!catalog.get("A-2").expect("A-2").retired);
        let printed = catalog.to_json();
        assert_eq!(printed.matches("retired").count(), 1, "{printed}");
        assert_eq!(
            Catalog::from_json(printed.as_bytes()).expect("again"),
            catalog
        );

        let csv = "code,name,kind,legal_days,promised_days,materials,tier,retired\n\
                   B-1,甲,instant,0,0,,city,是\n\
                   B-2,乙,instant,0,0,,city,\n\
                   B-3,丙,instant,0,0,,city,maybe\n";
        let errors = rows(Catalog::from_csv(csv.as_bytes()));
        has(&errors, 3, "retired", "not yes or no");
        let good = csv.replace("maybe", "no");
        let catalog = Catalog::from_csv(good.as_bytes()).expect("parses");
        assert!(catalog.get("B-1").expect("B-1").retired);
        assert!(!catalog.get("B-3").expect("B-3").retired);

        let errors = rows(Catalog::from_json(
            r#"[{"code":"A-1","name":"甲","kind":"instant","legal_days":0,
            "promised_days":0,"materials":[],"tier":"city","retired":"yes"}]"#
                .as_bytes(),
        ));
        has(&errors, 1, "retired", "expected a boolean");
    }

    #[test]
    fn editing_one_item_is_validated_and_keeps_the_rest() {
        let catalog = Catalog::default_catalog();
        let mut edited = catalog.get("TS-006").expect("TS-006").clone();
        edited.promised_days = 7;
        let after = catalog.with_item(edited.clone()).expect("valid edit");
        assert_eq!(after.len(), catalog.len());
        assert_eq!(after.get("TS-006"), Some(&edited));

        let mut bad = edited.clone();
        bad.name = "  ".into();
        bad.promised_days = bad.legal_days + 1;
        let problems = Catalog::check_item(&bad);
        let fields: Vec<&str> = problems.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "promised_days"]);
        assert_eq!(problems[0].problem, RowProblem::Empty);
        assert!(matches!(catalog.with_item(bad), Err(CatalogError::Rows(_))));
        assert!(Catalog::check_item(&edited).is_empty());

        let mut new = edited;
        new.code = "NEW-1".into();
        assert_eq!(
            catalog.with_item(new).expect("added").len(),
            catalog.len() + 1
        );
        let fewer = catalog.without("TS-006").expect("removed");
        assert_eq!(fewer.len(), catalog.len() - 1);
        assert!(fewer.get("TS-006").is_none());
        let one = Catalog::from_items(vec![item("A-1", CaseKind::Promised, 20, 5)]).expect("one");
        assert!(matches!(one.without("A-1"), Err(CatalogError::Empty)));
    }

    #[test]
    fn code_errors() {
        let long = "C".repeat(33);
        let errors = rows(csv(&format!(
            ",空编码,instant,0,0,居民身份证,township,,\n\
             \"A 1\",空格,instant,0,0,居民身份证,township,,\n\
             {long},过长,instant,0,0,居民身份证,township,,\n\
             B-1,甲,instant,0,0,居民身份证,township,,\n\
             B-1,乙,instant,0,0,居民身份证,township,,\n"
        )));
        has(&errors, 1, "code", "empty");
        has(&errors, 2, "code", "whitespace");
        has(&errors, 3, "code", "longer than 32");
        has(&errors, 5, "code", "duplicate of row 4");
        assert_eq!(errors.len(), 4, "{errors:?}");
        // 32 characters is still fine.
        assert!(
            csv(&format!(
                "{},甲,instant,0,0,居民身份证,city,,\n",
                "C".repeat(32)
            ))
            .is_ok()
        );
    }

    #[test]
    fn name_errors() {
        let long = "名".repeat(101);
        let errors = rows(csv(&format!(
            "A-1,,instant,0,0,居民身份证,township,,\n\
             A-2,{long},instant,0,0,居民身份证,township,,\n"
        )));
        has(&errors, 1, "name", "empty");
        has(&errors, 2, "name", "longer than 100");
        assert!(
            csv(&format!(
                "A-1,{},instant,0,0,居民身份证,city,,\n",
                "名".repeat(100)
            ))
            .is_ok()
        );
    }

    #[test]
    fn kind_and_tier_errors() {
        let errors = rows(csv("A-1,甲,urgent,0,0,居民身份证,township,,\n\
             A-2,乙,instant,0,0,居民身份证,province,,\n\
             A-3,丙,,0,0,居民身份证,,,\n"));
        has(&errors, 1, "kind", "unknown kind \"urgent\"");
        has(&errors, 2, "tier", "unknown tier \"province\"");
        has(&errors, 3, "kind", "empty");
        has(&errors, 3, "tier", "empty");
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn day_errors() {
        let errors = rows(csv("A-1,甲,promised,twenty,5,居民身份证,township,,\n\
             A-2,乙,promised,20,-1,居民身份证,township,,\n\
             A-3,丙,promised,20,30,居民身份证,township,,\n\
             A-4,丁,instant,1,1,居民身份证,township,,\n\
             A-5,戊,promised,20,0,居民身份证,township,,\n\
             A-6,己,promised,20,5,,township,,\n\
             A-7,庚,promised,366,5,居民身份证,township,,\n\
             A-8,辛,promised,2.5,1,居民身份证,township,,\n\
             A-9,壬,promised,99999999999999999999,1,居民身份证,township,,\n"));
        has(&errors, 1, "legal_days", "not a whole number");
        has(&errors, 2, "promised_days", "-1 is negative");
        has(&errors, 3, "promised_days", "30 is more than legal_days 20");
        has(&errors, 4, "promised_days", "instant");
        has(&errors, 5, "promised_days", "promised item");
        has(&errors, 6, "materials", "empty");
        has(&errors, 7, "legal_days", "366 is more than 365");
        has(&errors, 8, "legal_days", "not a whole number");
        has(&errors, 9, "legal_days", "too large");
        assert_eq!(errors.len(), 9, "{errors:?}");
        // 365 is the limit, and consult items need no materials.
        assert!(
            csv("A-1,甲,promised,365,5,居民身份证,city,,\nA-2,乙,consult,0,0,,city,,\n").is_ok()
        );
    }

    #[test]
    fn duplicate_departments_are_refused() {
        let errors = rows(csv("A-1,甲,promised,20,5,申请表,city,住建局;住建局,\n"));
        has(&errors, 1, "departments", "listed twice");
    }

    #[test]
    fn all_bad_rows_are_reported_and_nothing_is_imported() {
        let result = csv("A-1,好,promised,20,5,申请表,city,,\n\
             A-2,,promised,20,5,申请表,city,,\n\
             A-3,好,promised,20,5,申请表,city,,\n\
             A-4,坏,promised,10,15,申请表,village,,\n\
             A-5,坏,nope,x,0,申请表,nowhere,,\n");
        let errors = match result {
            Err(e @ CatalogError::Rows(_)) => {
                let text = e.to_string();
                assert!(text.contains("row 4 field promised_days: 15 is more than legal_days 10"));
                rows(Err(e))
            }
            other => panic!("expected row errors, got {other:?}"),
        };
        let bad_rows: std::collections::BTreeSet<usize> = errors.iter().map(|e| e.row).collect();
        assert_eq!(bad_rows.into_iter().collect::<Vec<_>>(), [2, 4, 5]);
        has(&errors, 5, "kind", "nope");
        has(&errors, 5, "legal_days", "\"x\"");
        has(&errors, 5, "tier", "nowhere");
    }

    /// Issue #11: a file of thousands of bad rows printed every problem in one line of millions
    /// of characters.
    #[test]
    fn a_message_lists_the_first_problems_and_counts_the_rest() {
        let body: String = (1..=2_000)
            .map(|i| format!("A-{i},,promised,20,5,申请表,city,,\n"))
            .collect();
        let e = csv(&body).expect_err("every row lacks a name");
        let text = e.to_string();
        assert!(
            text.starts_with("catalog has 2000 bad row(s): row 1 field name"),
            "{text}"
        );
        assert!(text.ends_with("; … and 1995 more"), "{text}");
        assert!(text.len() < 600, "{} characters", text.len());
        assert_eq!(rows(Err(e)).len(), 2_000, "the data keeps every problem");
    }

    /// Issue #11: a catalog file of any size was read whole and accepted.
    #[test]
    fn files_and_item_counts_are_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.csv");
        let file = std::fs::File::create(&big).expect("create");
        file.set_len(MAX_FILE_BYTES + 1).expect("a sparse file");
        assert!(matches!(
            Catalog::read_file(&big),
            Err(CatalogError::TooLarge { bytes, max: MAX_FILE_BYTES }) if bytes == MAX_FILE_BYTES + 1
        ));
        let many: String = (0..=MAX_ITEMS)
            .map(|i| format!("A-{i},好,promised,20,5,申请表,city,,\n"))
            .collect();
        let path = dir.path().join("many.csv");
        std::fs::write(&path, format!("{}\n{many}", CSV_COLUMNS[..9].join(","))).expect("write");
        let e = Catalog::read_file(&path).expect_err("too many");
        assert!(
            matches!(e, CatalogError::TooManyItems { max: MAX_ITEMS, .. }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "catalog file has more than {MAX_ITEMS} items ({} or more)",
                MAX_ITEMS + 1
            )
        );
        let json = format!("[{}]", vec![r#"{"code":"A"}"#; MAX_ITEMS + 1].join(","));
        assert!(matches!(
            Catalog::from_json(json.as_bytes()),
            Err(CatalogError::TooManyItems { found, .. }) if found == MAX_ITEMS + 1
        ));
        let missing = dir.path().join("missing.csv");
        assert!(matches!(
            Catalog::read_file(&missing),
            Err(CatalogError::Io { .. })
        ));
        let ok = dir.path().join("ok.json");
        std::fs::write(&ok, Catalog::default_catalog().to_json()).expect("write");
        assert_eq!(
            Catalog::read_file(&ok).expect("reads"),
            Catalog::default_catalog()
        );
    }

    #[test]
    fn json_row_errors_name_the_row_and_field() {
        let json = r#"[
            {"code":"A-1","name":"好","kind":"promised","legal_days":20,"promised_days":5,
             "materials":["申请表"],"tier":"city","departments":[]},
            {"code":7,"name":"甲","kind":"promised","legal_days":"20","promised_days":-3,
             "materials":"申请表","tier":"city","departments":[1]},
            "not an object",
            {"code":"A-1","name":"乙","kind":"即办件","legal_days":0,"promised_days":2.5,
             "materials":[],"tier":"市","condition":"typo"},
            {"name":"丙","kind":"instant","legal_days":0,"promised_days":0,"materials":[],
             "tier":"city"}
        ]"#;
        let errors = rows(Catalog::from_json(json.as_bytes()));
        has(&errors, 2, "code", "expected a string, found a number");
        has(
            &errors,
            2,
            "legal_days",
            "expected a number, found a string",
        );
        has(&errors, 2, "promised_days", "-3 is negative");
        has(&errors, 2, "materials", "expected an array");
        has(&errors, 2, "departments", "entry 1");
        has(&errors, 3, "row", "expected an object");
        has(&errors, 4, "code", "duplicate of row 1");
        has(&errors, 4, "promised_days", "not a whole number");
        has(&errors, 4, "condition", "not a known field");
        has(&errors, 5, "code", "missing");
        assert!(errors.iter().all(|e| e.row != 1), "{errors:?}");
    }

    #[test]
    fn syntax_errors() {
        match Catalog::from_json(b"[{\"code\": \"A-1\",}]") {
            Err(CatalogError::Syntax { format, problem }) => {
                assert_eq!(format, "JSON");
                assert!(problem.to_string().contains("line 1 column"), "{problem}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        match Catalog::from_json(b"{\"code\": \"A-1\"}") {
            Err(CatalogError::Syntax { problem, .. }) => {
                assert_eq!(
                    problem.to_string(),
                    "expected an array of items, found an object"
                )
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        match Catalog::from_csv(
            b"code,name,kind,legal_days,materials,tier\nA-1,x,instant,0,a,city\n",
        ) {
            Err(CatalogError::Syntax { format, problem }) => {
                assert_eq!(format, "CSV");
                assert_eq!(
                    problem.to_string(),
                    "the header has no column \"promised_days\""
                );
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        match Catalog::from_csv(b"code,name,kind,legal_days,promised_days,materials,tier,remark\n")
        {
            Err(CatalogError::Syntax { problem, .. }) => assert_eq!(
                problem.to_string(),
                "unknown column \"remark\" in the header (expected \
                 code,name,kind,legal_days,promised_days,materials,tier,departments,conditions,\
                 retired)"
            ),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        // GBK bytes for 城乡 are not UTF-8.
        let mut gbk = HEADER.as_bytes().to_vec();
        gbk.extend_from_slice(b"A-1,\xb3\xc7\xcf\xe7,instant,0,0,a,city,,\n");
        match Catalog::from_csv(&gbk) {
            Err(CatalogError::Syntax { problem, .. }) => assert_eq!(
                problem.to_string(),
                "row 1: line 2 is not UTF-8 (save the file as UTF-8, not GBK)"
            ),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn empty_files() {
        assert!(matches!(
            Catalog::from_json(b"[]"),
            Err(CatalogError::Empty)
        ));
        assert!(matches!(
            Catalog::from_json(b"  \n"),
            Err(CatalogError::Empty)
        ));
        assert!(matches!(Catalog::from_csv(b""), Err(CatalogError::Empty)));
        assert!(matches!(
            Catalog::from_csv(HEADER.as_bytes()),
            Err(CatalogError::Empty)
        ));
        assert!(matches!(
            Catalog::parse(b" [ ] ", None),
            Err(CatalogError::Empty)
        ));
    }

    #[test]
    fn parse_picks_the_format() {
        let json = Catalog::default_catalog().to_json();
        assert!(Catalog::parse(format!("\n  {json}").as_bytes(), None).is_ok());
        assert!(Catalog::parse(json.as_bytes(), Some("JSON")).is_ok());
        // An explicit hint wins over sniffing.
        assert!(matches!(
            Catalog::parse(json.as_bytes(), Some("csv")),
            Err(CatalogError::Syntax { format: "CSV", .. })
        ));
    }

    #[test]
    fn search_matches_code_and_name() {
        let catalog = Catalog::default_catalog();
        let hits = catalog.search("医疗保险");
        assert!(hits.iter().any(|i| i.code == "TS-001"));
        assert!(hits.iter().all(|i| i.name.contains("医疗保险")));
        let hits = catalog.search("ts-00");
        assert!(hits.len() >= 9 && hits.iter().all(|i| i.code.starts_with("TS-00")));
        assert_eq!(
            catalog.search("ct-001").first().map(|i| i.code.as_str()),
            Some("CT-001")
        );
        assert_eq!(catalog.search("").len(), catalog.len());
        assert!(catalog.search("不存在的事项").is_empty());
    }
}
