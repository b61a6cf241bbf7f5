//! Small widgets shared by the panels: supervision lights, labelled text fields, time formats.

use super::i18n::Tr;
use eframe::egui;
use yizhan_node::case::Light;

/// The color of a supervision light on a theme. Each palette keeps every light at WCAG AA
/// contrast against the panels of its theme (at least 4.5:1, so that red and yellow also serve
/// as text colors; test `every_light_color_has_aa_contrast_on_both_themes`): one color cannot do
/// that on both a near-black and a near-white panel, and the dark maroon of 严重超期 vanished on
/// the dark theme (issue #13). 严重超期 is maroon on the light theme and purple on the dark one,
/// as air-quality scales show their worst levels, and is told from red by its ring and its word.
pub fn light_color(light: Light, visuals: &egui::Visuals) -> egui::Color32 {
    use egui::Color32 as C;
    if visuals.dark_mode {
        match light {
            Light::Green => C::from_rgb(63, 185, 80),
            Light::Yellow => C::from_rgb(210, 153, 34),
            Light::Red => C::from_rgb(248, 81, 73),
            Light::Severe => C::from_rgb(188, 140, 255),
        }
    } else {
        match light {
            Light::Green => C::from_rgb(26, 127, 55),
            Light::Yellow => C::from_rgb(154, 103, 0),
            Light::Red => C::from_rgb(209, 36, 47),
            Light::Severe => C::from_rgb(128, 0, 64),
        }
    }
}

/// A colored dot for a light (a hollow ring when there is none), named for screen readers.
pub fn light_dot(ui: &mut egui::Ui, light: Option<Light>, t: &Tr) -> egui::Response {
    let size = ui.spacing().interact_size.y * 0.6;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    let center = rect.center();
    let radius = size * 0.45;
    match light {
        Some(l) => {
            ui.painter()
                .circle_filled(center, radius, light_color(l, ui.visuals()));
            if l == Light::Severe {
                // Severe has a ring in the text color, so that it is told from red without
                // color, on either theme.
                ui.painter().circle_stroke(
                    center,
                    radius,
                    egui::Stroke::new(1.5, ui.visuals().strong_text_color()),
                );
            }
        }
        None => {
            ui.painter().circle_stroke(
                center,
                radius * 0.8,
                egui::Stroke::new(1.0, ui.visuals().weak_text_color()),
            );
        }
    }
    let name = light.map_or(t.no_light, |l| t.light(l)).to_string();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &name));
    response.on_hover_text(light.map_or(t.no_light, |l| t.light(l)))
}

/// A light's dot with its word beside it (绿灯, 黄灯, 红灯, 严重超期), for rows where the dot
/// would otherwise stand alone: the word is read without telling colors apart (issue #13). No
/// light draws the hollow ring alone.
pub fn light_tag(ui: &mut egui::Ui, light: Option<Light>, t: &Tr) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 3.0;
        light_dot(ui, light, t);
        if let Some(l) = light {
            ui.label(t.light(l));
        }
    });
}

/// A label and a one-line text field, the field named by the label (for screen readers and
/// tests).
pub fn field(ui: &mut egui::Ui, label: &str, value: &mut String, width: f32) -> egui::Response {
    let l = ui.label(label);
    // In a grid a cell offers the width its column had in the last frame, and a text field
    // takes no more than it is offered: an empty field then stayed as narrow as on the first
    // frame (the sync settings' addresses, about 40 px). The minimum size breaks that loop.
    ui.add(
        egui::TextEdit::singleline(value)
            .desired_width(width)
            .min_size(egui::vec2(width, 0.0)),
    )
    .labelled_by(l.id)
}

/// A label and a multi-line text field.
pub fn field_multiline(ui: &mut egui::Ui, label: &str, value: &mut String) -> egui::Response {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::multiline(value)
            .desired_rows(2)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(l.id)
}

/// Milliseconds since the Unix epoch as China time, `YYYY-MM-DD HH:MM`.
pub fn time(ms: i64) -> String {
    use chrono::TimeZone as _;
    yizhan_node::clock::china()
        .timestamp_millis_opt(ms)
        .single()
        .map_or_else(
            || ms.to_string(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
}

/// An error line in the error color.
pub fn error_line(ui: &mut egui::Ui, text: &str) {
    ui.colored_label(ui.visuals().error_fg_color, text);
}

/// The outcome of an editor's last action: what it did, or why it failed in the error color,
/// wrapped (a refused catalog or calendar lists its problems); nothing before the first action.
pub fn outcome_line<T>(
    ui: &mut egui::Ui,
    outcome: Option<&Result<T, String>>,
    done: impl FnOnce(&T) -> String,
) {
    match outcome {
        Some(Ok(v)) => {
            ui.label(done(v));
        }
        Some(Err(e)) => {
            ui.add(
                egui::Label::new(egui::RichText::new(e).color(ui.visuals().error_fg_color)).wrap(),
            );
        }
        None => {}
    }
}

/// How long ago `ms` was, from `now_ms`, in a clerk's words ("刚刚", "3 分钟前"); older than a
/// day, the date and time.
pub fn ago(now_ms: i64, ms: i64, t: &Tr) -> String {
    let secs = (now_ms - ms).max(0) / 1000;
    match secs {
        0..10 => t.just_now.to_string(),
        10..60 => format!("{secs} {}", t.secs_ago),
        60..3600 => format!("{} {}", secs / 60, t.mins_ago),
        3600..86_400 => format!("{} {}", secs / 3600, t.hours_ago),
        _ => time(ms),
    }
}

/// A byte count for people: B, KB, MB.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// `text` as a QR code of at most `size` points square, black on white with a quiet zone (a
/// phone photographs it from the screen). Nothing is drawn when the text is too long for a QR
/// code.
pub fn qr(ui: &mut egui::Ui, text: &str, size: f32) -> Option<egui::Response> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L).ok()?;
    let n = code.width();
    let colors = code.to_colors();
    // Four modules of quiet zone on each side, as the standard asks.
    let total = n + 8;
    let module = (size / total as f32).floor().max(1.0);
    let side = module * total as f32;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, egui::Color32::WHITE);
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = ((i % n + 4) as f32, (i / n + 4) as f32);
            let min = rect.min + egui::vec2(x * module, y * module);
            painter.rect_filled(
                egui::Rect::from_min_size(min, egui::vec2(module, module)),
                0.0,
                egui::Color32::BLACK,
            );
        }
    }
    Some(response)
}

/// A date as a clerk types it: `2026-12-06`, `2026-12-6`, `2026/12/06`, `2026.12.6` or
/// `2026年12月6日`; `None` for anything else.
pub fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    let s = s.trim().trim_end_matches('日');
    let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月']).collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    let num = |p: &str| {
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let year = i32::try_from(num(y)?).ok().filter(|y| *y >= 1900)?;
    chrono::NaiveDate::from_ymd_opt(year, num(m)?, num(d)?)
}

/// The list on the left of the screens that pick there and edit on the right (intake, the
/// catalog and calendar editors): resizable, `width` wide at first and never under `min`.
pub fn side_list(id: &str, width: f32, min: f32) -> egui::Panel {
    egui::Panel::left(id)
        .resizable(true)
        .default_size(width)
        .min_size(min)
}

/// The right-hand side of those screens: the rest of the space, scrolling vertically.
pub fn scrolling_form(ui: &mut egui::Ui, id: &str, add: impl FnOnce(&mut egui::Ui)) {
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical().id_salt(id).show(ui, add);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG 2 relative luminance of an sRGB color.
    fn luminance(c: egui::Color32) -> f64 {
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }

    /// WCAG 2 contrast ratio of two colors (1 to 21).
    fn contrast(a: egui::Color32, b: egui::Color32) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// A premultiplied color drawn over an opaque one.
    fn over(top: egui::Color32, bottom: egui::Color32) -> egui::Color32 {
        let keep = 1.0 - f32::from(top.a()) / 255.0;
        let mix = |t: u8, b: u8| (f32::from(t) + f32::from(b) * keep).round().min(255.0) as u8;
        egui::Color32::from_rgb(
            mix(top.r(), bottom.r()),
            mix(top.g(), bottom.g()),
            mix(top.b(), bottom.b()),
        )
    }

    /// Issue #13: every light's color reaches WCAG AA against the backgrounds it is drawn on
    /// (the panel, windows, and striped rows) on both themes: 3:1 is the minimum for a
    /// graphical object; 4.5:1 is asked because red and yellow also color text.
    #[test]
    fn every_light_color_has_aa_contrast_on_both_themes() {
        assert!((contrast(egui::Color32::BLACK, egui::Color32::WHITE) - 21.0).abs() < 1e-9);
        let mut bad = Vec::new();
        for (theme, v) in [
            ("dark", egui::Visuals::dark()),
            ("light", egui::Visuals::light()),
        ] {
            for (bg_name, bg) in [
                ("panel_fill", v.panel_fill),
                ("window_fill", v.window_fill),
                // Striped rows: the faint color is a premultiplied overlay on the panel.
                ("striped row", over(v.faint_bg_color, v.panel_fill)),
            ] {
                for l in [Light::Green, Light::Yellow, Light::Red, Light::Severe] {
                    let c = light_color(l, &v);
                    let ratio = contrast(c, bg);
                    if ratio < 4.5 {
                        bad.push(format!(
                            "{l:?} {c:?} on {theme} {bg_name} {bg:?}: {ratio:.2}"
                        ));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "below 4.5:1:\n{}", bad.join("\n"));
    }

    #[test]
    fn dates_are_read_as_clerks_type_them() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 6);
        for s in [
            "2026-12-06",
            "2026-12-6",
            "2026/12/06",
            "2026/12/6",
            " 2026.12.06 ",
            "2026年12月6日",
        ] {
            assert_eq!(parse_date(s), day, "{s}");
        }
        for s in [
            "",
            "2026-13-01",
            "2026-02-30",
            "06/12/2026",
            "2026-12",
            "abc",
            "26-12-06",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }
}
