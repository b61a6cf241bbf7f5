//! Frame time of the station window with 100,000 cases (issue #4: "< 10 ms median").
//!
//! `cargo bench -p yizhan --bench frame_time` builds (once) a real city store with 100,000 cases
//! taken in over 20 days, 5,000 a day, one in twenty of the city's own items accepted so that the
//! list shows deadlines and lights; opens the real [`App`] on it at 1280×800 through an
//! `egui::Context`, runs frames until the list and the dashboard have loaded, then times frames of
//! the case list (scrolling with the mouse wheel as it goes, so new pages are fetched while frames
//! run) and of the dashboard, and prints p50 / p90 / max per screen.
//!
//! A frame here is what eframe does on the CPU for every repaint: `Context::run_ui` (input, layout,
//! the app's code, polling the store thread's answers) plus tessellation. Only the upload to the
//! GPU and the driver's work are left out, since a headless machine has no GPU to measure.
//!
//! The store is kept in `target/yizhan-frame-bench` (or `$YIZHAN_BENCH_STORE`) and reused when it
//! already holds the cases, so reruns take seconds. `FRAMES=N` changes the frames timed per screen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use eframe::egui;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use yizhan::app::{App, AppInit, Command, Screen, StartView, StationSlot};
use yizhan_node::case::Action;
use yizhan_node::catalog::Catalog;
use yizhan_node::query::CaseFilter;
use yizhan_node::station::Tier;
use yizhan_node::{Clock, InitParams, NewCase, Node, NodeHandle};

/// Cases in the store.
const CASES: u64 = 100_000;
/// Cases per intake batch (one transaction each), one batch per day.
const BATCH: usize = 5_000;
/// 2026-03-02T09:00:00+08:00, a Monday: the last day of intake and the day the window shows.
const NOW: i64 = 1_772_413_200_000;
const DAY: i64 = 86_400_000;

fn store_dir() -> PathBuf {
    std::env::var_os("YIZHAN_BENCH_STORE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/yizhan-frame-bench"),
        PathBuf::from,
    )
}

/// Opens the store if it already holds the cases, or builds it from scratch.
fn prepare(dir: &Path) -> Node {
    if dir.join(yizhan_node::store::STORE_FILE).exists() {
        let mut node = Node::open(dir, Clock::Fixed(NOW)).expect("open the bench store");
        let n = node.count(&CaseFilter::default()).expect("count");
        if n >= CASES {
            println!("reusing {} ({n} cases)", dir.display());
            return node;
        }
        drop(node);
        println!("{} holds {n} cases: building it again", dir.display());
        std::fs::remove_dir_all(dir).expect("remove the old bench store");
    }
    let started = Instant::now();
    let days = CASES.div_ceil(BATCH as u64) as i64;
    let first_day = NOW - (days - 1) * DAY;
    let node = Node::init(
        dir,
        Clock::Fixed(first_day),
        &InitParams::new("太原市政务服务网", "140100", "太原市政务服务中心"),
    )
    .expect("init");
    drop(node);
    let catalog = Catalog::default_catalog();
    let items: Vec<_> = catalog.items().collect();
    let surnames = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    let given = [
        "小明", "建国", "秀英", "桂兰", "志强", "丽娟", "海燕", "国庆",
    ];
    let mut made = 0u64;
    for day in 0..days {
        // One day's intake, on that day's clock, so that creation dates and deadlines spread.
        let mut node = Node::open(dir, Clock::Fixed(first_day + day * DAY)).expect("open");
        let n = BATCH.min((CASES - made) as usize);
        let batch: Vec<NewCase> = (0..n)
            .map(|i| {
                let k = made as usize + i;
                NewCase {
                    item_code: items[k % items.len()].code.clone(),
                    applicant_name: format!(
                        "{}{}",
                        surnames[k % surnames.len()],
                        given[(k / 10) % given.len()]
                    ),
                    delegated: k.is_multiple_of(3),
                    operator: "基准".into(),
                    ..NewCase::default()
                }
            })
            .collect();
        let views = node.new_cases(&batch).expect("intake");
        // One in twenty of the city's own items is accepted at once: the clock starts, and by the
        // last day the oldest of them are red or overdue.
        let accept: Vec<(String, Action)> = views
            .iter()
            .enumerate()
            .filter(|(i, v)| i.is_multiple_of(20) && v.doc.item.tier == Tier::City)
            .map(|(_, v)| (v.doc.id.clone(), Action::Accept))
            .collect();
        if !accept.is_empty() {
            node.act_many(&accept, "基准").expect("accept");
        }
        made += n as u64;
    }
    println!(
        "built {} with {made} cases in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Node::open(dir, Clock::Fixed(NOW)).expect("open")
}

/// The window under test: the real app in a real egui context.
struct Window {
    ctx: egui::Context,
    app: App,
    time: f64,
}

impl Window {
    const SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);

    /// Runs one frame as eframe would (minus the GPU), with these input events.
    fn frame(&mut self, events: Vec<egui::Event>) -> Duration {
        self.time += 1.0 / 60.0;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, Self::SIZE)),
            time: Some(self.time),
            events,
            ..egui::RawInput::default()
        };
        let started = Instant::now();
        let out = self.ctx.run_ui(input, |ui| self.app.ui(ui));
        let primitives = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        let elapsed = started.elapsed();
        std::hint::black_box(primitives);
        elapsed
    }

    /// Runs frames until nothing is in flight three frames in a row (with a deadline).
    fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut quiet = 0;
        while quiet < 3 {
            self.frame(Vec::new());
            quiet = if self.app.busy() { 0 } else { quiet + 1 };
            assert!(Instant::now() < deadline, "the window did not settle");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let frames: usize = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = store_dir();
    let node = prepare(&dir);
    let (handle, thread) = NodeHandle::spawn(node).expect("spawn the store thread");
    let mut w = Window {
        ctx: egui::Context::default(),
        app: App::new(AppInit {
            stations: vec![StationSlot {
                label: "太原市政务服务中心".into(),
                handle,
                sync: None,
            }],
            county: None,
        })
        .with_start(None, Some(StartView::Screen(Screen::Cases))),
        time: 0.0,
    };
    w.settle();
    assert_eq!(w.app.screen(), Screen::Cases);
    assert!(
        !w.app.listed_rows().is_empty(),
        "the case list did not load"
    );

    // The list: the pointer over the table, scrolling down three rows a frame; every few frames
    // a new page of 200 rows is asked for and arrives while frames go on.
    let pointer = egui::pos2(640.0, 500.0);
    let mut list = Vec::with_capacity(frames);
    for i in 0..frames {
        let mut events = vec![egui::Event::PointerMoved(pointer)];
        if i.is_multiple_of(2) {
            events.push(egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -90.0),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: egui::Modifiers::NONE,
            });
        }
        list.push(w.frame(events));
    }
    let rows_seen = w.app.listed_rows().len();

    // The worst case for the list: a jump of about 800 rows every frame (as when the scroll bar
    // is dragged), so nearly every frame shows rows that are not fetched yet and asks for them.
    let mut jumping = Vec::with_capacity(frames);
    for _ in 0..frames {
        jumping.push(w.frame(vec![
            egui::Event::PointerMoved(pointer),
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -20_000.0),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: egui::Modifiers::NONE,
            },
        ]));
    }
    w.settle();

    w.app.push_command(Command::Show(Screen::Dashboard));
    w.settle();
    let mut dashboard = Vec::with_capacity(frames);
    for _ in 0..frames {
        dashboard.push(w.frame(vec![egui::Event::PointerMoved(egui::pos2(640.0, 400.0))]));
    }

    println!();
    println!(
        "frame time, {CASES} cases, 1280×800, {frames} frames per screen (run_ui + tessellate):"
    );
    println!("| screen | p50 | p90 | max |");
    println!("|---|---|---|---|");
    for (name, mut times) in [
        ("case list, scrolling", list),
        ("case list, jumping", jumping),
        ("dashboard (city)", dashboard),
    ] {
        times.sort();
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 1.0)
        );
    }
    println!("({rows_seen} rows fetched while scrolling)");
    drop(w);
    thread.join();
}
