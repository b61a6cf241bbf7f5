//! One station the window holds: what it knows of the network ([`StationInfo`], read on the
//! store thread), its change counter, and the sync engine the window runs for it.

use super::*;

/// A station's view of the network, read on the store thread.
#[derive(Debug, Clone)]
pub struct StationInfo {
    /// This node.
    pub identity: Identity,
    /// This node's station.
    pub station: Station,
    /// Its tier.
    pub tier: Tier,
    /// The network's name.
    pub network_name: String,
    /// Every station of the network.
    pub stations: Vec<Station>,
    /// The catalog of service items.
    pub catalog: Catalog,
    /// The working-day calendar.
    pub calendar: Calendar,
    /// Network settings.
    pub settings: Settings,
    /// Today, by the node's clock (China time).
    pub today: chrono::NaiveDate,
    /// The node's change counter when this was read.
    pub seq: i64,
    /// The data directory (where the store file is), the default place for printed documents.
    pub data_dir: std::path::PathBuf,
    /// The node's clock (the system's, or the one `YIZHAN_NOW` pins), for "how long ago".
    pub clock: yizhan_node::Clock,
    /// This node's clock against the city's, once estimated (issue #11).
    pub clock_offset: Option<yizhan_node::skew::ClockOffset>,
    /// The signed-in operator (issue #12).
    pub operator: Option<yizhan_node::account::Account>,
    /// Whether the station has accounts, so that someone must be signed in.
    pub needs_sign_in: bool,
    /// The accounts of this station and of its child stations, by station and login.
    pub people: Vec<yizhan_node::account::Account>,
    /// The ids of the accounts with a password at this station.
    pub with_password: std::collections::BTreeSet<String>,
    /// Idle minutes after which the window locks (0: never).
    pub lock_minutes: u32,
    /// The station's public address for the progress page, if set: receipts print a QR code of
    /// it (issue #15).
    pub public_url: Option<String>,
    /// The notice templates (issue #15), from the settings document.
    pub templates: yizhan_node::notice::Templates,
    /// The station's phone for questions about progress (本站咨询电话), printed on receipts
    /// (issue #13), from the station's accounts document.
    pub station_phone: Option<String>,
}

impl StationInfo {
    fn read(node: &mut yizhan_node::Node) -> yizhan_node::Result<StationInfo> {
        node.refresh()?;
        let station = node.station()?.clone();
        let mut people: Vec<yizhan_node::account::Account> = Vec::new();
        let mut codes = vec![station.code.clone()];
        codes.extend(
            node.roster()
                .stations
                .values()
                .filter(|s| s.parent == station.code)
                .map(|s| s.code.clone()),
        );
        for code in &codes {
            people.extend(node.accounts().of_station(code).into_iter().cloned());
        }
        let with_password = people
            .iter()
            .filter(|a| node.has_password(&a.id))
            .map(|a| a.id.clone())
            .collect();
        Ok(StationInfo {
            operator: node.signed_in().cloned(),
            needs_sign_in: node.needs_sign_in(),
            people,
            with_password,
            lock_minutes: node.lock_minutes()?,
            public_url: node.public_url()?,
            templates: node.notice_templates().clone(),
            station_phone: node.station_phone(&station.code).map(str::to_string),
            identity: node.identity().clone(),
            tier: station.tier(),
            station,
            network_name: node.roster().network_name.clone(),
            stations: node.roster().stations.values().cloned().collect(),
            catalog: node.catalog().clone(),
            calendar: node.calendar().clone(),
            settings: *node.settings(),
            today: node.today(),
            seq: node.seq()?,
            clock: node.clock(),
            clock_offset: node.clock_offset(),
            data_dir: node.data_dir().to_path_buf(),
        })
    }

    /// A station's name by code (the code itself when unknown).
    pub fn station_name(&self, code: &str) -> String {
        self.stations
            .iter()
            .find(|s| s.code == code)
            .map_or_else(|| code.to_string(), |s| s.name.clone())
    }
}

/// How often the change counter is read from the store: only for writes by another process on
/// the same data directory (the command line beside the window). The store thread's own writes
/// (this window's, sync's) are announced at once through [`NodeHandle::subscribe_seq`].
pub(super) const POLL: Duration = Duration::from_secs(5);

/// The shown station's info, once loaded. A function of the two fields rather than a method of
/// `App`, so that a caller holding the info can still change `App`'s other fields.
pub(super) fn current_info(stations: &[StationState], current: usize) -> Option<&StationInfo> {
    stations.get(current).and_then(|s| s.info.as_ref())
}

/// One station's connection and what the window knows about it.
#[derive(Debug)]
pub(super) struct StationState {
    pub(super) label: String,
    pub(super) handle: NodeHandle,
    /// The data directory whose sync engine this window runs, if it runs one.
    pub(super) sync_dir: Option<std::path::PathBuf>,
    /// The station's sync engine, once started (after the first frame).
    pub(super) engine: Option<yizhan_sync::engine::Engine>,
    /// Why the engine could not be started.
    pub(super) engine_error: Option<String>,
    /// The notice sender, started and stopped with the engine (issue #15).
    pub(super) sender: Option<crate::notices::Sender>,
    /// The progress page (办件查询) the window serves when its settings give an address, on
    /// the engine's runtime.
    pub(super) web: Option<tokio::task::JoinHandle<()>>,
    pub(super) info: Option<StationInfo>,
    pub(super) info_task: Task<StationInfo>,
    pub(super) seq_task: Task<i64>,
    /// The store thread's announcements of each committed write.
    pub(super) seq_rx: tokio::sync::watch::Receiver<i64>,
    /// Whether the thread that wakes the window on each announcement runs.
    pub(super) waking: bool,
    pub(super) last_poll: Option<f64>,
    pub(super) error: Option<String>,
}

impl StationState {
    pub(super) fn new(slot: StationSlot) -> StationState {
        let mut s = StationState {
            label: slot.label,
            handle: slot.handle.clone(),
            sync_dir: slot.sync,
            engine: None,
            engine_error: None,
            sender: None,
            web: None,
            info: None,
            info_task: Task::default(),
            seq_task: Task::default(),
            seq_rx: slot.handle.subscribe_seq(),
            waking: false,
            last_poll: None,
            error: None,
        };
        s.fetch_info();
        s
    }

    pub(super) fn fetch_info(&mut self) {
        if !self.info_task.busy() {
            self.info_task
                .start(0, self.handle.submit(StationInfo::read));
        }
    }

    /// Polls the store's answers; returns whether the data changed.
    pub(super) fn poll(&mut self, ctx: &egui::Context, now: f64, t: &Tr) -> bool {
        let mut changed = false;
        if !self.waking {
            self.waking = true;
            wake_on_writes(self.seq_rx.clone(), ctx.clone());
        }
        if self.seq_rx.has_changed().unwrap_or(false) {
            self.seq_rx.mark_unchanged();
            self.fetch_info();
        }
        if let Some((_, r)) = self.info_task.poll() {
            match r {
                Ok(info) => {
                    changed = self.info.as_ref().is_none_or(|old| old.seq != info.seq);
                    self.info = Some(info);
                    self.error = None;
                }
                Err(e) => self.error = Some(t.node_error(&e)),
            }
        }
        if let Some((_, r)) = self.seq_task.poll() {
            match r {
                Ok(seq) if self.info.as_ref().is_some_and(|i| i.seq != seq) => self.fetch_info(),
                Ok(_) => {}
                Err(e) => self.error = Some(t.node_error(&e)),
            }
        }
        let due = self.last_poll.is_none_or(|t| now - t >= POLL.as_secs_f64());
        if due && !self.seq_task.busy() && !self.info_task.busy() {
            self.last_poll = Some(now);
            self.seq_task.start(
                0,
                self.handle.submit(|n| {
                    n.refresh()?;
                    n.seq()
                }),
            );
        }
        changed
    }

    pub(super) fn busy(&self) -> bool {
        self.info_task.busy()
    }

    /// Starts the sync engine if this station has one and it is not running. Returns at once:
    /// the engine takes its lock and binds on its own runtime.
    pub(super) fn start_engine(&mut self) {
        let Some(dir) = self.sync_dir.clone() else {
            return;
        };
        if self.engine.is_some() {
            return;
        }
        match yizhan_sync::engine::Engine::start(
            self.handle.clone(),
            yizhan_sync::engine::EngineOptions {
                data_dir: dir,
                program: "window".into(),
                listen: None,
                discovery: None,
                when_busy: yizhan_sync::engine::WhenBusy::Wait,
            },
            None,
        ) {
            Ok(e) => {
                self.web = e
                    .runtime()
                    .map(|rt| rt.spawn(serve_web(self.handle.clone())));
                self.engine = Some(e);
                self.engine_error = None;
                match crate::notices::Sender::start(
                    self.handle.clone(),
                    crate::notices::SenderOptions::from_env(),
                ) {
                    Ok(s) => self.sender = Some(s),
                    Err(e) => tracing::warn!("cannot start the notice sender: {e}"),
                }
            }
            Err(e) => self.engine_error = Some(e.to_string()),
        }
    }

    /// Stops the sync engine (the window closes, or its settings changed).
    pub(super) fn stop_engine(&mut self) {
        if let Some(w) = self.web.take() {
            w.abort();
        }
        if let Some(s) = self.sender.take() {
            s.stop();
        }
        if let Some(e) = self.engine.take() {
            e.stop();
        }
    }
}

/// Serves the progress page on the address the window's settings give (`Node::web_listen`),
/// if any: the window is the station for most users, so it serves the hall's query terminal as
/// `yizhan serve --http` does. Runs on the engine's runtime; the address is read on the store
/// thread without the UI thread waiting.
async fn serve_web(handle: NodeHandle) {
    let h = handle.clone();
    let read = tokio::task::spawn_blocking(move || {
        h.call(|n| {
            let title = n.roster().network_name.clone();
            Ok((n.web_listen()?, title))
        })
    })
    .await;
    let Ok(Ok((Some(addr), title))) = read else {
        return;
    };
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else {
        return;
    };
    match crate::web::bind(addr).await {
        Ok(listener) => {
            tracing::info!(%addr, "the window serves the progress page");
            let router = crate::web::router(
                handle,
                &title,
                std::sync::Arc::new(crate::web::Limiter::default()),
            );
            if let Err(e) = crate::web::serve(listener, router).await {
                tracing::error!("the progress page stopped: {e}");
            }
        }
        Err(e) => tracing::error!(%addr, "cannot serve the progress page: {e}"),
    }
}

/// Repaints the window whenever the store thread announces a committed write, so that a change
/// made by sync shows within a frame while an idle window does no work. The thread ends when
/// the store thread does (the announcing side is dropped).
fn wake_on_writes(mut rx: tokio::sync::watch::Receiver<i64>, ctx: egui::Context) {
    let spawned = std::thread::Builder::new()
        .name("yizhan-wake".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
                return;
            };
            rt.block_on(async move {
                while rx.changed().await.is_ok() {
                    ctx.request_repaint();
                }
            });
        });
    if let Err(e) = spawned {
        // Without it the slow poll still notices every change, only later.
        tracing::warn!("cannot start the window's wake-up thread: {e}");
    }
}
