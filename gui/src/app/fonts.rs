//! Finding a CJK font on the system and installing it into egui.
//!
//! egui's built-in fonts have no Chinese glyphs, and shipping a CJK font would add megabytes to
//! the binary, so the window looks for one that the system already has: Noto Sans CJK, Source Han
//! Sans, WenQuanYi Micro Hei / Zen Hei, Microsoft YaHei, PingFang, Droid Sans Fallback. The search
//! and the read (several megabytes) run on a background thread so that the first frame is not held
//! up by the disk; the window shows a spinner until the answer arrives, then installs the font as a
//! fallback after egui's own Latin font. When nothing is found, the window says which package to
//! install ([`INSTALL_HINT`]).

use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

/// What to install when no CJK font is found (shown in the window in both languages).
pub const INSTALL_HINT: &str =
    "Debian/Ubuntu: apt-get install fonts-noto-cjk (or fonts-wqy-microhei)";

/// Candidate font files, best first: file name (lower case) and the face to use in a collection.
/// In the Noto / Source Han collections the faces are ordered JP, KR, SC, TC, HK: index 2 is
/// Simplified Chinese, whose glyph shapes are the ones mainland readers expect.
const CANDIDATES: &[(&str, u32)] = &[
    ("notosanscjk-regular.ttc", 2),
    ("notosanscjksc-regular.otf", 0),
    ("notosanssc-regular.otf", 0),
    ("notosanssc-regular.ttf", 0),
    ("notosanscjk-medium.ttc", 2),
    ("sourcehansans-regular.ttc", 2),
    ("sourcehanssc-regular.otf", 0),
    ("sourcehansanssc-regular.otf", 0),
    ("sourcehansanscn-regular.otf", 0),
    ("wqy-microhei.ttc", 0),
    ("wqy-zenhei.ttc", 0),
    ("msyh.ttc", 0),
    ("msyh.ttf", 0),
    ("pingfang.ttc", 0),
    ("droidsansfallbackfull.ttf", 0),
    ("droidsansfallback.ttf", 0),
    ("simsun.ttc", 0),
];

/// Directories searched (recursively, a few levels deep).
fn font_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        "/usr/share/fonts/opentype",
        "/usr/share/fonts/truetype",
        "/System/Library/Fonts",
        "/System/Library/AssetsV2",
        "/Library/Fonts",
        "C:\\Windows\\Fonts",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        dirs.push(home.join(".local/share/fonts"));
        dirs.push(home.join(".fonts"));
        dirs.push(home.join("Library/Fonts"));
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME") {
        dirs.push(PathBuf::from(xdg).join("fonts"));
    }
    dirs
}

/// A font found on the system.
#[derive(Debug, Clone)]
pub struct FoundFont {
    /// Where it is.
    pub path: PathBuf,
    /// The face within a collection.
    pub index: u32,
    /// The file's bytes.
    pub bytes: Arc<Vec<u8>>,
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<(usize, PathBuf, u32)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth > 0 {
                walk(&path, depth - 1, found);
            }
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let lower = name.to_lowercase();
        if let Some(rank) = CANDIDATES.iter().position(|(c, _)| *c == lower) {
            found.push((rank, path.clone(), CANDIDATES[rank].1));
        }
    }
}

/// Searches the usual font directories for the best CJK font and reads it.
pub fn find_cjk_font() -> Option<FoundFont> {
    let mut found = Vec::new();
    for dir in font_dirs() {
        walk(&dir, 5, &mut found);
    }
    found.sort_by_key(|(rank, path, _)| (*rank, path.clone()));
    found.into_iter().find_map(|(_, path, index)| {
        let bytes = std::fs::read(&path).ok()?;
        Some(FoundFont {
            path,
            index,
            bytes: Arc::new(bytes),
        })
    })
}

/// Installs `font` as a fallback for both font families.
pub fn install(ctx: &egui::Context, font: &FoundFont) {
    let mut defs = egui::FontDefinitions::default();
    defs.font_data.insert(
        "cjk".to_owned(),
        Arc::new(egui::FontData::from_blob(font.bytes.clone(), font.index)),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        defs.families
            .entry(family)
            .or_default()
            .push("cjk".to_owned());
    }
    ctx.set_fonts(defs);
}

/// Where the font search stands.
#[derive(Debug)]
pub enum FontState {
    /// The background search is running.
    Searching(Receiver<Option<FoundFont>>),
    /// A font was installed (its path, for the settings screen).
    Installed(PathBuf),
    /// Nothing was found; the window shows [`INSTALL_HINT`].
    Missing,
}

impl FontState {
    /// Starts the search on a background thread.
    pub fn start() -> FontState {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("yizhan-fonts".into())
            .spawn(move || {
                let _ = tx.send(find_cjk_font());
            });
        match spawned {
            Ok(_) => FontState::Searching(rx),
            Err(e) => {
                tracing::warn!("cannot start the font search: {e}");
                FontState::Missing
            }
        }
    }

    /// Installs the font once the search has answered. Returns whether the search is over.
    pub fn poll(&mut self, ctx: &egui::Context) -> bool {
        let FontState::Searching(rx) = self else {
            return true;
        };
        match rx.try_recv() {
            Ok(Some(font)) => {
                install(ctx, &font);
                *self = FontState::Installed(font.path);
                true
            }
            Ok(None) | Err(TryRecvError::Disconnected) => {
                *self = FontState::Missing;
                true
            }
            Err(TryRecvError::Empty) => false,
        }
    }
}
