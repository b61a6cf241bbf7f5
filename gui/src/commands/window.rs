//! `yizhan` / `yizhan open` (the station window, or the start screen on a first run) and
//! `yizhan demo`.

use super::Ctx;
use anyhow::Result;
use std::path::PathBuf;

/// Opens the window on this data directory's node; the store runs on its own thread.
pub fn open_window(ctx: &Ctx) -> Result<()> {
    // First run: no store yet. With a display the start screen offers to create a network, join
    // one or open the demo; without one, opening the store fails below with its one-line error.
    if !ctx.data.join(yizhan_node::store::STORE_FILE).exists() && has_display() {
        return yizhan::app::run_start(ctx.data.clone(), ctx.clock, yizhan::demo::open_for_window);
    }
    if !has_display() {
        anyhow::bail!("{}", yizhan::app::NO_DISPLAY);
    }
    let node = ctx.open()?;
    let label = node
        .station()
        .map(|s| s.name.clone())
        .unwrap_or_else(|_| node.identity().station.clone());
    let (handle, thread) = yizhan_node::NodeHandle::spawn(node)?;
    let result = yizhan::app::run_window(yizhan::app::AppInit {
        stations: vec![yizhan::app::StationSlot {
            label,
            handle,
            sync: Some(ctx.data.clone()),
        }],
        county: None,
    });
    // The window has closed and dropped its handles: let queued writes finish before exiting.
    thread.join();
    result
}

/// Whether a window can be opened (an X11 or Wayland display is named in the environment).
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// `yizhan demo`: the county in the window, or headless when asked or when there is no display.
pub fn demo(headless: bool, dir: Option<PathBuf>, seed: u64) -> Result<()> {
    let display = has_display();
    let county = yizhan::demo::DemoCounty::start(&yizhan::demo::DemoOptions { dir, seed })?;
    if headless || !display {
        if !headless {
            eprintln!(
                "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): running the demo county headless"
            );
        }
        return yizhan::demo::run_headless(county, &mut std::io::stdout());
    }
    let stations = county.slots();
    yizhan::app::run_window(yizhan::app::AppInit {
        stations,
        county: Some(Box::new(county)),
    })
}
