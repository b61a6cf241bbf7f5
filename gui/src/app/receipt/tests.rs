//! The documents' text, and the PDFs read back: their text through the ToUnicode map, their
//! QR code rasterised and decoded.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::pdf::{PAGE_H, PAGE_W};
use super::*;
use crate::app::fonts::{FoundFont, INSTALL_HINT};
use crate::app::i18n::Lang;
use std::collections::BTreeMap;
use yizhan_node::account::NewAccount;
use yizhan_node::case::Action;
use yizhan_node::role::Role;
use yizhan_node::{Clock, InitParams, NewCase, Node};

/// 2026-03-02T09:00:00+08:00, a Monday.
const NOW: i64 = 1_772_413_200_000;

/// A city station 测试市政务服务中心 (code C) in a new temporary directory, which lives as long
/// as the first value; its clock fixed at [`NOW`].
fn test_city() -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let node = city_at(dir.path(), NOW);
    (dir, node)
}

/// The same city with its clock fixed at `now`.
fn city_at(dir: &std::path::Path, now: i64) -> Node {
    Node::init(
        &dir.join("city"),
        Clock::Fixed(now),
        &InitParams::new("测试市", "C", "测试市政务服务中心"),
    )
    .unwrap()
}

/// The CJK font the PDFs embed, or `None` (said on stderr) on a machine without one. The
/// window's own tests need the font too; CI installs one (.ci/run).
fn cjk_font() -> Option<FoundFont> {
    let font = find_cjk_font();
    if font.is_none() {
        eprintln!("no CJK font on this machine: {INSTALL_HINT}");
    }
    font
}

/// A case of CT-001 for `applicant` taken in at `node`, with `new`'s other fields.
fn ct001(node: &mut Node, applicant: &str, new: NewCase) -> CaseView {
    node.new_case(&NewCase {
        item_code: "CT-001".into(),
        applicant_name: applicant.into(),
        ..new
    })
    .unwrap()
}

/// The intake of a case whose applicant gave `phone`.
fn with_phone(phone: &str) -> NewCase {
    NewCase {
        phone: phone.into(),
        ..NewCase::default()
    }
}

#[test]
fn receipt_and_notice_of_a_real_case_are_pdfs_with_the_font_embedded() {
    let Some(font) = cjk_font() else {
        return;
    };
    let (dir, mut node) = test_city();
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
    let Some(font) = cjk_font() else {
        return;
    };
    let (_dir, mut city) = test_city();
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
    let case = ct001(
        &mut city,
        "王秀英",
        NewCase {
            delegated: true,
            entrustment: true,
            handed_over: vec!["身份证原件".into()],
            ..NewCase::default()
        },
    );
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
    let (_dir, mut node) = test_city();
    let case = ct001(&mut node, "张三", NewCase::default());
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
    let Some(font) = cjk_font() else {
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
    let (_dir, mut node) = test_city();
    let case = ct001(&mut node, "张三", with_phone("0351-8123456"));
    let receipt = document(Paper::Receipt, &case, "站", None, Lang::Zh.tr());
    assert!(receipt.lines.iter().any(|l| l.contains("*****3456")));
    assert!(!receipt.lines.iter().any(|l| l.contains("8123456")));
}

/// Issue #13: before acceptance the receipt is a 收件回执, after it a 受理回执; either lists
/// each material as received or missing and has the applicant's and the clerk's signature
/// lines.
#[test]
fn the_receipt_is_titled_by_acceptance_and_lists_received_and_missing_materials() {
    let (_dir, mut node) = test_city();
    let materials = node.catalog().get("CT-001").unwrap().materials.clone();
    let case = ct001(
        &mut node,
        "张三",
        NewCase {
            handed_over: materials[..2].to_vec(),
            ..NewCase::default()
        },
    );
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
    let mut node = city_at(dir.path(), DECEMBER);
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
    let Some(font) = cjk_font() else {
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

    let (_dir, mut node) = test_city();
    let case = ct001(&mut node, "王秀英", with_phone("13800138000"));
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
