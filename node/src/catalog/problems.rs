//! What can be wrong with an imported catalog, as data: a row's problems (`RowError`,
//! `RowProblem`), a file that does not parse (`SyntaxProblem`), and the error that carries them.

use super::parse::CSV_COLUMNS;

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
