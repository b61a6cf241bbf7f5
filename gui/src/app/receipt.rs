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

use super::fonts::{FoundFont, find_cjk_font};
use super::i18n::Tr;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish as _, Name, Pdf, Rect, Ref, Str};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, GlyphId, MetadataProvider as _, Tag};
use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use subsetter::GlyphRemapper;
use yizhan_node::CaseView;
use yizhan_node::idcard::mask_id_number;

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

/// A4 in points, and the layout's measures.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 64.0;
const BODY: f32 = 11.5;
const LEADING: f32 = 20.0;
const TITLE: f32 = 20.0;
const ISSUER: f32 = 13.0;
/// The QR code's side and its caption's size, in points (about 3 cm: a phone reads it from the
/// paper at arm's length).
const QR_SIDE: f32 = 84.0;
const CAPTION: f32 = 8.0;

/// The QR code's bottom-left corner (PDF points), in the top right corner of the page, beside
/// the title and above the body.
fn qr_origin() -> (f32, f32) {
    (
        PAGE_W - MARGIN / 2.0 - QR_SIDE,
        PAGE_H - MARGIN / 2.0 - QR_SIDE,
    )
}

/// The dark modules of a QR code of `text`, as (column, row) with the code's width in
/// modules; `None` when the text does not fit a QR code.
fn qr_modules(text: &str) -> Option<(usize, Vec<(usize, usize)>)> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let n = code.width();
    let dark = code
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .map(|(i, _)| (i % n, i / n))
        .collect();
    Some((n, dark))
}

/// Draws the QR code of `text` as filled squares (vector: sharp at any printer's resolution),
/// with a quiet zone of four modules inside `QR_SIDE`.
fn draw_qr(content: &mut Content, text: &str) {
    let Some((n, dark)) = qr_modules(text) else {
        return;
    };
    let (x0, y0) = qr_origin();
    let module = QR_SIDE / (n + 8) as f32;
    content.set_fill_rgb(0.0, 0.0, 0.0);
    for (col, row) in dark {
        let x = x0 + (col + 4) as f32 * module;
        // PDF's y grows upwards; the code's rows go down from its top.
        let y = y0 + QR_SIDE - (row + 5) as f32 * module;
        content.rect(x, y, module, module);
    }
    content.fill_nonzero();
}

/// One run of text placed on a page.
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    text: String,
}

/// The font as the layout needs it: glyphs and advances (in 1/1000 em, the PDF's glyph space).
struct Metrics<'a> {
    font: FontRef<'a>,
    units_per_em: f32,
}

impl Metrics<'_> {
    fn glyph(&self, c: char) -> u16 {
        self.font
            .charmap()
            .map(c)
            .and_then(|g| u16::try_from(g.to_u32()).ok())
            .unwrap_or(0)
    }

    fn advance(&self, glyph: u16) -> f32 {
        self.font
            .glyph_metrics(Size::unscaled(), LocationRef::default())
            .advance_width(GlyphId::new(u32::from(glyph)))
            .unwrap_or(0.0)
            * 1000.0
            / self.units_per_em
    }

    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars().map(|c| self.advance(self.glyph(c))).sum::<f32>() * size / 1000.0
    }

    /// Splits a paragraph into lines no wider than `max`, between any two characters (Chinese
    /// text has no spaces to break at; a Latin word split across lines is acceptable here).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut out = Vec::new();
        let mut line = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            let cw = self.advance(self.glyph(c)) * size / 1000.0;
            if w + cw > max && !line.is_empty() {
                out.push(std::mem::take(&mut line));
                w = 0.0;
            }
            line.push(c);
            w += cw;
        }
        out.push(line);
        out
    }
}

/// Lays a document out onto pages.
fn layout(doc: &Document, m: &Metrics<'_>) -> Vec<Vec<Placed>> {
    let mut pages = vec![Vec::new()];
    let mut y = PAGE_H - MARGIN;
    let centered = |text: &str, size: f32, y: f32| Placed {
        x: ((PAGE_W - m.width(text, size)) / 2.0).max(MARGIN),
        y,
        size,
        text: text.to_string(),
    };
    y -= ISSUER;
    if let Some(page) = pages.last_mut() {
        page.push(centered(&doc.issuer, ISSUER, y));
        if let Some(qr) = &doc.qr {
            let (x, qy) = qr_origin();
            page.push(Placed {
                x: (x + (QR_SIDE - m.width(&qr.caption, CAPTION)) / 2.0).max(MARGIN),
                y: qy - CAPTION - 2.0,
                size: CAPTION,
                text: qr.caption.clone(),
            });
        }
    }
    y -= TITLE * 1.8;
    if let Some(page) = pages.last_mut() {
        page.push(centered(&doc.title, TITLE, y));
    }
    y -= LEADING * 1.5;
    for para in &doc.lines {
        for line in m.wrap(para, BODY, PAGE_W - 2.0 * MARGIN) {
            if y < MARGIN {
                pages.push(Vec::new());
                y = PAGE_H - MARGIN - BODY;
            }
            if let Some(page) = pages.last_mut() {
                page.push(Placed {
                    x: MARGIN,
                    y,
                    size: BODY,
                    text: line,
                });
            }
            y -= LEADING;
        }
    }
    pages
}

/// Renders a document as PDF with `font` embedded (subset). The error says what went wrong with
/// the font, for the window to show after its own words.
pub fn render(doc: &Document, font: &FoundFont) -> Result<Vec<u8>, String> {
    let face = FontRef::from_index(&font.bytes, font.index).map_err(|e| e.to_string())?;
    let fm = face.metrics(Size::unscaled(), LocationRef::default());
    let m = Metrics {
        font: face.clone(),
        units_per_em: f32::from(fm.units_per_em.max(1)),
    };
    let pages = layout(doc, &m);

    // Every glyph used, numbered in order of first use: the subset's glyph ids, which are also
    // the CIDs written in the content (CIDToGIDMap Identity).
    let mut remapper = GlyphRemapper::new();
    let mut old_of_new: Vec<u16> = vec![0];
    let mut to_unicode: BTreeMap<u16, char> = BTreeMap::new();
    for placed in pages.iter().flatten() {
        for c in placed.text.chars() {
            let old = m.glyph(c);
            let new = remapper.remap(old);
            if usize::from(new) == old_of_new.len() {
                old_of_new.push(old);
            }
            to_unicode.entry(new).or_insert(c);
        }
    }
    let subset =
        subsetter::subset(&font.bytes, font.index, &remapper).map_err(|e| format!("{e:?}"))?;
    let cff = face.table_data(Tag::new(b"CFF ")).is_some();

    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let type0_id = Ref::new(3);
    let cid_id = Ref::new(4);
    let descriptor_id = Ref::new(5);
    let file_id = Ref::new(6);
    let cmap_id = Ref::new(7);
    let first_page = 10;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i32::try_from(i).unwrap_or(i32::MAX / 4)))
        .collect();
    let font_name = Name(b"YZAAAA+YizhanCJK");

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    for (placed, page_id) in pages.iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree_id);
        page.contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), type0_id);
        page.finish();
        let mut content = Content::new();
        if let (Some(qr), true) = (&doc.qr, page_id.get() == first_page) {
            draw_qr(&mut content, &qr.url);
        }
        for p in placed {
            let glyphs: Vec<u8> = p
                .text
                .chars()
                .flat_map(|c| remapper.get(m.glyph(c)).unwrap_or(0).to_be_bytes())
                .collect();
            content.begin_text();
            content.set_font(Name(b"F1"), p.size);
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, p.x, p.y]);
            content.show(Str(&glyphs));
            content.end_text();
        }
        pdf.stream(content_id, &content.finish());
    }

    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(type0_id)
        .base_font(font_name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(cmap_id);
    let mut cid = pdf.cid_font(cid_id);
    cid.subtype(if cff {
        CidFontType::Type0
    } else {
        CidFontType::Type2
    })
    .base_font(font_name)
    .system_info(system_info)
    .font_descriptor(descriptor_id)
    .default_width(1000.0);
    if !cff {
        cid.cid_to_gid_map_predefined(Name(b"Identity"));
    }
    cid.widths()
        .consecutive(0, old_of_new.iter().map(|g| m.advance(*g)));
    cid.finish();

    let scale = 1000.0 / m.units_per_em;
    let bbox = fm
        .bounds
        .map_or(Rect::new(0.0, -200.0, 1000.0, 900.0), |b| {
            Rect::new(
                b.x_min * scale,
                b.y_min * scale,
                b.x_max * scale,
                b.y_max * scale,
            )
        });
    let mut descriptor = pdf.font_descriptor(descriptor_id);
    descriptor
        .name(font_name)
        .flags(FontFlags::SYMBOLIC)
        .bbox(bbox)
        .italic_angle(0.0)
        .ascent(fm.ascent * scale)
        .descent(fm.descent * scale)
        .cap_height(fm.cap_height.unwrap_or(fm.ascent) * scale)
        .stem_v(80.0);
    if cff {
        descriptor.font_file3(file_id);
    } else {
        descriptor.font_file2(file_id);
    }
    descriptor.finish();
    let mut file = pdf.stream(file_id, &subset);
    if cff {
        file.pair(Name(b"Subtype"), Name(b"OpenType"));
    }
    file.finish();

    let mut cmap = UnicodeCmap::new(Name(b"Yizhan-UTF16"), system_info);
    for (glyph, c) in &to_unicode {
        cmap.pair(*glyph, *c);
    }
    pdf.cmap(cmap_id, &cmap.finish());
    Ok(pdf.finish())
}

/// Finds the font, renders the document and writes it to `path`, on its own thread. The answer
/// is the path written or the error, already in the window's language.
pub fn write_in_background(
    doc: Document,
    path: String,
    t: &'static Tr,
) -> Receiver<Result<String, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("yizhan-pdf".into())
        .spawn(move || {
            let r = match find_cjk_font() {
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
            };
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        let (tx2, rx2) = std::sync::mpsc::channel();
        let _ = tx2.send(Err(e.to_string()));
        return rx2;
    }
    rx
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::app::i18n::Lang;
    use yizhan_node::account::NewAccount;
    use yizhan_node::case::Action;
    use yizhan_node::role::Role;
    use yizhan_node::{Clock, InitParams, NewCase, Node};

    /// 2026-03-02T09:00:00+08:00, a Monday.
    const NOW: i64 = 1_772_413_200_000;

    /// A city station 测试市政务服务中心 (code C) in `dir`, its clock fixed at [`NOW`].
    fn test_city(dir: &std::path::Path) -> Node {
        Node::init(
            &dir.join("city"),
            Clock::Fixed(NOW),
            &InitParams {
                network_name: "测试市".into(),
                code: "C".into(),
                name: "测试市政务服务中心".into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn receipt_and_notice_of_a_real_case_are_pdfs_with_the_font_embedded() {
        let Some(font) = find_cjk_font() else {
            // The window's own tests need the font too; CI installs one (.ci/run).
            eprintln!(
                "no CJK font on this machine: {}",
                super::super::fonts::INSTALL_HINT
            );
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut node = test_city(dir.path());
        let item = node
            .catalog()
            .items()
            .find(|i| i.materials.len() > 1 && i.kind.as_str() != "consult")
            .expect("an item with materials")
            .code
            .clone();
        let case = node
            .new_case(&NewCase {
                item_code: item,
                applicant_name: "张三".into(),
                id_number: "11010519491231002X".into(),
                phone: "13800138000".into(),
                operator: "窗口一号".into(),
                ..NewCase::default()
            })
            .unwrap();
        let _ = node.act(&case.doc.id, &Action::Accept, "窗口一号");
        let view = node.case(&case.doc.id).unwrap();

        let t = Lang::Zh.tr();
        for paper in [Paper::Receipt, Paper::Notice] {
            let doc = document(paper, &view, "测试市政务服务中心", None, t);
            assert!(doc.lines.iter().any(|l| l.contains(&view.doc.number)));
            assert!(doc.lines.iter().any(|l| l.contains("张三")));
            // In a folder that does not exist yet, as the default path may be.
            let path = dir.path().join("documents").join(format!("{paper:?}.pdf"));
            let rx = write_in_background(doc, path.display().to_string(), t);
            let written = rx.recv().unwrap().unwrap();
            assert_eq!(written, path.display().to_string());
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"%PDF"), "{paper:?}");
            // A subset of a few dozen glyphs: well above an empty page, far below the font.
            assert!(bytes.len() > 5_000, "{paper:?}: {} bytes", bytes.len());
            assert!(
                bytes.len() < font.bytes.len() / 4,
                "{paper:?}: {}",
                bytes.len()
            );
            assert!(bytes.ends_with(b"%%EOF") || bytes.ends_with(b"%%EOF\n"));
        }
        // The ID number and phone are masked on the receipt.
        let receipt = document(Paper::Receipt, &view, "站", None, t);
        assert!(
            receipt
                .lines
                .iter()
                .any(|l| l.contains("1101**********002X"))
        );
        assert!(!receipt.lines.iter().any(|l| l.contains("13800138000")));
    }

    /// The text a PDF written by [`render`] shows: each literal string of its content streams,
    /// its two-byte glyph ids mapped back to characters through the ToUnicode CMap. (Only this
    /// writer's output: uncompressed streams, `Tj` with literal strings.)
    fn pdf_text(pdf: &[u8]) -> String {
        let text = String::from_utf8_lossy(pdf);
        let mut cmap: BTreeMap<u16, char> = BTreeMap::new();
        // The CMap lists its pairs in blocks of at most 100.
        for block in text.split("beginbfchar").skip(1) {
            let block = block.split("endbfchar").next().unwrap_or_default();
            for line in block.lines() {
                let hex: Vec<&str> = line
                    .split(['<', '>', ' '])
                    .filter(|s| !s.is_empty())
                    .collect();
                if let [g, u] = hex[..]
                    && let (Ok(g), Ok(u)) = (u16::from_str_radix(g, 16), u32::from_str_radix(u, 16))
                    && let Some(c) = char::from_u32(u)
                {
                    cmap.insert(g, c);
                }
            }
        }
        // Each string shown with `Tj`: literal `(…)` (balanced parentheses, backslash escapes)
        // for ASCII bytes, hex `<…>` otherwise, as pdf-writer writes them.
        let shown = |at: usize| pdf[at..].trim_ascii_start().starts_with(b"Tj");
        let mut out = String::new();
        let mut i = 0;
        while i < pdf.len() {
            let mut bytes = Vec::new();
            let end;
            if pdf[i] == b'(' {
                let mut depth = 1;
                let mut j = i + 1;
                while j < pdf.len() && depth > 0 {
                    match pdf[j] {
                        b'\\' if j + 1 < pdf.len() => {
                            j += 1;
                            bytes.push(match pdf[j] {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 8,
                                b'f' => 12,
                                d @ b'0'..=b'7' => {
                                    let mut v = u32::from(d - b'0');
                                    while j + 1 < pdf.len() && (b'0'..=b'7').contains(&pdf[j + 1]) {
                                        j += 1;
                                        v = v * 8 + u32::from(pdf[j] - b'0');
                                    }
                                    u8::try_from(v & 0xff).unwrap_or(0)
                                }
                                other => other,
                            });
                        }
                        b'(' => {
                            depth += 1;
                            bytes.push(b'(');
                        }
                        b')' => {
                            depth -= 1;
                            if depth > 0 {
                                bytes.push(b')');
                            }
                        }
                        b => bytes.push(b),
                    }
                    j += 1;
                }
                end = j;
            } else if pdf[i] == b'<' && pdf.get(i + 1).is_some_and(u8::is_ascii_hexdigit) {
                let mut j = i + 1;
                let mut hex = Vec::new();
                while j < pdf.len() && pdf[j] != b'>' {
                    hex.push(pdf[j]);
                    j += 1;
                }
                for pair in hex.chunks_exact(2) {
                    if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(pair), 16) {
                        bytes.push(b);
                    }
                }
                end = j + 1;
            } else {
                i += 1;
                continue;
            }
            if shown(end) {
                for pair in bytes.chunks_exact(2) {
                    if let Some(c) = cmap.get(&u16::from_be_bytes([pair[0], pair[1]])) {
                        out.push(*c);
                    }
                }
                out.push('\n');
            }
            i = end;
        }
        out
    }

    /// Issue #12: a delegated case's receipt names the agent and their phone, and has the
    /// signature lines of the applicant, the agent and the hand-over — read from the PDF.
    #[test]
    fn a_delegated_receipt_shows_the_agent_and_the_signature_lines() {
        let Some(font) = find_cjk_font() else {
            eprintln!(
                "no CJK font on this machine: {}",
                super::super::fonts::INSTALL_HINT
            );
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut city = test_city(dir.path());
        let account = |city: &mut Node, login: &str, name: &str, role: Role| {
            city.add_account(
                &NewAccount {
                    login: login.into(),
                    name: name.into(),
                    phone: "0351-7654321".into(),
                    role: Some(role),
                    ..NewAccount::default()
                },
                Some("1234"),
            )
            .unwrap();
        };
        account(&mut city, "admin", "管理员", Role::Admin);
        city.sign_in("admin", "1234").unwrap();
        account(&mut city, "li", "李代办", Role::Agent);
        city.sign_in("li", "1234").unwrap();
        let case = city
            .new_case(&NewCase {
                item_code: "CT-001".into(),
                applicant_name: "王秀英".into(),
                delegated: true,
                entrustment: true,
                handed_over: vec!["身份证原件".into()],
                ..NewCase::default()
            })
            .unwrap();
        let doc = document(
            Paper::Receipt,
            &case,
            "测试市政务服务中心",
            None,
            Lang::Zh.tr(),
        );
        let pdf = render(&doc, &font).unwrap();
        let text = pdf_text(&pdf);
        for needle in [
            "李代办",
            "0351-7654321",
            "委托人（申请人）签字",
            "代办人签字",
            "交件人签字",
            "接收人签字",
            "王秀英",
        ] {
            assert!(
                text.contains(needle),
                "the receipt lacks {needle:?}:\n{text}"
            );
        }
    }

    /// Issue #13: the receipt tells the applicant how to ask about progress: the station's
    /// phone, set by its administrator, and the case number to quote. Without a phone set the
    /// line is left out rather than printed empty.
    #[test]
    fn the_receipt_prints_the_stations_phone_and_the_number_to_quote() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = test_city(dir.path());
        let case = node
            .new_case(&NewCase {
                item_code: "CT-001".into(),
                applicant_name: "张三".into(),
                ..NewCase::default()
            })
            .unwrap();
        let t = Lang::Zh.tr();
        let before = document(Paper::Receipt, &case, "站", node.station_phone("C"), t);
        assert!(!before.lines.iter().any(|l| l.contains("咨询电话")));
        node.set_station_phone("", Some("0351-1234567")).unwrap();
        let expected = format!("咨询电话：0351-1234567（请报办件编号 {}）", case.doc.number);
        let receipt = document(Paper::Receipt, &case, "站", node.station_phone("C"), t);
        assert!(
            receipt.lines.contains(&expected),
            "{expected:?} not in {:?}",
            receipt.lines
        );
        // A bare local number cannot be dialled from another county: refused.
        assert!(node.set_station_phone("", Some("1234567")).is_err());
        assert_eq!(
            node.station_phone("C"),
            Some("0351-1234567"),
            "a refused number changes nothing"
        );
        let Some(font) = find_cjk_font() else {
            eprintln!(
                "no CJK font on this machine: {}",
                super::super::fonts::INSTALL_HINT
            );
            return;
        };
        let text = pdf_text(&render(&receipt, &font).unwrap());
        assert!(
            text.contains("0351-1234567") && text.contains(&case.doc.number),
            "{text}"
        );
    }

    /// Issue #11: a short phone number is not printed in full (the receipt, the detail and the
    /// command line share `yizhan_node::idcard::mask_phone`).
    #[test]
    fn a_short_phone_number_is_masked_on_the_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = test_city(dir.path());
        let case = node
            .new_case(&NewCase {
                item_code: "CT-001".into(),
                applicant_name: "张三".into(),
                phone: "0351-8123456".into(),
                ..NewCase::default()
            })
            .unwrap();
        let receipt = document(Paper::Receipt, &case, "站", None, Lang::Zh.tr());
        assert!(receipt.lines.iter().any(|l| l.contains("*****3456")));
        assert!(!receipt.lines.iter().any(|l| l.contains("8123456")));
    }

    /// Issue #13: before acceptance the receipt is a 收件回执, after it a 受理回执; either lists
    /// each material as received or missing and has the applicant's and the clerk's signature
    /// lines.
    #[test]
    fn the_receipt_is_titled_by_acceptance_and_lists_received_and_missing_materials() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = test_city(dir.path());
        let materials = node.catalog().get("CT-001").unwrap().materials.clone();
        let case = node
            .new_case(&NewCase {
                item_code: "CT-001".into(),
                applicant_name: "张三".into(),
                handed_over: materials[..2].to_vec(),
                ..NewCase::default()
            })
            .unwrap();
        let t = Lang::Zh.tr();
        let receipt = document(Paper::Receipt, &case, "站", None, t);
        assert_eq!(receipt.title, "收件回执");
        let has = |d: &Document, s: &str| d.lines.iter().any(|l| l.contains(s));
        assert!(
            has(&receipt, &format!("{}（已收）", materials[0])),
            "{:?}",
            receipt.lines
        );
        assert!(
            has(&receipt, &format!("{}（尚缺）", materials[2])),
            "{:?}",
            receipt.lines
        );
        assert!(has(&receipt, "申请人签字") && has(&receipt, "收件人签字"));
        let accepted = node.act(&case.doc.id, &Action::Accept, "窗口一号").unwrap();
        assert_eq!(
            document(Paper::Receipt, &accepted, "站", None, t).title,
            "受理回执"
        );
    }

    /// Issue #10: a case accepted on 2026-12-28 with ten promised working days is due in 2027,
    /// a year the calendar does not cover yet; the receipt marks the date provisional and says
    /// why. A date that stays in 2026 carries no such mark.
    #[test]
    fn a_receipt_says_when_the_promised_date_is_provisional() {
        // 2026-12-28T09:00:00+08:00, a Monday.
        const DECEMBER: i64 = 1_798_419_600_000;
        let dir = tempfile::tempdir().unwrap();
        let mut node = Node::init(
            &dir.path().join("city"),
            Clock::Fixed(DECEMBER),
            &InitParams {
                network_name: "测试市".into(),
                code: "C".into(),
                name: "测试市政务服务中心".into(),
            },
        )
        .unwrap();
        let mut accepted = |item: &str| {
            let case = node
                .new_case(&NewCase {
                    item_code: item.into(),
                    applicant_name: "王秀兰".into(),
                    ..NewCase::default()
                })
                .unwrap();
            node.act(&case.doc.id, &Action::Accept, "窗口一号").unwrap()
        };
        // CT-005: ten promised working days; CT-001: one.
        let late = accepted("CT-005");
        let early = accepted("CT-001");
        for (lang, due, note) in [
            (
                Lang::Zh,
                "承诺办结日：2027-01-11（暂定）",
                "2027年法定节假日安排尚未录入",
            ),
            (
                Lang::En,
                "2027-01-11 (provisional)",
                "statutory holidays of 2027",
            ),
        ] {
            let t = lang.tr();
            let receipt = document(Paper::Receipt, &late, "测试市政务服务中心", None, t);
            assert!(
                receipt.lines.iter().any(|l| l.contains(due)),
                "{:?}",
                receipt.lines
            );
            assert!(
                receipt.lines.iter().any(|l| l.contains(note)),
                "{:?}",
                receipt.lines
            );
            let receipt = document(Paper::Receipt, &early, "测试市政务服务中心", None, t);
            assert!(
                !receipt
                    .lines
                    .iter()
                    .any(|l| l.contains(t.provisional_mark) || l.contains("2027")),
                "{:?}",
                receipt.lines
            );
        }
    }

    /// The filled squares a PDF written by [`render`] draws (`x y w h re`), in points.
    fn pdf_squares(pdf: &[u8]) -> Vec<[f32; 4]> {
        let text = String::from_utf8_lossy(pdf);
        let mut out = Vec::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [x, y, w, h, "re"] = words[..]
                && let (Ok(x), Ok(y), Ok(w), Ok(h)) = (x.parse(), y.parse(), w.parse(), h.parse())
            {
                out.push([x, y, w, h]);
            }
        }
        out
    }

    /// Issue #15: where the station has a public address, the receipt prints a QR code of the
    /// progress page with the case number filled in (and no check); read back from the PDF's
    /// drawing, rasterised and decoded. Without an address there is no code.
    #[test]
    fn the_receipt_prints_a_qr_code_of_the_progress_page() {
        let Some(font) = find_cjk_font() else {
            eprintln!(
                "no CJK font on this machine: {}",
                super::super::fonts::INSTALL_HINT
            );
            return;
        };
        assert_eq!(
            progress_url("https://zwfw.example.cn/ ", "C-261206-1-001").as_deref(),
            Some("https://zwfw.example.cn/query?number=C-261206-1-001")
        );
        assert_eq!(progress_url("  ", "C-1"), None);
        assert_eq!(
            progress_url("http://h", "a b&c").as_deref(),
            Some("http://h/query?number=a%20b%26c")
        );

        let dir = tempfile::tempdir().unwrap();
        let mut node = test_city(dir.path());
        let case = node
            .new_case(&NewCase {
                item_code: "CT-001".into(),
                applicant_name: "王秀英".into(),
                phone: "13800138000".into(),
                ..NewCase::default()
            })
            .unwrap();
        let t = Lang::Zh.tr();
        let mut doc = document(Paper::Receipt, &case, "测试市政务服务中心", None, t);
        assert!(pdf_squares(&render(&doc, &font).unwrap()).is_empty());

        // The station's public address: anything but an http(s) URL is refused and leaves
        // what was set.
        node.set_public_url(Some("https://zwfw.example.cn/"))
            .unwrap();
        let refused = node.set_public_url(Some("zwfw.example.cn")).unwrap_err();
        assert!(refused.to_string().contains("public address"), "{refused}");
        let public = node.public_url().unwrap().expect("the address set before");
        assert_eq!(public, "https://zwfw.example.cn");
        let url = progress_url(&public, &case.doc.number).unwrap();
        doc.qr = Some(Qr {
            url: url.clone(),
            caption: t.doc_qr_caption.to_string(),
        });
        let pdf = render(&doc, &font).unwrap();
        assert!(pdf_text(&pdf).contains("扫码查询办理进度"));
        let squares = pdf_squares(&pdf);
        assert!(squares.len() > 100, "{} squares", squares.len());
        // Rasterise the page's squares at 8 pixels per point, white elsewhere, and decode.
        let scale = 8.0_f32;
        let (x0, y0) = squares
            .iter()
            .fold((f32::MAX, f32::MAX), |(a, b), s| (a.min(s[0]), b.min(s[1])));
        let (x1, y1) = squares.iter().fold((f32::MIN, f32::MIN), |(a, b), s| {
            (a.max(s[0] + s[2]), b.max(s[1] + s[3]))
        });
        let margin = 8.0;
        let w = ((x1 - x0 + 2.0 * margin) * scale).ceil() as usize;
        let h = ((y1 - y0 + 2.0 * margin) * scale).ceil() as usize;
        let mut pixels = vec![255u8; w * h];
        for [x, y, sw, sh] in &squares {
            let px0 = ((x - x0 + margin) * scale).round() as usize;
            let px1 = ((x + sw - x0 + margin) * scale).round() as usize;
            // PDF's y grows upwards, the image's downwards.
            let py0 = ((y1 - (y + sh) + margin) * scale).round() as usize;
            let py1 = ((y1 - y + margin) * scale).round() as usize;
            for py in py0..py1.min(h) {
                for px in px0..px1.min(w) {
                    pixels[py * w + px] = 0;
                }
            }
        }
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code on the receipt");
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, url);
        assert!(
            !content.contains("8000"),
            "the check is never in the address"
        );
        // The code sits on the first page, clear of the body text's left column.
        assert!(x0 > PAGE_W / 2.0 && y0 > PAGE_H / 2.0);
    }
}
