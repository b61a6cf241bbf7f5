//! The printable acceptance receipt (受理回执) and one-time notice (一次性告知书) as PDF.
//!
//! The documents are written with `pdf-writer` and the CJK font that the window already uses
//! (found by [`super::fonts::find_cjk_font`]), because a receipt in Chinese needs Chinese glyphs
//! and shipping a font would add megabytes to the binary. The font is cut down with `subsetter`
//! to the glyphs the document uses, so that a receipt is tens of kilobytes rather than the font's
//! several megabytes. It is embedded as a CID font with the Identity-H encoding (two bytes per
//! glyph, so that any of the font's glyphs can be shown) and a ToUnicode map, so that the text
//! can still be searched and copied out of the PDF.
//!
//! The layout is deliberately plain: a centered heading, then one column of lines wrapped at the
//! page width by the glyphs' advances, onto as many A4 pages as needed. The texts come from the
//! translation table in the window's language.
//!
//! Reading the font and writing the file take a moment, so [`write_in_background`] does both on
//! a short-lived thread and the window polls for the answer.

//!
//! `mod.rs` holds the documents' text (what a receipt or notice says, in the window's language)
//! and the background writer; `pdf.rs` lays the text out on A4 pages and draws it, with the QR
//! code, as PDF.

use super::fonts::find_cjk_font;
use super::i18n::Tr;
use std::sync::mpsc::Receiver;
use yizhan_node::CaseView;
use yizhan_node::idcard::mask_id_number;

mod pdf;
pub use pdf::render;
#[cfg(test)]
mod tests;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// 受理回执: what was taken in, when, and by when it is promised.
    Receipt,
    /// 一次性告知书: every material the item needs and those still missing, told once.
    Notice,
}

/// A document's text before layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The issuing station, above the title.
    pub issuer: String,
    /// The title.
    pub title: String,
    /// The body, one paragraph per entry (wrapped at layout).
    pub lines: Vec<String>,
    /// The progress page's address for this case, printed as a QR code at the top right of the
    /// first page with its caption (issue #15); `None` where the station has no public address.
    pub qr: Option<Qr>,
}

/// A QR code printed on a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qr {
    /// What the code holds: the progress page's address with the case number filled in.
    pub url: String,
    /// The words under the code.
    pub caption: String,
}

/// The progress page's address for case `number` at a station whose public address is
/// `public_url` (`https://zwfw.example.cn` or with a trailing slash). The check (the last four of
/// the phone or ID number) is never part of it: the applicant types it.
pub fn progress_url(public_url: &str, number: &str) -> Option<String> {
    let base = public_url.trim().trim_end_matches('/');
    if base.is_empty() || number.is_empty() {
        return None;
    }
    let number: String = number
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Some(format!("{base}/query?number={number}"))
}

/// A date from milliseconds since the Unix epoch, in China time.
fn date_of(ms: i64) -> String {
    use chrono::TimeZone as _;
    yizhan_node::clock::china()
        .timestamp_millis_opt(ms)
        .single()
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

/// The text of a document for a case, issued by `station_name`, whose phone for questions
/// about progress (本站咨询电话) is `station_phone` when its administrator set one.
pub fn document(
    paper: Paper,
    view: &CaseView,
    station_name: &str,
    station_phone: Option<&str>,
    t: &Tr,
) -> Document {
    let doc = &view.doc;
    let item = &doc.item;
    let sep = t.doc_sep;
    let mut lines = Vec::new();
    let limits = format!(
        "{}{sep}{} {}，{}{sep}{} {}",
        t.doc_promised_limit,
        item.promised_days,
        t.working_days,
        t.doc_legal_limit,
        item.legal_days,
        t.working_days
    );
    // Each material with where it stands (received, still missing, asked for, promised under
    // 容缺受理, supplied): the node's one answer, as the detail view shows it (issue #13).
    let materials = |lines: &mut Vec<String>| {
        use yizhan_node::case::materials::{MaterialState as M, materials};
        for (i, line) in materials(doc, &view.state).into_iter().enumerate() {
            let mark = match line.state {
                M::Received => t.doc_received,
                M::Supplied(_) => t.doc_supplied,
                M::Promised(_) => t.doc_gap,
                M::Requested => t.doc_missing,
                M::Missing => t.doc_not_received,
                M::NotRecorded => "",
            };
            lines.push(format!("  {}. {}{mark}", i + 1, line.name));
        }
    };
    let title = match paper {
        Paper::Receipt => {
            lines.push(format!("{}{sep}{}", t.doc_number, doc.number));
            lines.push(format!("{}{sep}{} {}", t.doc_item, item.code, item.name));
            lines.push(format!("{}{sep}{}", t.doc_applicant, doc.applicant.name));
            if !doc.applicant.id_number.is_empty() {
                lines.push(format!(
                    "{}{sep}{}",
                    t.doc_id_number,
                    mask_id_number(&doc.applicant.id_number)
                ));
            }
            if !doc.applicant.phone.is_empty() {
                lines.push(format!(
                    "{}{sep}{}",
                    t.doc_phone,
                    yizhan_node::idcard::mask_phone(&doc.applicant.phone)
                ));
            }
            lines.push(format!(
                "{}{sep}{}",
                t.doc_taken_in,
                date_of(doc.created_at)
            ));
            lines.push(format!(
                "{}{sep}{}",
                t.doc_accepted,
                view.deadline
                    .accepted_on
                    .map_or_else(|| t.doc_not_accepted.to_string(), |d| d.to_string())
            ));
            match item.kind.as_str() {
                "instant" => lines.push(t.doc_instant.to_string()),
                "consult" => lines.push(t.doc_consult.to_string()),
                _ => {
                    let deadline = &view.deadline;
                    if let Some(d) = deadline.due_on {
                        let mark = if deadline.due_provisional {
                            t.provisional_mark
                        } else {
                            ""
                        };
                        lines.push(format!("{}{sep}{d}{mark}", t.doc_due));
                    }
                    lines.push(limits);
                    // The applicant is told that a date counted into a year whose holidays are
                    // not entered yet may still move.
                    if deadline.due_provisional {
                        lines.push(t.doc_provisional_note(deadline.uncovered_year));
                    }
                }
            }
            lines.push(format!("{}{sep}", t.doc_materials));
            materials(&mut lines);
            if let Some(d) = &doc.delegation {
                lines.push(format!("{}{sep}{}", t.doc_agent, d.agent));
                // The agent's work phone, so that the villager can ask about the case.
                if let Some(phone) = d.agent_phone.as_ref().filter(|p| !p.is_empty()) {
                    lines.push(format!("{}{sep}{phone}", t.doc_agent_phone));
                }
                // The letter of entrustment is said once: among the materials when the item
                // lists it.
                if !item
                    .materials
                    .iter()
                    .any(|m| yizhan_node::case::materials::is_entrustment(m))
                {
                    lines.push(format!(
                        "{}{sep}{}",
                        t.doc_entrustment,
                        if d.entrustment { t.yes } else { t.no }
                    ));
                }
                if !d.handed_over.is_empty() {
                    lines.push(format!(
                        "{}{sep}{}",
                        t.doc_handed_over,
                        d.handed_over.join("、")
                    ));
                }
            }
            for r in &view.state.originals_returned {
                lines.push(format!(
                    "{}{sep}{}（{}）",
                    t.doc_originals_returned,
                    r.items.join("、"),
                    date_of(r.at)
                ));
            }
            // How to ask about progress: the station's phone and the number to quote (#13).
            if let Some(phone) = station_phone.map(str::trim).filter(|p| !p.is_empty()) {
                lines.push(format!(
                    "{}{sep}{phone}（{} {}）",
                    t.doc_station_phone, t.doc_quote_number, doc.number
                ));
            }
            lines.push(String::new());
            lines.push(t.doc_receipt_note.to_string());
            // A delegated case is signed by both sides, and the hand-over of materials too; a
            // case taken in at the window by the applicant and the clerk.
            lines.push(String::new());
            if doc.delegation.is_some() {
                lines.push(t.doc_sign_applicant.to_string());
                lines.push(t.doc_sign_agent.to_string());
                lines.push(t.doc_sign_handover.to_string());
            } else {
                lines.push(t.doc_sign_applicant_self.to_string());
                lines.push(t.doc_sign_clerk.to_string());
            }
            // Before acceptance this is an acknowledgement of receipt (收件回执), not a 受理回执.
            if view.state.accepted_at.is_some() {
                t.doc_receipt_title
            } else {
                t.doc_intake_receipt_title
            }
        }
        Paper::Notice => {
            lines.push(format!("{}{sep}{}", t.doc_applicant, doc.applicant.name));
            lines.push(format!("{}{sep}{}", t.doc_number, doc.number));
            lines.push(format!("{}{sep}{} {}", t.doc_item, item.code, item.name));
            lines.push(t.doc_notice_intro.to_string());
            materials(&mut lines);
            let needed: Vec<&str> = view
                .state
                .missing
                .iter()
                .chain(view.state.gaps.iter())
                .map(String::as_str)
                .collect();
            lines.push(format!(
                "{}{sep}{}",
                t.doc_still_needed,
                if needed.is_empty() {
                    t.doc_none.to_string()
                } else {
                    needed.join("、")
                }
            ));
            if !item.departments.is_empty() {
                lines.push(format!(
                    "{}{sep}{}",
                    t.doc_depts,
                    item.departments.join("、")
                ));
            }
            match item.kind.as_str() {
                "instant" => lines.push(t.doc_instant.to_string()),
                "consult" => lines.push(t.doc_consult.to_string()),
                _ => lines.push(limits),
            }
            lines.push(String::new());
            lines.push(t.doc_notice_note.to_string());
            t.doc_notice_title
        }
    };
    lines.push(String::new());
    lines.push(format!("{}{sep}{station_name}", t.doc_issuer));
    lines.push(format!("{}{sep}{}", t.doc_date, view.today));
    Document {
        issuer: station_name.to_string(),
        title: title.to_string(),
        lines,
        qr: None,
    }
}

/// Finds the font, renders the document and writes it to `path`, on its own thread. The answer
/// is the path written or the error, already in the window's language.
pub fn write_in_background(
    doc: Document,
    path: String,
    t: &'static Tr,
) -> Receiver<Result<String, String>> {
    super::task::in_background("yizhan-pdf", move || match find_cjk_font() {
        None => Err(format!("{} {}", t.pdf_no_font, super::fonts::INSTALL_HINT)),
        Some(font) => render(&doc, &font)
            .map_err(|e| format!("{}: {e}", t.pdf_font_unusable))
            .and_then(|bytes| {
                // The default path is in a folder of its own that may not exist yet.
                if let Some(dir) = std::path::Path::new(&path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{path}: {e}"))?;
                }
                std::fs::write(&path, bytes)
                    .map(|()| path.clone())
                    .map_err(|e| format!("{path}: {e}"))
            }),
    })
}
