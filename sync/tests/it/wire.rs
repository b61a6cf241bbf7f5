//! Packed frames (protocol version 3, issue #14) between real stores: a version 3 node still syncs
//! with a version 2 node (in memory and over iroh, whichever side dials), a version 2 node gets
//! only the frames version 2 sends, and a compression bomb ends the session with nothing applied.

use crate::common::{city, enrol, ids, new_case, take_in};
use automerge::Change;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use yizhan_node::case::Action;
use yizhan_node::{Node, NodeHandle};
use yizhan_sync::net::SyncNode;
use yizhan_sync::proto::{DocChanges, Msg};
use yizhan_sync::session::Session;
use yizhan_sync::testing::{Pair, Side};
use yizhan_sync::wire::{Codec, Packed};
use yizhan_sync::{Denial, SyncError};

/// A city and a township, each with cases the other lacks (the city's forwarded to the township),
/// in a temporary directory that lives as long as the first value.
fn stores() -> (tempfile::TempDir, Node, Node) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut c = city(&root.join("c"));
    let mut t = enrol(&mut c, "T1", "township", &root.join("t"));
    take_in(&mut t, 30, "乡镇申请人");
    for i in 0..5 {
        let id = new_case(&mut c, "CT-002", &format!("市民{i}"), false);
        c.act(&id, &Action::Forward { to: "T1".into() }, "窗口")
            .unwrap();
    }
    (tmp, c, t)
}

/// Asserts that the city and the township hold the same `n` documents.
fn assert_same_documents(c: &mut Node, t: &mut Node, n: usize) {
    assert_eq!(ids(c).len(), n);
    assert_eq!(ids(t), ids(c));
}

/// A new session of each side: the township dialing, the city accepting.
fn sessions(t: &Node, c: &Node) -> (Session, Session) {
    (
        Session::new(t, &c.identity().node_id),
        Session::new(c, &t.identity().node_id),
    )
}

/// The city's accepting session once it has taken the township's opening messages, the
/// township speaking `version` when given (its own otherwise).
fn greeted(t: &mut Node, c: &mut Node, version: Option<u32>) -> Session {
    let (mut dialer, mut acceptor) = sessions(t, c);
    if let Some(v) = version {
        dialer = dialer.speaking(v);
    }
    for m in dialer.start(t).unwrap() {
        acceptor.handle(c, m).unwrap();
    }
    acceptor
}

/// What crossed in one direction of a run: frames, whether any was packed, and the changes in
/// `Changes` frames.
#[derive(Debug, Default)]
struct Seen {
    packed: usize,
    changes: Vec<Vec<u8>>,
}

fn look(seen: &mut Seen, m: Msg) {
    if let Msg::Packed(_) = m {
        seen.packed += 1;
    }
    if let Ok(Msg::Changes { docs }) = yizhan_sync::wire::unpack(m) {
        seen.changes
            .extend(docs.into_iter().flat_map(|d| d.changes));
    }
}

/// Runs a one-shot exchange frame by frame, recording what each side was sent.
fn run(pair: &mut Pair, t: &mut Node, c: &mut Node) -> Result<(Seen, Seen), SyncError> {
    let (mut to_city, mut to_town) = (Seen::default(), Seen::default());
    for _ in 0..10_000 {
        if pair.is_quiet() {
            break;
        }
        if let Some(m) = pair.peek(Side::Acceptor) {
            look(&mut to_city, m?);
            pair.deliver(Side::Acceptor, c, 1)?;
        }
        if let Some(m) = pair.peek(Side::Dialer) {
            look(&mut to_town, m?);
            pair.deliver(Side::Dialer, t, 1)?;
        }
    }
    pair.finish()?;
    Ok((to_city, to_town))
}

/// Whether a change is in Automerge's own compressed form, as version 2 sends it.
fn as_version_2_sends(bytes: &[u8]) -> bool {
    let mut c = Change::try_from(bytes).unwrap();
    c.bytes().as_ref() == bytes
}

#[test]
fn a_version_2_acceptor_refuses_version_3_and_a_redial_at_2_converges_with_its_frames() {
    let (_tmp, mut c, mut t) = stores();

    // A version 2 node refuses any other version (as the code before issue #14 does).
    let (dialer, acceptor) = sessions(&t, &c);
    let mut pair = Pair::open(dialer, acceptor.speaking(2), false);
    pair.start(&mut t).unwrap();
    let refused = pair.run(&mut t, &mut c).unwrap_err();
    assert!(
        matches!(refused, SyncError::Unauthorized(Denial::Version, _)),
        "{refused}"
    );

    // The dialer's second try speaks version 2: nothing packed either way, and every change it
    // sends is in the form version 2 sends.
    let (dialer, acceptor) = sessions(&t, &c);
    let mut pair = Pair::open(dialer.speaking(2), acceptor.speaking(2), false);
    pair.start(&mut t).unwrap();
    let (to_city, to_town) = run(&mut pair, &mut t, &mut c).unwrap();
    assert_eq!(pair.session(Side::Dialer).version(), 2);
    assert_eq!((to_city.packed, to_town.packed), (0, 0));
    assert!(to_city.changes.len() >= 30, "{}", to_city.changes.len());
    assert!(to_city.changes.iter().all(|c| as_version_2_sends(c)));
    assert!(to_town.changes.iter().all(|c| as_version_2_sends(c)));
    assert_same_documents(&mut c, &mut t, 35);
}

#[test]
fn a_version_2_dialer_is_answered_in_version_2_and_two_version_3_nodes_pack() {
    let (_tmp, mut c, mut t) = stores();
    let (dialer, acceptor) = sessions(&t, &c);
    let mut pair = Pair::open(dialer.speaking(2), acceptor, false);
    pair.start(&mut t).unwrap();
    let (to_city, to_town) = run(&mut pair, &mut t, &mut c).unwrap();
    assert_eq!(pair.session(Side::Acceptor).version(), 2);
    assert_eq!((to_city.packed, to_town.packed), (0, 0));
    assert!(to_town.changes.iter().all(|c| as_version_2_sends(c)));
    assert_eq!(ids(&mut t), ids(&mut c));

    // More work on both sides, then two version 3 sessions: packed frames, uncompressed changes.
    take_in(&mut t, 20, "又一位申请人");
    let id = new_case(&mut c, "CT-002", "市民甲", false);
    c.act(&id, &Action::Forward { to: "T1".into() }, "窗口")
        .unwrap();
    let (dialer, acceptor) = sessions(&t, &c);
    let mut pair = Pair::open(dialer, acceptor, false);
    pair.start(&mut t).unwrap();
    let (to_city, to_town) = run(&mut pair, &mut t, &mut c).unwrap();
    assert_eq!(pair.session(Side::Dialer).version(), 3);
    assert!(to_city.packed > 0 && to_town.packed > 0);
    assert!(to_city.changes.len() >= 20);
    assert!(
        to_city
            .changes
            .iter()
            .all(|b| Change::try_from(&b[..]).unwrap().raw_bytes() == &b[..]),
        "version 3 sends changes uncompressed"
    );
    assert_same_documents(&mut c, &mut t, 56);
}

#[test]
fn a_compression_bomb_ends_the_session_and_applies_nothing() {
    let (_tmp, mut c, mut t) = stores();
    let before = ids(&mut c);
    let mut acceptor = greeted(&mut t, &mut c, None);
    // A real change of a township case, inside a `Changes` message padded with a document
    // whose "change" is 64 MiB of zeros: compressed, a few KiB; announced as 1 MiB.
    let id = ids(&mut t)[0].clone();
    let real = t.changes_for(&id, &[]).unwrap();
    let msg = Msg::Changes {
        docs: vec![
            DocChanges { id, changes: real },
            DocChanges {
                id: "padding".into(),
                changes: vec![vec![0; 64 << 20]],
            },
        ],
    };
    let body = postcard::to_stdvec(&msg).unwrap();
    let bytes = zstd::bulk::compress(&body, 1).unwrap();
    drop((msg, body));
    assert!(bytes.len() < 1 << 20);
    let bomb = Msg::Packed(Packed {
        codec: Codec::Zstd,
        len: 1 << 20,
        bytes: bytes.clone(),
    });
    let err = acceptor.handle(&mut c, bomb).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    assert_eq!(ids(&mut c), before, "nothing of the frame was applied");
    // Announced honestly it is over the bound before anything is allocated.
    let mut acceptor = greeted(&mut t, &mut c, None);
    let honest = Msg::Packed(Packed {
        codec: Codec::Zstd,
        len: u32::MAX,
        bytes,
    });
    let err = acceptor.handle(&mut c, honest).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(ids(&mut c), before);
}

#[test]
fn a_packed_frame_before_the_hello_or_in_version_2_is_refused() {
    let (_tmp, mut c, mut t) = stores();
    let packed = yizhan_sync::wire::pack(Msg::Certs {
        certs: vec!["x".repeat(1000)],
    });
    assert!(matches!(packed, Msg::Packed(_)));
    let (_, mut acceptor) = sessions(&t, &c);
    assert!(acceptor.handle(&mut c, packed.clone()).is_err());
    let mut acceptor = greeted(&mut t, &mut c, Some(2));
    assert_eq!(acceptor.version(), 2);
    assert!(acceptor.handle(&mut c, packed).is_err());
}

/// A node on its store thread with an iroh endpoint on 127.0.0.1.
struct Running {
    handle: NodeHandle,
    _thread: yizhan_node::handle::NodeThread,
    net: SyncNode,
    id: String,
    addrs: Vec<SocketAddr>,
}

async fn running(node: Node) -> Running {
    let (handle, thread) = NodeHandle::spawn(node).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let net = SyncNode::bind(handle.clone(), SocketAddr::from(([127, 0, 0, 1], 0)), tx)
        .await
        .unwrap();
    Running {
        handle,
        _thread: thread,
        id: net.node_id().to_string(),
        addrs: net.loopback_addrs(),
        net,
    }
}

async fn count(r: &Running) -> usize {
    let h = r.handle.clone();
    tokio::task::spawn_blocking(move || {
        h.call(|n| n.count(&yizhan_node::query::CaseFilter::default()))
    })
    .await
    .unwrap()
    .unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_iroh_a_version_3_node_syncs_with_a_version_2_node_whichever_dials() {
    let (_tmp, c, t) = stores();
    let (c, t) = (running(c).await, running(t).await);
    // The city plays a node of the previous version: it refuses version 3, and the township,
    // refused, dials again speaking version 2.
    c.net.speak_at_most(2);
    let pass = Duration::from_secs(30);
    let r = tokio::time::timeout(pass, t.net.sync_once(&c.id, &c.addrs))
        .await
        .expect("sync hung")
        .unwrap();
    assert!(r.error.is_none(), "{r:?}");
    assert_eq!((count(&c).await, count(&t).await), (35, 35));
    // The other way: the township plays version 2 and dials the version 3 city.
    c.net.speak_at_most(3);
    t.net.speak_at_most(2);
    let h = t.handle.clone();
    tokio::task::spawn_blocking(move || {
        h.call(|n| {
            n.new_cases(&[yizhan_node::NewCase {
                item_code: "TS-004".into(),
                applicant_name: "最后一位".into(),
                ..yizhan_node::NewCase::default()
            }])
        })
    })
    .await
    .unwrap()
    .unwrap();
    let r = tokio::time::timeout(pass, t.net.sync_once(&c.id, &c.addrs))
        .await
        .expect("sync hung")
        .unwrap();
    assert!(r.error.is_none(), "{r:?}");
    assert_eq!(count(&c).await, 36);
    t.net.shutdown().await;
    c.net.shutdown().await;
}
