//! What the window's tests share: real nodes (a city, stations enrolled by it), a window over
//! their store threads at 1280×800, and the waits and clicks by label. Every wait runs frames
//! until the window has no request in flight, with a deadline; nothing sleeps.

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use std::path::Path;
use std::time::{Duration, Instant};
use yizhan::app::{App, AppInit, Command, Shell, StationSlot};
use yizhan_node::case::Status;
use yizhan_node::network::Station;
use yizhan_node::{CaseView, Clock, InitParams, NewCase, Node, NodeHandle};

/// 2026-03-02T09:00:00+08:00, a Monday.
pub const NOW: i64 = 1_772_413_200_000;

/// A new network's city station `C` (测试市政务服务中心) in `dir/city`, on a fixed clock.
pub fn city(dir: &Path, now: i64) -> Node {
    Node::init(
        &dir.join("city"),
        Clock::Fixed(now),
        &InitParams::new("测试市", "C", "测试市政务服务中心"),
    )
    .unwrap()
}

/// A case of `item` taken in at `node` for `applicant`, with nothing else filled in.
pub fn take_in(node: &mut Node, item: &str, applicant: &str) -> CaseView {
    node.new_case(&NewCase {
        item_code: item.into(),
        applicant_name: applicant.into(),
        ..NewCase::default()
    })
    .unwrap()
}

pub fn station(code: &str, name: &str, tier: &str, parent: &str) -> Station {
    Station {
        code: code.into(),
        name: name.into(),
        tier: tier.parse().expect("a tier"),
        parent: parent.into(),
    }
}

/// Enrols a node for `st` at `city` (invited there now), in `dir`, on the fixed clock [`NOW`].
pub fn join(city: &mut Node, st: Station, dir: &Path) -> Node {
    city.enrol_here(st, dir, Clock::Fixed(NOW)).unwrap()
}

/// A city (as [`city`]) with its township `T` (北格镇便民服务中心) enrolled, both on the fixed
/// clock `now`, in a new temporary directory that lives as long as the first value.
pub fn city_and_township(now: i64) -> (tempfile::TempDir, Node, Node) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut city = city(dir, now);
    let st = station("T", "北格镇便民服务中心", "township", "C");
    city.add_station(st.clone()).unwrap();
    let township = city
        .enrol_here(st, &dir.join("township"), Clock::Fixed(now))
        .unwrap();
    (tmp, city, township)
}

/// A window over these stations (label, store thread), settled.
pub fn window(stations: &[(&str, &NodeHandle)]) -> Harness<'static, App> {
    let app = App::new(AppInit {
        stations: stations
            .iter()
            .map(|(label, handle)| StationSlot {
                label: (*label).into(),
                handle: (*handle).clone(),
                sync: None,
            })
            .collect(),
        county: None,
    });
    harness(app, egui::vec2(1280.0, 800.0))
}

/// A window of `size` showing `app`, settled.
/// `node` on its store thread, shown alone in a window whose station switcher calls it `name`.
/// The handle is for the test to read the node behind the window's back.
pub fn node_window(node: Node, name: &str) -> (NodeHandle, Harness<'static, App>) {
    let (handle, _) = NodeHandle::spawn(node).unwrap();
    let h = window(&[(name, &handle)]);
    (handle, h)
}

pub fn harness(app: App, size: egui::Vec2) -> Harness<'static, App> {
    let mut builder = Harness::builder().with_size(size);
    if yizhan::app::fonts::find_cjk_font().is_none() {
        // Without a CJK font the labels are still there for the accessibility tree; only the
        // pixels would be boxes.
        builder = builder.allow_missing_glyphs();
    }
    let mut h = builder.build_ui_state(|ui, app: &mut App| app.ui(ui), app);
    settle(&mut h);
    h
}

/// The status of the case open in the window.
pub fn status(h: &Harness<'_, App>) -> Status {
    h.state().open_case().expect("a case is open").state.status
}

/// The township item with two departments (并联审批) and six materials.
pub const ITEM: &str = "TS-006";
pub const DEPTS: [&str; 2] = ["乡镇农业农村办公室", "乡镇自然资源所"];

/// A county of three real nodes, each station on its own store thread.
pub struct County {
    /// Where the three stores live; removed when the county is dropped.
    pub dir: tempfile::TempDir,
    pub village: NodeHandle,
    pub township: NodeHandle,
    pub village_id: String,
}

/// The window over the county's village and township, the township shown first when
/// `township_first` (the village otherwise).
pub fn county_window(c: &County, township_first: bool) -> Harness<'static, App> {
    let village = ("北格村便民服务站", &c.village);
    let township = ("北格镇便民服务中心", &c.township);
    window(&if township_first {
        [township, village]
    } else {
        [village, township]
    })
}

/// A new [`county`] with [`county_window`] over it.
pub fn county_with_window(township_first: bool) -> (County, Harness<'static, App>) {
    let c = county();
    let h = county_window(&c, township_first);
    (c, h)
}

/// A city (C), a township (T) and a village under it (V); the village joins first so that the
/// township's enrolment carries the village's certificate.
pub fn county() -> County {
    let dir = tempfile::tempdir().unwrap();
    let mut city = city(dir.path(), NOW);
    city.add_station(station("T", "北格镇便民服务中心", "township", "C"))
        .unwrap();
    let village = join(
        &mut city,
        station("V", "北格村便民服务站", "village", "T"),
        &dir.path().join("village"),
    );
    let township = join(
        &mut city,
        station("T", "北格镇便民服务中心", "township", "C"),
        &dir.path().join("township"),
    );
    let village_id = village.identity().node_id.clone();
    let (village, _) = NodeHandle::spawn(village).unwrap();
    let (township, _) = NodeHandle::spawn(township).unwrap();
    County {
        dir,
        village,
        township,
        village_id,
    }
}

/// A window state that can say whether a request is still in flight.
pub trait Busy {
    fn busy(&self) -> bool;
}

impl Busy for App {
    fn busy(&self) -> bool {
        App::busy(self)
    }
}

impl Busy for Shell {
    fn busy(&self) -> bool {
        Shell::busy(self)
    }
}

/// Runs frames until nothing is in flight (three frames in a row), or fails after a deadline.
pub fn settle<S: Busy>(h: &mut Harness<'_, S>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet = 0;
    while quiet < 3 {
        h.step();
        quiet = if h.state().busy() { 0 } else { quiet + 1 };
        assert!(Instant::now() < deadline, "the window did not settle");
        std::thread::yield_now();
    }
}

/// Whether some widget's label contains `text` (the status bar may repeat a panel's message).
pub fn shows<S>(h: &Harness<'_, S>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

pub fn click<S: Busy>(h: &mut Harness<'_, S>, label: &str) {
    h.get_by_label(label).click();
    settle(h);
}

/// The button with this label, if the window offers it (timeline labels share some names).
pub fn button<'h, S>(h: &'h Harness<'_, S>, label: &'h str) -> Option<egui_kittest::Node<'h>> {
    h.query_by_role_and_label(egui::accesskit::Role::Button, label)
}

/// Clicks 复制 and checks that `text` went to the clipboard and that the window says so.
pub fn copies<S: Busy>(h: &mut Harness<'_, S>, text: &str) {
    button(h, "复制").expect("a copy button").click();
    h.step();
    assert!(
        h.output()
            .platform_output
            .commands
            .contains(&egui::OutputCommand::CopyText(text.to_string())),
        "{text:?} was not copied"
    );
    settle(h);
    assert!(h.query_by_label_contains("已复制").is_some());
}

pub fn press<S: Busy>(h: &mut Harness<'_, S>, label: &str) {
    button(h, label)
        .unwrap_or_else(|| panic!("no button {label}"))
        .click();
    settle(h);
}

/// Opens the intake screen (收件登记) and picks the item that typing `search` finds, the one whose
/// row names `item`.
pub fn pick_item(h: &mut Harness<'_, App>, search: &str, item: &str) {
    click(h, "收件登记");
    type_into(h, "查找事项", search);
    h.get_by_label_contains(item).click();
    settle(h);
}

/// Pushes `command` as the screens would and lets the window settle.
pub fn push_settled(h: &mut Harness<'_, App>, command: Command) {
    h.state_mut().push_command(command);
    settle(h);
}

pub fn type_into<S: Busy>(h: &mut Harness<'_, S>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.get_by_label(label).type_text(text);
    settle(h);
}
