//! An interrupted catch-up resumes where it stopped: the sans-I/O session over real stores, with
//! the link cut in the middle of a large catch-up (messages simply stop being delivered), both
//! sessions dropped, then a fresh session run to the end.

use crate::common::{Text, network};
use std::collections::BTreeSet;
use std::time::Instant;
use yizhan_node::case::Action;
use yizhan_node::query::CaseFilter;
use yizhan_node::{NewCase, Node};
use yizhan_sync::proto::Msg;
use yizhan_sync::testing::{Pair, Side};

const N: usize = 3_000;

fn cases(node: &mut Node) -> BTreeSet<String> {
    node.list(&CaseFilter {
        limit: 100_000,
        ..CaseFilter::default()
    })
    .unwrap()
    .into_iter()
    .map(|r| r.id)
    .collect()
}

/// What crossed the link in one run.
#[derive(Debug, Default)]
struct Run {
    bytes: usize,
    frames: usize,
    /// Documents whose changes or sync messages went from the township to the city.
    docs_sent: Vec<String>,
    done: bool,
    ms: u128,
}

/// Runs a session between `t` (dialer) and `c`, one frame at a time in each direction, until the
/// dialer is done (as `SyncNode::sync_once` stops) or `cut` says the link is gone (checked after
/// every frame the city handles).
fn run(t: &mut Node, c: &mut Node, cut: impl Fn(&mut Node) -> bool) -> Run {
    let started = Instant::now();
    let mut pair = Pair::one_shot(t, c).unwrap();
    let mut r = Run::default();
    while !pair.is_quiet() {
        if let Some(m) = pair.peek(Side::Acceptor) {
            // Frames between version 3 sessions are packed: look inside.
            match yizhan_sync::wire::unpack(m.unwrap()).unwrap() {
                Msg::Changes { docs } => r.docs_sent.extend(docs.into_iter().map(|d| d.id)),
                Msg::Sync { docs } => r.docs_sent.extend(docs.into_iter().map(|d| d.id)),
                Msg::Saved { docs } => r.docs_sent.extend(docs.into_iter().map(|d| d.id)),
                _ => {}
            }
            pair.deliver(Side::Acceptor, c, 1).unwrap();
            if cut(c) {
                // The link is gone: whatever is in flight is lost, both sessions are dropped.
                let link = pair.cut();
                (r.bytes, r.frames) = (link.bytes, link.frames);
                r.ms = started.elapsed().as_millis();
                return r;
            }
        }
        pair.deliver(Side::Dialer, t, 1).unwrap();
        if pair.session(Side::Dialer).is_done() {
            // As the iroh adapter does: the dialer stops; the city reads what was sent.
            r.done = true;
            break;
        }
        assert!(pair.link().frames < 10_000, "the sessions do not finish");
    }
    pair.deliver(Side::Acceptor, c, usize::MAX).unwrap();
    let link = pair.link();
    (r.bytes, r.frames) = (link.bytes, link.frames);
    r.ms = started.elapsed().as_millis();
    r
}

/// A township with `N` cases the city has never seen; the first catch-up is cut once the city
/// holds `cut_at` of them; a fresh session finishes the job without resending anything
/// committed.
fn interrupted_at(cut_at: usize) -> (Run, Run, i64) {
    let (_tmp, mut c, [mut t]) = network([("T1", "township", "C")]);
    let mut text = Text(0x5eed_1234_abcd_0001);
    let batch: Vec<NewCase> = (0..N)
        .map(|i| NewCase {
            item_code: "TS-004".into(),
            applicant_name: format!("申请人{i}"),
            address: text.take(200),
            operator: "窗口".into(),
            ..NewCase::default()
        })
        .collect();
    let all: BTreeSet<String> = t
        .new_cases(&batch)
        .unwrap()
        .into_iter()
        .map(|v| v.doc.id)
        .collect();
    // A long note on every case (about 4 KB per case in all).
    let notes: Vec<(String, Action)> = all
        .iter()
        .map(|id| {
            (
                id.clone(),
                Action::Note {
                    text: text.take(1_200),
                },
            )
        })
        .collect();
    t.act_many(&notes, "窗口").unwrap();
    let t_id = t.identity().node_id.clone();

    let first = run(&mut t, &mut c, |c| {
        c.count(&CaseFilter::default()).unwrap() as usize >= cut_at
    });
    assert!(!first.done);
    let present = cases(&mut c);
    assert!(
        present.len() >= cut_at && present.len() < N,
        "cut with {} of {N} cases at the city",
        present.len()
    );
    let watermark = c.peer(&t_id).unwrap().map_or(0, |p| p.received_seq);

    let second = run(&mut t, &mut c, |_| false);
    assert!(second.done, "the fresh session did not finish");
    assert_eq!(
        cases(&mut c),
        all,
        "the city holds every case after resuming"
    );
    let resent: Vec<&String> = second
        .docs_sent
        .iter()
        .filter(|id| present.contains(*id))
        .collect();
    assert!(
        resent.is_empty(),
        "{} documents committed in the first run were sent again",
        resent.len()
    );
    let sent: BTreeSet<&String> = second.docs_sent.iter().collect();
    assert_eq!(sent.len(), second.docs_sent.len(), "a document sent twice");
    assert_eq!(sent.len(), N - present.len());
    eprintln!(
        "cut at {} of {N} cases (watermark {watermark}): first run {} bytes in {} frames, {} ms; \
         resumed run {} bytes in {} frames, {} ms, {} documents sent",
        present.len(),
        first.bytes,
        first.frames,
        first.ms,
        second.bytes,
        second.frames,
        second.ms,
        sent.len()
    );
    let expected = first.bytes as f64 * (N - present.len()) as f64 / present.len() as f64;
    assert!(
        (second.bytes as f64) < 1.25 * expected + 64.0 * 1024.0,
        "the resumed run moved {} bytes, about {expected:.0} expected",
        second.bytes
    );
    // The watermark caught up: one more session is idle.
    let third = run(&mut t, &mut c, |_| false);
    assert!(third.done && third.docs_sent.is_empty());
    assert!(
        third.bytes < 4_096,
        "idle after resuming: {} bytes",
        third.bytes
    );
    (first, second, watermark)
}

#[test]
fn a_catch_up_cut_inside_an_offered_chunk_resumes_without_resending() {
    // The first `Have` offers 2,000 documents; the cut falls before all of them are here, so the
    // watermark has not moved and the fresh session must recognise what is already committed.
    let (_, _, watermark) = interrupted_at(N / 3);
    assert_eq!(
        watermark, 0,
        "the cut was meant to fall inside the first chunk"
    );
}

#[test]
fn a_catch_up_cut_late_resumes_with_a_fraction_of_the_bytes() {
    let (first, second, watermark) = interrupted_at(N * 3 / 4);
    assert!(
        watermark > 0,
        "the first chunk was committed before the cut"
    );
    assert!(
        second.bytes * 2 < first.bytes,
        "resumed run {} bytes, first run {}",
        second.bytes,
        first.bytes
    );
}

/// A one-shot dialer stops as soon as both sides have said `Idle`. The accepting side must not say
/// it before the dialer's offers have arrived and been answered: here the township knows more
/// certificates than the village, so the village's `Certs` reaches it before the village's `Have`,
/// and an `Idle` sent after the `Certs` would end the session with the village's cases unsent.
#[test]
fn a_one_shot_session_ends_only_after_the_dialers_offers_moved() {
    let (_tmp, _c, [mut t, mut v1, _v2]) = network([
        ("T1", "township", "C"),
        ("V1", "village", "T1"),
        ("V2", "village", "T1"),
    ]);
    let mut ids = BTreeSet::new();
    for i in 0..3 {
        let id = v1
            .new_case(&NewCase {
                item_code: "TS-004".into(),
                applicant_name: format!("村民{i}"),
                delegated: true,
                ..NewCase::default()
            })
            .unwrap()
            .doc
            .id;
        v1.act(&id, &Action::Forward { to: "T1".into() }, "代办员")
            .unwrap();
        ids.insert(id);
    }
    // Each side handles everything queued for it, then the other side does (the order frames
    // take when each side's reader drains a whole flight); the village stops once it is done.
    let mut pair = Pair::one_shot(&mut v1, &mut t).unwrap();
    pair.run(&mut v1, &mut t).unwrap();
    assert_eq!(cases(&mut t), ids, "the township has the village's cases");
}
