//! Data mules and bundles: cases travel without a direct link, carried by a laptop or a USB stick.

use crate::common::{self, city, ids, network, sync};
use yizhan_node::Node;
use yizhan_node::case::Action;

fn new_case(node: &mut Node, name: &str) -> String {
    common::new_case(node, "TS-004", name, true)
}

#[test]
fn a_township_laptop_carries_a_villages_cases_up_to_the_hall_and_the_city() {
    // The laptop is a second node of the township station.
    let (_tmp, mut c, [mut hall, mut laptop, mut v]) = network([
        ("T", "township", "C"),
        ("T", "township", "T"),
        ("V", "village", "T"),
    ]);
    // The village has no link: the agent takes cases in and forwards them up, offline.
    let a = new_case(&mut v, "张三");
    v.act(&a, &Action::Forward { to: "T".into() }, "代办员")
        .unwrap();
    let b = new_case(&mut v, "李四");
    // The laptop visits the village, then returns to the hall, which later reaches the city.
    sync(&mut laptop, &mut v);
    assert_eq!(ids(&mut laptop).len(), 2);
    sync(&mut laptop, &mut hall);
    sync(&mut hall, &mut c);
    let mut want = vec![a.clone(), b];
    want.sort();
    assert_eq!(ids(&mut hall), want);
    assert_eq!(ids(&mut c), want);
    // The hall accepts; the decision rides back to the village on the laptop's next visit.
    hall.act(&a, &Action::Accept, "窗口").unwrap();
    sync(&mut laptop, &mut hall);
    sync(&mut laptop, &mut v);
    assert_eq!(v.case(&a).unwrap().state.status.as_str(), "accepted");
    assert_eq!(v.heads_of(&a).unwrap(), hall.heads_of(&a).unwrap());
}

#[test]
fn bundles_merge_in_any_order_any_number_of_times_and_refuse_strangers() {
    let (tmp, _c, [mut t, mut v1, mut v2]) = network([
        ("T", "township", "C"),
        ("V1", "village", "T"),
        ("V2", "village", "T"),
    ]);
    let a = new_case(&mut v1, "张三");
    let b = new_case(&mut v2, "李四");
    let first = tmp.path().join("v1-a.bundle");
    yizhan_sync::bundle::export(&mut v1, &first, None).unwrap();
    v1.act(&a, &Action::Forward { to: "T".into() }, "代办员")
        .unwrap();
    let second = tmp.path().join("v1-b.bundle");
    yizhan_sync::bundle::export(&mut v1, &second, None).unwrap();
    let from_v2 = tmp.path().join("v2.bundle");
    yizhan_sync::bundle::export(&mut v2, &from_v2, Some("T")).unwrap();

    // The newer bundle first, then the older one, then both again: the same result.
    let r = yizhan_sync::bundle::import(&mut t, &second).unwrap();
    assert_eq!(r.changed, 1);
    let seq = t.seq().unwrap();
    let r = yizhan_sync::bundle::import(&mut t, &first).unwrap();
    assert_eq!((r.changed, r.unchanged), (0, r.docs));
    yizhan_sync::bundle::import(&mut t, &second).unwrap();
    assert_eq!(t.seq().unwrap(), seq, "re-importing wrote nothing");
    assert_eq!(t.case(&a).unwrap().state.holder, "T");
    yizhan_sync::bundle::import(&mut t, &from_v2).unwrap();
    let mut want = vec![a.clone(), b];
    want.sort();
    assert_eq!(ids(&mut t), want);

    // The township's whole scope carried to village 1: it keeps only its own case.
    let all = tmp.path().join("t.bundle");
    yizhan_sync::bundle::export(&mut t, &all, None).unwrap();
    let r = yizhan_sync::bundle::import(&mut v1, &all).unwrap();
    assert!(r.out_of_scope >= 1);
    assert_eq!(ids(&mut v1), vec![a.clone()]);
    // A bundle made only of another village's case is refused at village 1.
    let err = yizhan_sync::bundle::import(&mut v1, &from_v2).unwrap_err();
    assert!(
        err.to_string().contains("outside this station's scope"),
        "{err}"
    );

    // Another network's node refuses the bundle; a damaged file is refused; nothing is written.
    let mut stranger = city(&tmp.path().join("x"));
    let before = stranger.seq().unwrap();
    let err = yizhan_sync::bundle::import(&mut stranger, &all).unwrap_err();
    assert!(err.to_string().contains("another network"), "{err}");
    let damaged = tmp.path().join("damaged.bundle");
    let mut bytes = std::fs::read(&all).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&damaged, bytes).unwrap();
    let err = yizhan_sync::bundle::import(&mut t, &damaged).unwrap_err();
    assert!(err.to_string().contains("not a Yizhan bundle"), "{err}");
    assert_eq!(stranger.seq().unwrap(), before);
}
