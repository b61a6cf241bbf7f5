//! Reading rows: the CSV columns and JSON fields, one draft item per row with every problem
//! recorded against its row and field, and the checks that turn a draft into an item.

use super::{
    CaseKind, Catalog, CatalogError, MAX_CODE_CHARS, MAX_LEGAL_DAYS, MAX_NAME_CHARS, RowError,
    RowProblem, ServiceItem, SyntaxProblem,
};
use crate::station::Tier;
use std::collections::BTreeMap;

/// The CSV columns, in their usual order.
pub(super) const CSV_COLUMNS: [&str; 10] = [
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
pub(super) const CSV_OPTIONAL_COLUMNS: [&str; 3] = ["departments", "conditions", "retired"];
/// JSON fields of an item; `departments`, `conditions` and `retired` may be left out.
pub(super) const JSON_FIELDS: [&str; 10] = CSV_COLUMNS;

/// One row as extracted from a file, before the rules are checked.
///
/// A field is `None` when it was missing or malformed; that problem has already been recorded,
/// and the rules that need the field are skipped so each mistake is reported once.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub(super) code: Option<String>,
    pub(super) name: Option<String>,
    pub(super) kind: Option<CaseKind>,
    pub(super) legal_days: Option<u32>,
    pub(super) promised_days: Option<u32>,
    pub(super) materials: Option<Vec<String>>,
    pub(super) tier: Option<Tier>,
    pub(super) departments: Option<Vec<String>>,
    pub(super) conditions: String,
    pub(super) retired: bool,
}

impl Draft {
    /// A draft holding every field of an already-typed item.
    pub(super) fn from_item(item: ServiceItem) -> Draft {
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

/// The problems found in one row: each is recorded against the row and a field, so that every
/// reader below takes one of these instead of the row number and the error list apart.
pub(super) struct RowProblems<'a> {
    row: usize,
    errors: &'a mut Vec<RowError>,
}

impl<'a> RowProblems<'a> {
    /// Records the problems of `row` into `errors`.
    pub(super) fn new(row: usize, errors: &'a mut Vec<RowError>) -> Self {
        RowProblems { row, errors }
    }

    /// Records one problem with `field`.
    pub(super) fn add(&mut self, field: &str, problem: RowProblem) {
        self.errors.push(RowError {
            row: self.row,
            field: field.to_string(),
            problem,
        });
    }

    /// Records that `field` holds a JSON value of another type than `expected`.
    fn wrong_type(&mut self, field: &str, expected: &'static str, value: &serde_json::Value) {
        self.add(
            field,
            RowProblem::WrongType {
                expected,
                found: json_type(value),
            },
        );
    }

    /// How many problems have been recorded so far, in this row and the ones before.
    fn count(&self) -> usize {
        self.errors.len()
    }
}

/// Trims every entry of a list and drops the empty ones.
pub(super) fn clean_list(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits a list cell on `;` or `；` and drops empty entries. `、` is not a separator: it occurs
/// inside material names such as 营业执照正、副本.
pub(super) fn split_list(cell: &str) -> Vec<String> {
    clean_list(cell.split([';', '；']).map(str::to_string).collect())
}

/// Checks the rules on a draft and builds the item when the row is good.
///
/// `seen` maps codes to the row that first used them, to report duplicates.
pub(super) fn finish_row(
    row: usize,
    draft: Draft,
    seen: &mut BTreeMap<String, usize>,
    errors: &mut Vec<RowError>,
) -> Option<ServiceItem> {
    let mut p = RowProblems::new(row, errors);
    let before = p.count();

    if let Some(code) = &draft.code {
        if code.is_empty() {
            p.add("code", RowProblem::Empty);
        } else if code.chars().any(char::is_whitespace) {
            p.add("code", RowProblem::Whitespace(code.clone()));
        } else if code.chars().count() > MAX_CODE_CHARS {
            p.add(
                "code",
                RowProblem::TooLong {
                    shown: Some(code.clone()),
                    max: MAX_CODE_CHARS,
                },
            );
        } else if let Some(first) = seen.get(code) {
            p.add(
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
            p.add("name", RowProblem::Empty);
        } else if name.chars().count() > MAX_NAME_CHARS {
            p.add(
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
        p.add(
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
        p.add(
            "promised_days",
            RowProblem::PromisedOverLegal { promised, legal },
        );
    }

    let materials = draft.materials.map(clean_list);
    match (draft.kind, draft.promised_days) {
        (Some(CaseKind::Instant), Some(promised)) if promised != 0 => {
            p.add("promised_days", RowProblem::InstantNotZero(promised))
        }
        (Some(CaseKind::Promised), Some(0)) => p.add("promised_days", RowProblem::PromisedZero),
        _ => {}
    }
    if draft.kind == Some(CaseKind::Promised) && materials.as_ref().is_some_and(Vec::is_empty) {
        p.add("materials", RowProblem::NoMaterials);
    }

    let departments = draft.departments.map(clean_list);
    if let Some(departments) = &departments {
        let mut listed = std::collections::BTreeSet::new();
        for department in departments {
            if !listed.insert(department.as_str()) {
                p.add("departments", RowProblem::ListedTwice(department.clone()));
            }
        }
    }

    if p.count() != before {
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
pub(super) fn build(
    drafts: Vec<(usize, Draft)>,
    mut errors: Vec<RowError>,
) -> Result<Catalog, CatalogError> {
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
pub(super) fn parse_days_cell(cell: &str, field: &str, p: &mut RowProblems<'_>) -> Option<u32> {
    let cell = cell.trim();
    if cell.is_empty() {
        p.add(field, RowProblem::Empty);
        return None;
    }
    match cell.parse::<i64>() {
        Ok(n) if n < 0 => {
            p.add(field, RowProblem::Negative(n.to_string()));
            None
        }
        Ok(n) => match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                p.add(
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
            p.add(field, RowProblem::TooLarge(cell.to_string()));
            None
        }
        Err(_) => {
            p.add(field, RowProblem::NotWholeDays(format!("{cell:?}")));
            None
        }
    }
}

/// Parses a day count from a JSON value.
fn parse_days_value(
    value: &serde_json::Value,
    field: &str,
    p: &mut RowProblems<'_>,
) -> Option<u32> {
    let Some(number) = value.as_number() else {
        p.wrong_type(field, "a number", value);
        return None;
    };
    if let Some(n) = number.as_u64() {
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                p.add(
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
        p.add(field, RowProblem::Negative(number.to_string()));
        None
    } else {
        p.add(field, RowProblem::NotWholeDays(number.to_string()));
        None
    }
}

/// A short name for the type of a JSON value, for messages.
pub(super) fn json_type(value: &serde_json::Value) -> &'static str {
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
fn json_string(value: &serde_json::Value, field: &str, p: &mut RowProblems<'_>) -> Option<String> {
    match value.as_str() {
        Some(s) => Some(s.to_string()),
        None => {
            p.wrong_type(field, "a string", value);
            None
        }
    }
}

/// Extracts a list of strings from a JSON value.
fn json_list(
    value: &serde_json::Value,
    field: &str,
    p: &mut RowProblems<'_>,
) -> Option<Vec<String>> {
    let Some(array) = value.as_array() else {
        p.wrong_type(field, "an array of strings", value);
        return None;
    };
    let mut list = Vec::with_capacity(array.len());
    for (i, entry) in array.iter().enumerate() {
        match entry.as_str() {
            Some(s) => list.push(s.to_string()),
            None => {
                p.add(
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
pub(super) fn parse_kind(s: &str, p: &mut RowProblems<'_>) -> Option<CaseKind> {
    parse_named(s, p, "kind", CaseKind::parse, RowProblem::UnknownKind)
}

/// Parses a tier, recording an error when it is unknown.
pub(super) fn parse_tier(s: &str, p: &mut RowProblems<'_>) -> Option<Tier> {
    parse_named(s, p, "tier", Tier::parse, RowProblem::UnknownTier)
}

/// Parses a required cell naming one of a fixed set of values, recording an empty cell or an
/// unknown value (as `unknown` of the trimmed text) against `field`.
fn parse_named<T>(
    s: &str,
    p: &mut RowProblems<'_>,
    field: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    unknown: impl FnOnce(String) -> RowProblem,
) -> Option<T> {
    if s.trim().is_empty() {
        p.add(field, RowProblem::Empty);
        return None;
    }
    let value = parse(s);
    if value.is_none() {
        p.add(field, unknown(s.trim().to_string()));
    }
    value
}

/// Parses the `retired` CSV cell: empty means no.
pub(super) fn parse_flag(s: &str, p: &mut RowProblems<'_>) -> bool {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "no" | "false" | "0" | "否" => false,
        "yes" | "true" | "1" | "是" | "停用" => true,
        _ => {
            p.add("retired", RowProblem::NotAFlag(s.trim().to_string()));
            false
        }
    }
}

/// Extracts one JSON array element into a draft, recording type errors.
pub(super) fn json_draft(
    row: usize,
    value: &serde_json::Value,
    errors: &mut Vec<RowError>,
) -> Draft {
    let mut p = RowProblems::new(row, errors);
    let p = &mut p;
    let mut draft = Draft::default();
    let Some(object) = value.as_object() else {
        p.wrong_type("row", "an object", value);
        return draft;
    };
    for key in object.keys() {
        if !JSON_FIELDS.contains(&key.as_str()) {
            p.add(key, RowProblem::UnknownField);
        }
    }
    let required = |field: &str, p: &mut RowProblems<'_>| {
        let found = object.get(field);
        if found.is_none() {
            p.add(field, RowProblem::Missing);
        }
        found
    };
    draft.code = required("code", p).and_then(|v| json_string(v, "code", p));
    draft.name = required("name", p).and_then(|v| json_string(v, "name", p));
    draft.kind =
        required("kind", p).and_then(|v| json_string(v, "kind", p).and_then(|s| parse_kind(&s, p)));
    draft.legal_days = required("legal_days", p).and_then(|v| parse_days_value(v, "legal_days", p));
    draft.promised_days =
        required("promised_days", p).and_then(|v| parse_days_value(v, "promised_days", p));
    draft.materials = required("materials", p).and_then(|v| json_list(v, "materials", p));
    draft.tier =
        required("tier", p).and_then(|v| json_string(v, "tier", p).and_then(|s| parse_tier(&s, p)));
    draft.departments = match object.get("departments") {
        None | Some(serde_json::Value::Null) => Some(Vec::new()),
        Some(v) => json_list(v, "departments", p),
    };
    match object.get("conditions") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => {
            if let Some(s) = json_string(v, "conditions", p) {
                draft.conditions = s;
            }
        }
    }
    match object.get("retired") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Bool(b)) => draft.retired = *b,
        Some(v) => p.wrong_type("retired", "a boolean", v),
    }
    draft
}

/// Removes a UTF-8 byte order mark, which spreadsheet programs often write.
pub(super) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The CSV error message, with a hint for files that are not UTF-8.
pub(super) fn csv_problem(e: &csv::Error) -> SyntaxProblem {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => SyntaxProblem::NotUtf8 {
            line: pos.as_ref().map_or(0, csv::Position::line),
        },
        _ => SyntaxProblem::Parser(e.to_string()),
    }
}
