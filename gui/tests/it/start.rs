//! The first run, driven by label through egui_kittest: on an empty data directory the window
//! offers to create a network; filling the form creates a real store there (on a background
//! thread) and the window becomes the city station's window. Waits run frames until nothing is in
//! flight, with a deadline; nothing sleeps.

use crate::window_kit::*;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use std::time::{Duration, Instant};
use yizhan::app::Shell;
use yizhan_node::Clock;

#[test]
fn the_first_run_creates_a_network_and_opens_the_city_window() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let shell =
        Shell::new(data.clone(), Clock::Fixed(NOW)).with_demo(yizhan::demo::open_for_window);
    let mut builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    if yizhan::app::fonts::find_cjk_font().is_none() {
        builder = builder.allow_missing_glyphs();
    }
    let mut h = builder.build_ui_state(|ui, s: &mut Shell| s.ui(ui), shell);
    settle(&mut h);
    // The three ways in are offered; creating needs every field.
    assert!(h.query_by_label("打开演示").is_some());
    assert!(h.query_by_label("加入网络").is_some());
    type_into(&mut h, "网络名称", "测试市政务服务网");
    type_into(&mut h, "站点代码", "C01");
    type_into(&mut h, "站点名称", "测试市政务服务中心");
    h.get_by_label("新建网络").click();
    settle(&mut h);
    // The app exists now; let it load the station.
    settle(&mut h);
    let app = h
        .state()
        .app()
        .expect("the station window replaced the start screen");
    assert!(!app.busy());
    assert!(data.join(yizhan_node::store::STORE_FILE).exists());
    // The top bar shows the network's name.
    assert!(h.query_by_label_contains("测试市政务服务网").is_some());

    // The sync panel's tools: an invitation for a township gives a ticket to copy.
    h.get_by_label("同步").click();
    settle(&mut h);
    h.get_by_label("邀请新电脑（生成邀请码）").click();
    settle(&mut h);
    type_into(&mut h, "站点代码", "T01");
    type_into(&mut h, "站点名称", "北格镇便民服务中心");
    h.get_by_label("乡镇便民服务中心").click();
    type_into(&mut h, "本机地址", "127.0.0.1:7000");
    h.get_by_label("生成邀请码").click();
    settle(&mut h);
    let ticket = h.state().app().unwrap().sync_tool_result().cloned();
    let ticket = ticket.expect("an answer").expect("a ticket");
    let decoded = yizhan_sync::ticket::Ticket::decode(&ticket).expect("a valid ticket");
    assert_eq!(decoded.station, "T01");
    assert_eq!(decoded.tier, yizhan_node::station::Tier::Township);
    assert_eq!(decoded.addrs, ["127.0.0.1:7000"]);
    // 复制 puts the ticket on the clipboard, and says so.
    copies(&mut h, &ticket);
    // Saved to a file (for a USB stick): by default beside the store, the path editable.
    let file = data.join("邀请码-T01.txt");
    assert!(
        h.query_all_by_role(egui::accesskit::Role::TextInput)
            .any(|n| n.value().is_some_and(|v| v == file.display().to_string())),
        "the save path is prefilled"
    );
    h.get_by_label("保存到文件").click();
    settle(&mut h);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() && Instant::now() < deadline {
        h.step();
        std::thread::yield_now();
    }
    settle(&mut h);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), ticket);
    assert!(h.query_by_label_contains("已保存到").is_some());

    // A bundle of the city's documents is written where asked, on the store thread.
    let bundle = dir.path().join("city.yzb");
    h.get_by_label("离线包（U 盘同步）").click();
    settle(&mut h);
    type_into(&mut h, "导出到文件", &bundle.display().to_string());
    h.get_by_label("导出").click();
    settle(&mut h);
    let r = h.state().app().unwrap().sync_tool_result().cloned();
    assert!(r.expect("an answer").is_ok());
    assert!(bundle.exists());

    // Settings (city): the catalog is imported from a file on the store thread.
    h.get_by_label("设置").click();
    settle(&mut h);
    h.get_by_label("事项清单").click();
    settle(&mut h);
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node/data/catalog-default.json"
    );
    type_into(&mut h, "导入文件", file);
    h.get_by_label("导入事项清单").click();
    settle(&mut h);
    assert!(h.query_by_label_contains("已导入").is_some());
}

#[test]
fn a_bad_ticket_is_refused_on_the_start_screen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let shell = Shell::new(data.clone(), Clock::Fixed(NOW));
    let mut builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    if yizhan::app::fonts::find_cjk_font().is_none() {
        builder = builder.allow_missing_glyphs();
    }
    let mut h = builder.build_ui_state(|ui, s: &mut Shell| s.ui(ui), shell);
    settle(&mut h);
    type_into(&mut h, "邀请码", "yz1notaticket");
    h.get_by_label("加入网络").click();
    settle(&mut h);
    assert!(h.state().app().is_none());
    assert!(!data.join(yizhan_node::store::STORE_FILE).exists());
}

#[test]
fn a_ticket_can_be_pasted_into_the_join_field() {
    let dir = tempfile::tempdir().unwrap();
    let shell = Shell::new(dir.path().join("data"), Clock::Fixed(NOW));
    let mut builder = Harness::builder().with_size(egui::vec2(1024.0, 640.0));
    if yizhan::app::fonts::find_cjk_font().is_none() {
        builder = builder.allow_missing_glyphs();
    }
    let mut h = builder.build_ui_state(|ui, s: &mut Shell| s.ui(ui), shell);
    settle(&mut h);
    // What Ctrl+V (or the system's paste) delivers to the focused field.
    h.get_by_label("邀请码").click();
    h.step();
    h.event(egui::Event::Paste("yz1pasted-ticket".into()));
    settle(&mut h);
    assert_eq!(
        h.get_by_label("邀请码").value().as_deref(),
        Some("yz1pasted-ticket")
    );
    // The paste button is offered beside the field for those who do not know Ctrl+V.
    assert!(h.query_by_label("粘贴").is_some());
}
