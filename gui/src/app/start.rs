//! The first run: `yizhan` on a data directory without a store opens this screen instead of
//! failing. It offers the three ways in — create a network (this computer becomes the city
//! station), join one with a ticket (pasted, or read from a file), or open the demo county — and,
//! once one of them has produced a node, becomes the station window on it ([`Shell`]).
//!
//! Each way in touches the disk or the network (creating a store, enrolling over iroh, starting
//! seven demo nodes), so each runs on its own short-lived thread and answers through a channel
//! polled once per frame; the UI thread only draws the form and a spinner meanwhile.

use super::fonts::{self, FontState};
use super::widgets::{error_line, field, field_multiline};
use super::{App, AppInit, Lang, StationSlot, Tr};
use crate::app::ui_ext::UiExt as _;
use eframe::egui;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;
use yizhan_node::handle::NodeThread;
use yizhan_node::{Clock, InitParams, Node, NodeHandle};

/// What a finished way in hands to the window: the stations to show and the store threads to
/// wait for when the window closes (so that queued writes are finished before the process ends).
pub struct Opened {
    /// The window's stations (and the county, for the demo).
    pub init: AppInit,
    /// The store threads started for them.
    pub threads: Vec<NodeThread>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("stations", &self.init.stations.len())
            .finish()
    }
}

/// Runs a node operation on its own thread; the answer (or the error, as text) arrives on the
/// returned channel.
fn in_background(
    name: &str,
    work: impl FnOnce() -> anyhow::Result<Opened> + Send + 'static,
) -> Receiver<Result<Opened, String>> {
    super::task::in_background(name, move || work().map_err(|e| format!("{e:#}")))
}

/// One node in the window, on its store thread.
fn single(node: Node, dir: &std::path::Path) -> anyhow::Result<Opened> {
    let label = node
        .station()
        .map(|s| s.name.clone())
        .unwrap_or_else(|_| node.identity().station.clone());
    let (handle, thread) = NodeHandle::spawn(node)?;
    Ok(Opened {
        init: AppInit {
            stations: vec![StationSlot {
                label,
                handle,
                sync: Some(dir.to_path_buf()),
            }],
            county: None,
        },
        threads: vec![thread],
    })
}

/// How the start screen opens the demo county: given by the caller, so that the window does not
/// know how a county is built (the binary passes `yizhan::demo::open_for_window`).
pub type OpenDemo = fn() -> anyhow::Result<AppInit>;

/// The start screen's form and the way in under way.
#[derive(Debug)]
pub struct StartPanel {
    data: PathBuf,
    clock: Clock,
    open_demo: Option<OpenDemo>,
    network: String,
    code: String,
    name: String,
    ticket: String,
    ticket_file: String,
    file_task: Option<Receiver<Result<String, String>>>,
    paste_task: Option<Receiver<Result<String, String>>>,
    task: Option<Receiver<Result<Opened, String>>>,
    error: Option<String>,
}

impl StartPanel {
    /// The start screen for a store to be made in `data`.
    pub fn new(data: PathBuf, clock: Clock) -> StartPanel {
        StartPanel {
            data,
            clock,
            open_demo: None,
            network: String::new(),
            code: String::new(),
            name: String::new(),
            ticket: String::new(),
            ticket_file: String::new(),
            file_task: None,
            paste_task: None,
            task: None,
            error: None,
        }
    }

    /// Whether a way in or a file read is under way.
    pub fn busy(&self) -> bool {
        self.task.is_some() || self.file_task.is_some() || self.paste_task.is_some()
    }

    /// The answer of the way in, once it has arrived.
    fn poll(&mut self) -> Option<Opened> {
        // A ticket read from a file or pasted fills the field, or says why it could not.
        let tickets = [answer(&mut self.file_task), answer(&mut self.paste_task)];
        for r in tickets.into_iter().flatten() {
            match r {
                Ok(text) => self.ticket = text.trim().to_string(),
                Err(e) => self.error = Some(e),
            }
        }
        match answer(&mut self.task)? {
            Ok(opened) => Some(opened),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    fn create(&mut self) {
        let (dir, clock) = (self.data.clone(), self.clock);
        let params = InitParams {
            network_name: self.network.trim().to_string(),
            code: self.code.trim().to_string(),
            name: self.name.trim().to_string(),
        };
        self.error = None;
        self.task = Some(in_background("yizhan-init", move || {
            single(Node::init(&dir, clock, &params)?, &dir)
        }));
    }

    fn join(&mut self) {
        let (dir, clock) = (self.data.clone(), self.clock);
        let text = self.ticket.trim().to_string();
        self.error = None;
        self.task = Some(in_background("yizhan-join", move || {
            let ticket = yizhan_sync::ticket::Ticket::decode(&text)?;
            // The same runtime as `yizhan join`: the enrolment is one exchange, after which
            // the runtime is dropped; the window then starts the station's sync engine.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("yizhan-net")
                .enable_all()
                .build()?;
            let node = rt.block_on(yizhan_sync::net::join(&ticket, &dir, clock))?;
            single(node, &dir)
        }));
    }

    fn demo(&mut self, open: OpenDemo) {
        self.error = None;
        self.task = Some(in_background("yizhan-demo-start", move || {
            Ok(Opened {
                init: open()?,
                // The county waits for its own store threads when it is dropped.
                threads: Vec::new(),
            })
        }));
    }

    /// Reads the clipboard on its own thread (on X11 the owner of the selection answers, which
    /// can take a moment) into the ticket field.
    fn paste(&mut self, t: &'static Tr) {
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("yizhan-paste".into())
            .spawn(move || {
                let r = arboard::Clipboard::new()
                    .and_then(|mut c| c.get_text())
                    .map_err(|e| match e {
                        arboard::Error::ContentNotAvailable => t.clipboard_empty.to_string(),
                        e => format!("{}（{e}）", t.clipboard_failed),
                    });
                let _ = tx.send(r);
            });
        match spawned {
            Ok(_) => self.paste_task = Some(rx),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn read_ticket_file(&mut self) {
        let path = PathBuf::from(self.ticket_file.trim());
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("yizhan-read".into())
            .spawn(move || {
                let r =
                    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
                let _ = tx.send(r);
            });
        match spawned {
            Ok(_) => self.file_task = Some(rx),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Draws the three ways in.
    pub fn ui(&mut self, ui: &mut egui::Ui, t: &'static Tr, lang: &mut Lang) {
        let busy = self.busy();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading(t.start_title);
                let other = match lang {
                    Lang::Zh => Lang::En,
                    Lang::En => Lang::Zh,
                };
                if ui.button(other.tr().lang_name).clicked() {
                    *lang = other;
                }
            });
            ui.label(format!("{} {}", t.start_no_store, self.data.display()));
            if let Some(e) = &self.error {
                error_line(ui, e);
            }
            if self.task.is_some() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(t.start_working);
                });
            }
            ui.separator();
            ui.add_enabled_ui(!busy, |ui| {
                ui.strong(t.start_create);
                ui.weak(t.start_create_hint);
                egui::Grid::new("start-create")
                    .num_columns(2)
                    .show(ui, |ui| {
                        field(ui, t.network_name, &mut self.network, 280.0);
                        ui.end_row();
                        field(ui, t.station_code, &mut self.code, 120.0);
                        ui.end_row();
                        field(ui, t.station_name_label, &mut self.name, 280.0);
                        ui.end_row();
                    });
                let ready = [&self.network, &self.code, &self.name]
                    .iter()
                    .all(|s| !s.trim().is_empty());
                if ui.enabled_button(ready, t.start_create_button) {
                    self.create();
                }
                ui.separator();
                ui.strong(t.start_join);
                ui.weak(t.start_join_hint);
                field_multiline(ui, t.ticket, &mut self.ticket);
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(self.paste_task.is_none(), egui::Button::new(t.paste))
                        .on_hover_text(t.paste_hint)
                        .clicked()
                    {
                        self.paste(t);
                    }
                    if self.paste_task.is_some() {
                        ui.spinner();
                    }
                });
                ui.horizontal(|ui| {
                    field(ui, t.ticket_file, &mut self.ticket_file, 320.0);
                    if ui.enabled_button(!self.ticket_file.trim().is_empty(), t.read_file) {
                        self.read_ticket_file();
                    }
                });
                if ui.enabled_button(!self.ticket.trim().is_empty(), t.start_join_button) {
                    self.join();
                }
                if let Some(open) = self.open_demo {
                    ui.separator();
                    ui.strong(t.start_demo);
                    ui.weak(t.start_demo_hint);
                    if ui.button(t.start_demo_button).clicked() {
                        self.demo(open);
                    }
                }
            });
        });
    }
}

/// The window from the first run on: the start screen until a way in has produced stations,
/// then the station window.
#[derive(Debug)]
pub struct Shell {
    fonts: FontState,
    lang: Lang,
    start: StartPanel,
    app: Option<App>,
    threads: Vec<NodeThread>,
}

impl Shell {
    /// The start screen for a store to be made in `data`.
    pub fn new(data: PathBuf, clock: Clock) -> Shell {
        Shell {
            fonts: FontState::start(),
            lang: Lang::Zh,
            start: StartPanel::new(data, clock),
            app: None,
            threads: Vec::new(),
        }
    }

    /// Offers the demo county on the start screen, opened with `open`.
    pub fn with_demo(mut self, open: OpenDemo) -> Shell {
        self.start.open_demo = Some(open);
        self
    }

    /// The station window, once a way in has finished.
    pub fn app(&self) -> Option<&App> {
        self.app.as_ref()
    }

    /// Whether anything is on its way (tests run frames until this is false).
    pub fn busy(&self) -> bool {
        match &self.app {
            Some(app) => app.busy(),
            None => matches!(self.fonts, FontState::Searching(_)) || self.start.busy(),
        }
    }

    /// Draws one frame.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if let Some(app) = self.app.as_mut() {
            app.ui(ui);
            return;
        }
        let ctx = ui.ctx().clone();
        if !self.fonts.poll(&ctx) {
            ui.centered_and_justified(|ui| ui.spinner());
            ctx.request_repaint_after(Duration::from_millis(20));
            return;
        }
        if let FontState::Missing = self.fonts {
            error_line(
                ui,
                &format!(
                    "No Chinese font found / 未找到中文字体: {}",
                    fonts::INSTALL_HINT
                ),
            );
        }
        if let Some(opened) = self.start.poll() {
            let mut app = App::new(opened.init);
            app.set_lang(self.lang);
            self.threads.extend(opened.threads);
            self.app = Some(app);
            ctx.request_repaint();
            return;
        }
        let t = self.lang.tr();
        egui::CentralPanel::default().show(ui, |ui| {
            ui.set_max_width(720.0);
            self.start.ui(ui, t, &mut self.lang);
        });
        ctx.request_repaint_after(Duration::from_millis(if self.busy() { 30 } else { 500 }));
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // The window's handles go first, so that the store threads can finish their queues.
        self.app = None;
        for t in self.threads.drain(..) {
            t.join();
        }
    }
}

impl eframe::App for Shell {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        Shell::ui(self, ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(app) = self.app.as_mut() {
            app.shutdown();
        }
    }
}

/// A background task's answer once it has arrived; the task is then done and dropped. Nothing
/// while it is still working.
fn answer<T>(task: &mut Option<Receiver<T>>) -> Option<T> {
    let r = task.as_ref()?.try_recv().ok()?;
    *task = None;
    Some(r)
}
