//! The station window (egui, through eframe with the glow renderer).
//!
//! The flow of one frame, in [`App::ui`]:
//!
//! 1. Poll what the background has answered: the font search ([`fonts`]), each station's
//!    [`StationInfo`] and change counter, and the operations in flight (actions, intake,
//!    settings). Every store request goes through the station's [`NodeHandle`] with `submit`,
//!    which returns a [`Pending`] polled here once per frame; the UI thread never waits on the
//!    store, the disk or the network.
//! 2. Draw the panels. A panel reads what it needs through the handle (pages of the case list, a
//!    case, statistics), caches the answers, and turns what the user does into [`Command`]s pushed
//!    onto a list instead of acting on the spot.
//! 3. Apply the commands, once, at the end of the frame: writes (actions, intake, settings) are
//!    submitted to the store thread and become operations to poll in the next frames.
//!
//! Changes made on the store thread (this window's writes, sync, the demo county's stream) are
//! announced at once (`NodeHandle::subscribe_seq`; a small thread repaints the window on each);
//! writes by another process on the same data directory are noticed by reading the node's change
//! counter (`seq`) every few seconds. A new value bumps a data version that makes the panels
//! fetch again.
//!
//! The window can hold several stations ([`AppInit::stations`], for the demo county); one is shown
//! at a time, chosen in the top bar. Every visible string comes from [`i18n`].
//!
//! Why one file over 800 lines: it is the one frame flow above. `App`'s fields are the state
//! every step shares: `apply` turns each [`Command`] into a write submitted as an `Op`, `poll`
//! collects the answers and `finish` shows each `Op`'s answer on the screen it belongs to. Kept
//! together, a write added to `apply` without its answer in `finish` shows at once. The screens,
//! the top bar and the start screen already live in their own modules.

mod calendar_editor;
mod calendar_reminder;
mod catalog_editor;
mod chrome;
mod command;
mod county;
mod dashboard;
mod date_picker;
mod detail;
pub mod fonts;
pub mod i18n;
mod inbox;
mod intake;
mod list;
mod people;
mod receipt;
mod settings;
mod start;
mod station;
mod sync_panel;
mod system;
mod task;
mod templates;
mod ui_ext;
mod widgets;

pub use command::{Command, NetworkEdit, Screen, SettingsTab, StartView};
pub use county::{County, LinkInfo, StationSyncStatus};
pub use i18n::{Lang, Tr};
pub use start::Shell;
pub use station::StationInfo;
use station::{POLL, StationState, current_info};

use eframe::egui;
use fonts::FontState;
use std::time::Duration;
use task::Task;
use yizhan_node::calendar::Calendar;
use yizhan_node::catalog::Catalog;
use yizhan_node::handle::Pending;
use yizhan_node::network::{Settings, Station};
use yizhan_node::station::Tier;
use yizhan_node::{CaseView, Identity, NodeHandle};

/// One station the window can show: a label for the switcher and the handle of its node.
#[derive(Debug, Clone)]
pub struct StationSlot {
    /// Shown in the station switcher, e.g. "北格镇便民服务中心".
    pub label: String,
    /// The node, running on its own store thread.
    pub handle: NodeHandle,
    /// The data directory, when the window runs this station's sync engine (a real station;
    /// the demo county syncs its stations itself).
    pub sync: Option<std::path::PathBuf>,
}

/// What the window opens with.
#[derive(Debug)]
pub struct AppInit {
    /// The stations to show (at least one); the first is shown first.
    pub stations: Vec<StationSlot>,
    /// The demo county's controls, when the window runs the demo.
    pub county: Option<Box<dyn County>>,
}

/// The window's title and sizes (1280×800, at least 960×600), the same for the start screen.
fn native_options() -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("驿站 Yizhan")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([960.0, 600.0]),
        ..eframe::NativeOptions::default()
    }
}

/// The one line said when the window cannot open: no display reachable, or eframe's message
/// without the source paths and details winit puts in it.
pub fn window_error(e: &str) -> String {
    let display = [
        "display",
        "Display",
        "DISPLAY",
        "X11",
        "Wayland",
        "wayland",
        "XOpenDisplay",
    ];
    if display.iter().any(|w| e.contains(w)) {
        NO_DISPLAY.to_string()
    } else {
        let first = e.lines().next().unwrap_or_default();
        let plain = first.split(" at /").next().unwrap_or(first);
        format!("cannot open the window: {plain}")
    }
}

/// Without a display: what happened and what still works.
pub const NO_DISPLAY: &str = "cannot open the window: no display found (DISPLAY or WAYLAND_DISPLAY); the command line works without one, see yizhan --help";

/// Opens the window and runs it until it is closed.
pub fn run_window(init: AppInit) -> anyhow::Result<()> {
    if init.stations.is_empty() {
        anyhow::bail!("the window needs at least one station");
    }
    // Hidden switches for the screenshot script (scripts/screenshots.sh): which station and
    // which screen to open on.
    let station = std::env::var("YIZHAN_STATION")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let view = std::env::var("YIZHAN_SCREEN")
        .ok()
        .and_then(|s| StartView::parse(&s));
    eframe::run_native(
        "yizhan",
        native_options(),
        Box::new(move |_cc| Ok(Box::new(App::new(init).with_start(station, view)))),
    )
    // winit's own message names its source file; the clerk gets one plain line (issue #13).
    .map_err(|e| anyhow::anyhow!("{}", window_error(&e.to_string())))
}

/// Opens the start screen (first run: no store in `data` yet) and, once the user has created a
/// network, joined one or opened the demo, the station window on it.
pub fn run_start(
    data: std::path::PathBuf,
    clock: yizhan_node::Clock,
    open_demo: start::OpenDemo,
) -> anyhow::Result<()> {
    eframe::run_native(
        "yizhan",
        native_options(),
        Box::new(move |_cc| Ok(Box::new(Shell::new(data, clock).with_demo(open_demo)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// A write in flight.
#[derive(Debug)]
enum Op {
    Act {
        station: usize,
        pending: Pending<CaseView>,
    },
    Intake {
        station: usize,
        pending: Pending<CaseView>,
    },
    Settings {
        station: usize,
        pending: Pending<()>,
    },
    Network {
        station: usize,
        edit: NetworkEdit,
        pending: Pending<()>,
    },
    SyncConfig {
        station: usize,
        pending: Pending<()>,
    },
    Account {
        station: usize,
        /// What the edit did, for the status bar (the edit itself carries a password).
        text: String,
        /// Whether the people tab asked for it (else the sign-in screen or the top bar).
        from_people: bool,
        pending: Pending<()>,
    },
}

/// The answer to a write.
#[derive(Debug)]
enum Done {
    View(yizhan_node::Result<CaseView>),
    Unit(yizhan_node::Result<()>),
}

/// What a panel gets each frame.
pub struct Cx<'a> {
    /// The strings in the current language.
    pub t: &'static Tr,
    /// The current language.
    pub lang: Lang,
    /// The current station.
    pub info: &'a StationInfo,
    /// Its node.
    pub handle: &'a NodeHandle,
    /// Bumped whenever the data may have changed; panels fetch again when it moves.
    pub version: u64,
    /// Where panels push what the user asked for.
    pub commands: &'a mut Vec<Command>,
    /// Whether a write is in flight (buttons that write are disabled meanwhile).
    pub writing: bool,
    /// The station's sync engine as it is now, when this window runs one.
    pub engine: Option<&'a yizhan_sync::engine::EngineStatus>,
    /// The operator name recorded on events.
    pub operator: &'a str,
}

impl std::fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("station", &self.info.station.code)
            .field("version", &self.version)
            .finish()
    }
}

/// A message in the status bar.
#[derive(Debug, Clone)]
struct Notice {
    text: String,
    error: bool,
}

/// The whole window's state.
#[derive(Debug)]
pub struct App {
    lang: Lang,
    fonts: FontState,
    stations: Vec<StationState>,
    current: usize,
    screen: Screen,
    county: Option<Box<dyn County>>,
    version: u64,
    operator: String,
    commands: Vec<Command>,
    ops: Vec<Op>,
    notice: Option<Notice>,
    list: list::ListPanel,
    detail: detail::DetailPanel,
    intake: intake::IntakePanel,
    inbox: inbox::InboxPanel,
    dashboard: dashboard::DashboardPanel,
    sync: sync_panel::SyncPanel,
    settings: settings::SettingsPanel,
    start: Option<StartView>,
    /// Frames drawn so far (the sync engines start after the first).
    frames: u64,
    /// The sign-in screen (and the first administrator's form).
    signin: people::SignInPanel,
    /// When the user last touched the window (seconds, egui's clock), for the idle lock.
    last_activity: f64,
}

impl App {
    /// A window over the given stations; the font search starts at once.
    pub fn new(init: AppInit) -> App {
        App {
            lang: Lang::Zh,
            fonts: FontState::start(),
            stations: init.stations.into_iter().map(StationState::new).collect(),
            current: 0,
            screen: Screen::Inbox,
            county: init.county,
            version: 1,
            operator: std::env::var("YIZHAN_OPERATOR")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "操作员".to_string()),
            commands: Vec::new(),
            ops: Vec::new(),
            notice: None,
            list: list::ListPanel::default(),
            detail: detail::DetailPanel::default(),
            intake: intake::IntakePanel::default(),
            inbox: inbox::InboxPanel::default(),
            dashboard: dashboard::DashboardPanel::default(),
            sync: sync_panel::SyncPanel::default(),
            settings: settings::SettingsPanel::default(),
            start: None,
            frames: 0,
            signin: people::SignInPanel::default(),
            last_activity: 0.0,
        }
    }

    /// Stops every sync engine this window runs: each finishes the frame in flight and
    /// releases its data directory. Called when the window closes.
    pub fn shutdown(&mut self) {
        for s in &mut self.stations {
            s.stop_engine();
        }
    }

    /// The sync engine's status of the current station, if the window runs one.
    pub fn engine_status(&self) -> Option<yizhan_sync::engine::EngineStatus> {
        self.stations
            .get(self.current)
            .and_then(|s| s.engine.as_ref())
            .map(yizhan_sync::engine::Engine::status)
    }

    /// Opens `view` (on station `station`, an index into [`AppInit::stations`]) as soon as what
    /// it needs has loaded, as if the user had clicked there.
    pub fn with_start(mut self, station: Option<usize>, view: Option<StartView>) -> App {
        if let Some(i) = station {
            self.commands.push(Command::SwitchStation(i));
        }
        self.start = view;
        self
    }

    /// Moves towards the start view: screens at once; the case detail once the list has rows;
    /// intake with an item chosen once the catalog is there.
    fn apply_start(&mut self) {
        let Some(start) = self.start else { return };
        // A station switch still queued would reset the panels this prepares.
        if !self.commands.is_empty() {
            return;
        }
        let Some(info) = current_info(&self.stations, self.current) else {
            return;
        };
        match start {
            StartView::Screen(Screen::Intake) => {
                self.intake.preselect(info);
                self.screen = Screen::Intake;
                self.start = None;
            }
            StartView::Screen(screen) => {
                self.screen = screen;
                self.start = None;
            }
            StartView::Settings(tab) => {
                self.settings.open(tab, info);
                self.screen = Screen::Settings;
                self.start = None;
            }
            StartView::SignIn => {
                self.commands.push(Command::Lock);
                self.start = None;
            }
            StartView::FirstCase => {
                // The list fetches its rows only while it is shown.
                self.screen = Screen::Cases;
                let accepted = yizhan_node::case::Status::Accepted.as_str();
                let rows: Vec<_> = self.list.rows().collect();
                let pick = rows
                    .iter()
                    .find(|r| r.status == accepted)
                    .or(rows.first())
                    .map(|r| r.id.clone());
                if let Some(id) = pick {
                    self.commands.push(Command::OpenCase(id));
                    self.start = None;
                }
            }
        }
    }

    /// Queues a command as if the user had asked for it (for tests and the demo).
    pub fn push_command(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Whether anything is still on its way from a store thread or the font search; tests run
    /// frames until this is false.
    pub fn busy(&self) -> bool {
        matches!(self.fonts, FontState::Searching(_))
            || !self.ops.is_empty()
            || self.stations.iter().any(|s| s.info.is_none() || s.busy())
            || self.list.busy()
            || self.inbox.busy()
            || self.detail.busy()
            || self.shown_panel_busy()
            || self.start.is_some()
    }

    /// Whether the screen shown waits for an answer. Only the screen shown counts: the dashboard
    /// and the sync panel read again on their own every few seconds, and a request started on the
    /// last frame a panel was drawn is only polled when it is drawn again.
    fn shown_panel_busy(&self) -> bool {
        match self.screen {
            Screen::Dashboard => self.dashboard.busy(),
            Screen::Sync => self.sync.busy(),
            Screen::Settings => self.settings.busy(),
            Screen::Inbox | Screen::Cases | Screen::Intake => false,
        }
    }

    /// The action checks of the open case: action key (`accept`, `approve:税务局` …) → allowed,
    /// or the node's reason. Empty while they are being checked.
    pub fn action_checks(&self) -> &std::collections::BTreeMap<String, Result<(), String>> {
        self.detail.probe_results()
    }

    /// The open case as last read, if any.
    pub fn open_case(&self) -> Option<&CaseView> {
        self.detail.view()
    }

    /// The case list rows fetched so far, in list order.
    pub fn listed_rows(&self) -> Vec<&yizhan_node::query::CaseRow> {
        self.list.rows().collect()
    }

    /// The answer of the sync panel's last tool (invite, revoke, bundle), if any.
    pub fn sync_tool_result(&self) -> Option<&Result<String, String>> {
        self.sync.tool_result()
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// Whether a CJK font was found and installed.
    pub fn has_cjk_font(&self) -> bool {
        matches!(self.fonts, FontState::Installed(_))
    }

    /// The current language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Switches the language (the start screen hands its choice on).
    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
    }

    /// The message shown in the status bar, if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_ref().map(|n| n.text.as_str())
    }

    /// Draws one frame into `ui` (the whole window).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if !self.fonts.poll(&ctx) {
            // Nothing that needs CJK glyphs is drawn before the font is there.
            ui.centered_and_justified(|ui| ui.spinner());
            ctx.request_repaint_after(Duration::from_millis(20));
            return;
        }
        self.poll(&ctx);
        self.apply_start();
        self.idle_lock(&ctx);
        let t = self.lang.tr();

        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui, t));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui, t));
        if self.county.is_some() {
            egui::Panel::left("county")
                .resizable(true)
                .default_size(230.0)
                .show(ui, |ui| self.county_panel(ui, t));
        }
        egui::CentralPanel::default().show(ui, |ui| self.main_area(ui, t));

        self.apply_commands();
        // The sync engines start once the first frame is on screen: a station that only opens
        // the window syncs, and the window never waits for the network to appear.
        self.frames += 1;
        if self.frames >= 2 {
            for s in &mut self.stations {
                s.start_engine();
            }
        }
        if self.busy() {
            ctx.request_repaint_after(Duration::from_millis(16));
        } else {
            ctx.request_repaint_after(POLL);
        }
    }

    /// Locks the window after the station's idle time without input (a clerk who walks away
    /// from the counter leaves nobody signed in).
    fn idle_lock(&mut self, ctx: &egui::Context) {
        let (now, active) = ctx.input(|i| (i.time, !i.events.is_empty() || i.pointer.is_moving()));
        if active || self.last_activity == 0.0 {
            self.last_activity = now;
        }
        let Some(info) = current_info(&self.stations, self.current) else {
            return;
        };
        let limit = f64::from(info.lock_minutes) * 60.0;
        if info.operator.is_some()
            && limit > 0.0
            && now - self.last_activity > limit
            && !self.commands.iter().any(|c| matches!(c, Command::Lock))
        {
            self.last_activity = now;
            self.commands.push(Command::Lock);
        }
    }

    fn poll(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        let t = self.lang.tr();
        for (i, s) in self.stations.iter_mut().enumerate() {
            if s.poll(ctx, now, t) && i == self.current {
                self.version += 1;
            }
        }
        let mut done = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let finished = match op {
                Op::Act { pending, .. } | Op::Intake { pending, .. } => {
                    pending.poll().map(Done::View)
                }
                Op::Settings { pending, .. }
                | Op::Network { pending, .. }
                | Op::SyncConfig { pending, .. }
                | Op::Account { pending, .. } => pending.poll().map(Done::Unit),
            };
            if let Some(r) = finished {
                done.push((i, r));
            }
        }
        for (i, r) in done.into_iter().rev() {
            let op = self.ops.remove(i);
            self.version += 1;
            self.finish(op, r, t);
        }
    }

    /// Shows what a finished write did: the case it changed, or the node's refusal.
    fn finish(&mut self, op: Op, done: Done, t: &'static Tr) {
        match (op, done) {
            (Op::Act { station, .. }, Done::View(r)) if station == self.current => match r {
                Ok(view) => {
                    self.notice = Some(Notice {
                        text: format!("{} {}", t.saved, view.doc.number),
                        error: false,
                    });
                    self.detail.show_view(view);
                }
                Err(e) => self.detail.set_error(t.node_error(&e)),
            },
            (Op::Intake { station, .. }, Done::View(r)) if station == self.current => match r {
                Ok(view) => {
                    self.notice = Some(Notice {
                        text: format!("{} {}", t.intake_done, view.doc.number),
                        error: false,
                    });
                    self.intake.reset();
                    self.detail.show_view(view);
                    self.screen = Screen::Cases;
                }
                Err(e) => self.intake.set_error(t.node_error(&e)),
            },
            (Op::Settings { station, .. }, Done::Unit(r)) => {
                if let Some(s) = self.stations.get_mut(station) {
                    s.fetch_info();
                }
                self.notice = Some(match r {
                    Ok(()) => Notice {
                        text: t.settings_saved.to_string(),
                        error: false,
                    },
                    Err(e) => Notice {
                        text: t.node_error(&e),
                        error: true,
                    },
                });
            }
            (Op::Network { station, edit, .. }, Done::Unit(r)) => {
                if let Some(s) = self.stations.get_mut(station) {
                    s.fetch_info();
                }
                let r = r.map(|()| edit.done_text(t)).map_err(|e| t.node_error(&e));
                self.notice = Some(match &r {
                    Ok(text) => Notice {
                        text: text.clone(),
                        error: false,
                    },
                    Err(e) => Notice {
                        text: e.clone(),
                        error: true,
                    },
                });
                if station == self.current {
                    self.settings.edit_done(&edit, r);
                }
            }
            (Op::SyncConfig { station, .. }, Done::Unit(r)) => {
                self.notice = Some(match r {
                    Ok(()) => {
                        // The engine binds and discovers again with the new settings.
                        if let Some(s) = self.stations.get_mut(station) {
                            s.stop_engine();
                            s.start_engine();
                        }
                        Notice {
                            text: t.sync_config_saved.to_string(),
                            error: false,
                        }
                    }
                    Err(e) => Notice {
                        text: t.node_error(&e),
                        error: true,
                    },
                });
            }
            (
                Op::Account {
                    station,
                    text,
                    from_people,
                    ..
                },
                Done::Unit(r),
            ) => {
                if let Some(s) = self.stations.get_mut(station) {
                    s.fetch_info();
                }
                let r = r.map(|()| text).map_err(|e| t.node_error(&e));
                self.notice = Some(Notice {
                    text: match &r {
                        Ok(text) | Err(text) => text.clone(),
                    },
                    error: r.is_err(),
                });
                if station == self.current {
                    if from_people {
                        self.settings.people.done(r);
                    } else {
                        self.signin.done(r.map(|_| ()));
                    }
                }
            }
            // A write for a station no longer shown: its effect shows when that station is
            // shown again (the data version has moved).
            _ => {}
        }
    }

    fn writing(&self) -> bool {
        self.ops.iter().any(|op| match op {
            Op::Act { station, .. }
            | Op::Intake { station, .. }
            | Op::Settings { station, .. }
            | Op::Network { station, .. }
            | Op::SyncConfig { station, .. }
            | Op::Account { station, .. } => *station == self.current,
        })
    }

    fn apply_commands(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            self.apply(command);
        }
    }

    fn apply(&mut self, command: Command) {
        let Some(station) = self.stations.get(self.current) else {
            return;
        };
        let handle = station.handle.clone();
        match command {
            Command::SwitchStation(i) if i < self.stations.len() && i != self.current => {
                self.current = i;
                self.version += 1;
                self.list = list::ListPanel::default();
                self.detail = detail::DetailPanel::default();
                self.intake = intake::IntakePanel::default();
                self.inbox = inbox::InboxPanel::default();
                self.dashboard = dashboard::DashboardPanel::default();
                self.sync = sync_panel::SyncPanel::default();
                self.settings = settings::SettingsPanel::default();
                self.notice = None;
            }
            Command::SwitchStation(_) => {}
            Command::Show(screen) => self.screen = screen,
            Command::OpenCase(id) => {
                // From the inbox, "back" returns to the inbox.
                if self.screen != Screen::Inbox {
                    self.screen = Screen::Cases;
                }
                self.detail.open(id);
            }
            Command::CloseCase => self.detail.close(),
            Command::Act { case, action } => {
                let operator = self.operator.clone();
                self.detail.clear_error();
                self.ops.push(Op::Act {
                    station: self.current,
                    pending: handle.submit(move |n| n.act(&case, &action, &operator)),
                });
            }
            Command::Intake(mut new) => {
                new.operator = self.operator.clone();
                self.ops.push(Op::Intake {
                    station: self.current,
                    pending: handle.submit(move |n| n.new_case(&new)),
                });
            }
            Command::IntakeAndForward(mut new, to) => {
                new.operator = self.operator.clone();
                let operator = self.operator.clone();
                self.ops.push(Op::Intake {
                    station: self.current,
                    pending: handle.submit(move |n| {
                        let view = n.new_case(&new)?;
                        // The case is taken in whatever happens next: a refused forward leaves
                        // it here, where its detail offers 转办 with the node's reason.
                        let id = view.doc.id.clone();
                        Ok(
                            n.act(&id, &yizhan_node::case::Action::Forward { to }, &operator)
                                .unwrap_or(view),
                        )
                    }),
                });
            }
            Command::SetLang(lang) => self.lang = lang,
            Command::SaveSettings(settings) => self.ops.push(Op::Settings {
                station: self.current,
                pending: handle.submit(move |n| n.set_settings(settings)),
            }),
            Command::EditNetwork(edit) => {
                let run = edit.clone();
                self.ops.push(Op::Network {
                    station: self.current,
                    edit,
                    pending: handle.submit(move |n| run.run(n)),
                });
            }
            Command::SetOperator(name) => self.operator = name,
            Command::Account(edit) => {
                let text = edit.done_text(self.lang.tr());
                let from_people = self.screen == Screen::Settings && !edit.has_secret()
                    || matches!(
                        edit,
                        people::AccountEdit::Password { .. }
                            | people::AccountEdit::Add { sign_in: false, .. }
                    );
                self.ops.push(Op::Account {
                    station: self.current,
                    text,
                    from_people,
                    pending: handle.submit(move |n| edit.run(n)),
                });
            }
            Command::Lock => {
                if let Some(login) = station
                    .info
                    .as_ref()
                    .and_then(|i| i.operator.as_ref())
                    .map(|a| a.login.clone())
                {
                    self.signin.locked(&login);
                }
                self.detail = detail::DetailPanel::default();
                self.ops.push(Op::Account {
                    station: self.current,
                    text: self.lang.tr().signed_out.to_string(),
                    from_people: false,
                    pending: handle.submit(|n| {
                        n.sign_out();
                        Ok(())
                    }),
                });
            }
            Command::SetLink { id, up } => {
                if let Some(c) = self.county.as_mut() {
                    c.set_link(id, up);
                }
            }
            Command::SetStreaming(on) => {
                if let Some(c) = self.county.as_mut() {
                    c.set_streaming(on);
                }
            }
            Command::SyncNow(peer) => {
                if let Some(e) = self
                    .stations
                    .get(self.current)
                    .and_then(|s| s.engine.as_ref())
                {
                    e.sync_now(peer);
                }
            }
            Command::SaveSyncConfig(config, local) => self.ops.push(Op::SyncConfig {
                station: self.current,
                pending: handle.submit(move |n| {
                    n.set_sync_config(&config)?;
                    local.save(n)
                }),
            }),
            Command::OpenSettings(tab) => {
                if let Some(info) = station.info.as_ref() {
                    self.settings.open(tab, info);
                    self.screen = Screen::Settings;
                }
            }
            Command::Refresh => {
                self.version += 1;
                if let Some(s) = self.stations.get_mut(self.current) {
                    s.fetch_info();
                }
            }
        }
    }

    fn main_area(&mut self, ui: &mut egui::Ui, t: &'static Tr) {
        let writing = self.writing();
        let Some(station) = self.stations.get(self.current) else {
            return;
        };
        let Some(info) = station.info.as_ref() else {
            ui.horizontal(|ui| {
                if let Some(e) = &station.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                } else {
                    ui.spinner();
                    ui.label(t.loading);
                }
            });
            return;
        };
        let engine = station
            .engine
            .as_ref()
            .map(yizhan_sync::engine::Engine::status);
        let mut cx = Cx {
            t,
            lang: self.lang,
            info,
            handle: &station.handle,
            version: self.version,
            commands: &mut self.commands,
            writing,
            operator: &self.operator,
            engine: engine.as_ref(),
        };
        // Nobody signed in at a station with accounts (or its first run): the sign-in screen
        // takes the main area; sync goes on behind it.
        if self.signin.wanted(info) {
            self.signin.ui(ui, &mut cx);
            return;
        }
        self.signin.banner(ui, &cx);
        // The inbox is read even while another screen is shown: its count is in the top bar.
        if self.screen != Screen::Inbox || self.detail.is_open() {
            self.inbox.poll(&cx);
        }
        calendar_reminder::ui(ui, &mut cx);
        match self.screen {
            Screen::Inbox | Screen::Cases if self.detail.is_open() => self.detail.ui(ui, &mut cx),
            Screen::Inbox => self.inbox.ui(ui, &mut cx),
            Screen::Cases => self.list.ui(ui, &mut cx),
            Screen::Intake => self.intake.ui(ui, &mut cx),
            Screen::Dashboard => self.dashboard.ui(ui, &mut cx),
            Screen::Sync => self.sync.ui(ui, &mut cx, self.county.as_deref()),
            Screen::Settings => self.settings.ui(ui, &mut cx, &self.fonts),
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.shutdown();
    }
}
