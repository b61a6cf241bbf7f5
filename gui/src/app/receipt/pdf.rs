//! Layout and drawing: the document's lines wrapped by the font's advances onto A4 pages, the
//! QR code drawn as filled squares, and the PDF written with the font subset and embedded.

use super::Document;
use crate::app::fonts::FoundFont;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish as _, Name, Pdf, Rect, Ref, Str};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, GlyphId, MetadataProvider as _, Tag};
use std::collections::BTreeMap;
use subsetter::GlyphRemapper;

pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
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
