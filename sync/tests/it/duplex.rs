//! Two sides that both answer with large batches at once must not deadlock.
//!
//! Two nodes of one township station (the hall and a laptop), each holding cases the other has
//! never seen, sync over an in-memory pipe with a 64 KiB buffer. Each side's answers (`Changes`
//! frames of up to 2 MiB) are far larger than the pipe plus the reader's queue, so a session loop
//! that blocked on its own writes while the peer blocked on its writes would hang; the real
//! adapter (`yizhan_sync::net::sync_stream`, the same loop the iroh connections run) must finish
//! with every case on both sides.

use crate::common::{Text, ids, network};
use std::time::Duration;
use yizhan_node::{NewCase, Node, NodeHandle};
use yizhan_sync::net::sync_stream;

/// Cases per side.
const N: usize = 2_500;

/// `N` delegated cases of about 12 KB each, some 30 MB per side (40 handed-over materials of 100 characters).
fn fill(node: &mut Node, seed: u64) {
    let mut text = Text(seed);
    let batch: Vec<NewCase> = (0..N)
        .map(|i| NewCase {
            item_code: "TS-004".into(),
            applicant_name: format!("申请人{seed}-{i}"),
            delegated: true,
            handed_over: (0..40).map(|_| text.take(100)).collect(),
            operator: "窗口".into(),
            ..NewCase::default()
        })
        .collect();
    node.new_cases(&batch).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_sending_large_batches_at_once_do_not_deadlock() {
    let (_tmp, _c, [mut hall, mut laptop]) =
        network([("T", "township", "C"), ("T", "township", "T")]);
    fill(&mut hall, 1);
    fill(&mut laptop, 2);
    let mut want = ids(&mut hall);
    want.extend(ids(&mut laptop));
    want.sort();
    assert_eq!(want.len(), 2 * N);

    let hall_id = hall.identity().node_id.clone();
    let laptop_id = laptop.identity().node_id.clone();
    let (h, h_thread) = NodeHandle::spawn(hall).unwrap();
    let (l, l_thread) = NodeHandle::spawn(laptop).unwrap();
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (a_recv, a_send) = tokio::io::split(a);
    let (b_recv, b_send) = tokio::io::split(b);
    let dialer = tokio::spawn(sync_stream(l.clone(), hall_id, a_recv, a_send, true));
    let listener = tokio::spawn(sync_stream(h.clone(), laptop_id, b_recv, b_send, false));
    // Generous for a debug build on a loaded 2-core machine; a deadlock never finishes.
    let both = tokio::time::timeout(Duration::from_secs(300), async {
        (dialer.await.unwrap(), listener.await.unwrap())
    })
    .await
    .expect("the two sessions deadlocked");
    let (dr, lr) = both;
    assert_eq!(dr.error, None, "dialer: {dr:?}");
    assert_eq!(lr.error, None, "listener: {lr:?}");
    // Both sides sent far more than the pipe and the reader's queue hold.
    assert!(dr.bytes_out > 8 * 1024 * 1024, "{dr:?}");
    assert!(lr.bytes_out > 8 * 1024 * 1024, "{lr:?}");

    let got_hall = h.call(|n| Ok(ids(n))).unwrap();
    let got_laptop = l.call(|n| Ok(ids(n))).unwrap();
    assert_eq!(got_hall, want);
    assert_eq!(got_laptop, want);
    drop((h, l));
    h_thread.join();
    l_thread.join();
}
