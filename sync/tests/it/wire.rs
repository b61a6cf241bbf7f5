//! Packed frames (protocol version 3, issue #14) and whole documents (version 4) between real
//! stores: a version 4 node still syncs with version 3 and version 2 nodes (in memory and over
//! iroh, whichever side dials), an older node gets only the frames its version sends, and a
//! compression bomb, in a frame or inside an Automerge change, document or sync message, ends the
//! session with nothing applied.

use crate::common::{city, enrol, ids, new_case, take_in};
use automerge::{ActorId, Automerge, AutomergeError, Change, transaction::Transactable as _};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use yizhan_node::case::Action;
use yizhan_node::replica::RemoteDoc;
use yizhan_node::{Node, NodeHandle};
use yizhan_sync::net::SyncNode;
use yizhan_sync::proto::{DocChanges, DocSaved, DocSync, Msg};
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
    /// Whole documents (`Saved`, version 4): id and bytes.
    saved: Vec<(String, Vec<u8>)>,
}

fn look(seen: &mut Seen, m: Msg) {
    if let Msg::Packed(_) = m {
        seen.packed += 1;
    }
    match yizhan_sync::wire::unpack(m) {
        Ok(Msg::Changes { docs }) => seen
            .changes
            .extend(docs.into_iter().flat_map(|d| d.changes)),
        Ok(Msg::Saved { docs }) => seen.saved.extend(docs.into_iter().map(|d| (d.id, d.bytes))),
        _ => {}
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

/// A one-shot exchange between the township (dialing) and the city, each speaking at most the
/// version given (its own when none): the pair, then what the city and the township were sent.
fn exchange(
    t: &mut Node,
    c: &mut Node,
    dialer: Option<u32>,
    acceptor: Option<u32>,
) -> (Pair, Seen, Seen) {
    let (mut d, mut a) = sessions(t, c);
    if let Some(v) = dialer {
        d = d.speaking(v);
    }
    if let Some(v) = acceptor {
        a = a.speaking(v);
    }
    let mut pair = Pair::open(d, a, false);
    pair.start(t).unwrap();
    let (to_city, to_town) = run(&mut pair, t, c).unwrap();
    (pair, to_city, to_town)
}

/// A city speaking at most `acceptor` refuses the township's own version, as a node of that
/// earlier version does.
fn assert_version_refused(t: &mut Node, c: &mut Node, acceptor: u32) {
    let (dialer, a) = sessions(t, c);
    let mut pair = Pair::open(dialer, a.speaking(acceptor), false);
    pair.start(t).unwrap();
    let refused = pair.run(t, c).unwrap_err();
    assert!(
        matches!(refused, SyncError::Unauthorized(Denial::Version, _)),
        "{refused}"
    );
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
    assert_version_refused(&mut t, &mut c, 2);

    // The dialer's second try speaks version 2: nothing packed either way, and every change it
    // sends is in the form version 2 sends.
    let (pair, to_city, to_town) = exchange(&mut t, &mut c, Some(2), Some(2));
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
    let (pair, to_city, to_town) = exchange(&mut t, &mut c, Some(2), None);
    assert_eq!(pair.session(Side::Acceptor).version(), 2);
    assert_eq!((to_city.packed, to_town.packed), (0, 0));
    assert!(to_town.changes.iter().all(|c| as_version_2_sends(c)));
    assert_eq!(ids(&mut t), ids(&mut c));

    // More work on both sides, then two sessions speaking version 3: packed frames,
    // uncompressed changes, and no whole documents.
    take_in(&mut t, 20, "又一位申请人");
    let id = new_case(&mut c, "CT-002", "市民甲", false);
    c.act(&id, &Action::Forward { to: "T1".into() }, "窗口")
        .unwrap();
    let (pair, to_city, to_town) = exchange(&mut t, &mut c, Some(3), None);
    assert_eq!(pair.session(Side::Acceptor).version(), 3);
    assert!(to_city.packed > 0 && to_town.packed > 0);
    assert!(to_city.saved.is_empty() && to_town.saved.is_empty());
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
fn version_4_sends_a_document_the_peer_never_held_whole_and_it_is_stored_as_it_came() {
    let (_tmp, mut c, mut t) = stores();

    // A version 3 node refuses version 4; the dialer's second try at 3 converges without
    // whole documents.
    assert_version_refused(&mut t, &mut c, 3);

    // Two version 4 nodes: every case one side lacks travels whole, packed, in both directions.
    let (pair, to_city, to_town) = exchange(&mut t, &mut c, None, None);
    assert_eq!(pair.session(Side::Dialer).version(), 4);
    assert!(to_city.packed > 0 && to_town.packed > 0);
    assert_eq!(to_city.saved.len(), 30, "the township's 30 cases");
    assert_eq!(to_town.saved.len(), 5, "the city's 5 forwarded cases");
    assert_same_documents(&mut c, &mut t, 35);
    for (id, bytes) in &to_city.saved {
        // Stored as received: the city hands on exactly the bytes the township sent, and they
        // are the township's document.
        assert_eq!(c.saved_doc(id).unwrap().as_ref(), Some(bytes), "{id}");
        assert_eq!(c.heads_of(id).unwrap(), t.heads_of(id).unwrap());
        assert_eq!(c.case(id).unwrap().doc, t.case(id).unwrap().doc);
    }

    // A case the city holds goes as changes when it changes again, not whole.
    let (first, _) = &to_city.saved[0];
    t.act(
        first,
        &Action::Note {
            text: "补充说明".into(),
        },
        "窗口",
    )
    .unwrap();
    let (_, to_city, _) = exchange(&mut t, &mut c, None, None);
    assert!(to_city.saved.is_empty());
    assert!(!to_city.changes.is_empty());
    assert_eq!(c.heads_of(first).unwrap(), t.heads_of(first).unwrap());
}

/// A held case's changes are stored as increments: those that build on the city's heads as
/// they came, the others from the merged document. Either way the stored bytes read back as the
/// merged document, and the same changes again change nothing.
#[test]
fn a_held_case_s_changes_are_stored_so_that_they_read_back_as_the_merged_document() {
    let (_tmp, mut c, mut t) = stores();
    exchange(&mut t, &mut c, None, None);
    let ids_t = ids(&mut t);
    let t_id = t.identity().node_id.clone();
    let note = |n: &mut Node, id: &str, text: &str| {
        n.act(id, &Action::Note { text: text.into() }, "窗口")
            .unwrap();
    };
    // Two notes at the township, one after the other, on what the city holds.
    let linear = &ids_t[0];
    let city_heads = c.heads_of(linear).unwrap().unwrap();
    note(&mut t, linear, "一");
    note(&mut t, linear, "二");
    // A note at each end of another case: the township's builds on heads the city has moved
    // on from.
    let branched = &ids_t[1];
    let common = c.heads_of(branched).unwrap().unwrap();
    note(&mut c, branched, "市");
    note(&mut t, branched, "镇");
    let linear_changes = t.missing_changes(linear, &city_heads).unwrap().unwrap();
    assert_eq!(linear_changes.len(), 2);
    let batch = [
        RemoteDoc::changes(linear.as_str(), linear_changes.clone()),
        RemoteDoc::changes(
            branched.as_str(),
            t.missing_changes(branched, &common).unwrap().unwrap(),
        ),
    ];
    let applied = c.apply_remote(&t_id, &batch).unwrap();
    assert_eq!(applied.changed, 2);
    // The township's changes are the stored document's last bytes.
    let stored = c.saved_doc(linear).unwrap().unwrap();
    assert!(stored.ends_with(&linear_changes.concat()));
    for id in [linear, branched] {
        let stored = Automerge::load(&c.saved_doc(id).unwrap().unwrap()).unwrap();
        let mut heads = stored.get_heads();
        heads.sort();
        let mut held = c.heads_of(id).unwrap().unwrap();
        held.sort();
        assert_eq!(heads, held, "{id}");
        for h in t.heads_of(id).unwrap().unwrap() {
            assert!(stored.get_change_meta_by_hash(&h).is_some(), "{id}");
        }
        assert_eq!(
            yizhan_node::case::doc::read_case(&stored, id).unwrap(),
            c.case(id).unwrap().doc,
            "{id}"
        );
    }
    assert_eq!(c.heads_of(linear).unwrap(), t.heads_of(linear).unwrap());
    let seq = c.seq().unwrap();
    let again = c.apply_remote(&t_id, &batch).unwrap();
    assert_eq!((again.changed, again.unchanged), (0, 2));
    assert_eq!(c.seq().unwrap(), seq);
}

#[test]
fn a_whole_document_is_checked_like_its_changes_and_a_bad_one_is_refused_with_its_batch() {
    let (_tmp, mut c, [mut t1, mut t2, v]) = crate::common::network([
        ("T1", "township", "C"),
        ("T2", "township", "C"),
        ("V1", "village", "T1"),
    ]);
    take_in(&mut t1, 2, "乡镇申请人");
    take_in(&mut t2, 1, "另一乡镇");
    // The city knows the village's node (T1 enrolled it), as after a sync with T1.
    c.add_certs(t1.members().certs().values().cloned().collect())
        .unwrap();
    let t1_id = t1.identity().node_id.clone();
    let ids1 = ids(&mut t1);
    let whole = |n: &Node, id: &str| RemoteDoc::saved(id, n.saved_doc(id).unwrap().unwrap());
    let good = whole(&t1, &ids1[0]);
    let seq = c.seq().unwrap();
    let refused = |c: &mut Node, bad: RemoteDoc| {
        // The good document goes first: the whole batch is refused, nothing is written.
        let e = c.apply_remote(&t1_id, &[good.clone(), bad]).unwrap_err();
        assert_eq!(
            c.seq().unwrap(),
            seq,
            "nothing of the batch is written: {e}"
        );
        e.to_string()
    };

    // T2's case, sent by T1: outside T1's scope.
    let t2_case = ids(&mut t2)[0].clone();
    let e = refused(&mut c, whole(&t2, &t2_case));
    assert!(e.contains("sender's scope"), "{e}");

    // T1's second case as changes, to be spoilt below.
    let mut changed = t1.changes_for(&ids1[1], &[]).unwrap();
    // T1's second case, whole, with one more change by `author` (a node id).
    let changed_by = |author: &str| {
        let mut am = Automerge::load(&t1.saved_doc(&ids1[1]).unwrap().unwrap()).unwrap();
        am.set_actor(ActorId::from(hex::decode(author).unwrap()));
        am.transact::<_, _, AutomergeError>(|tx| tx.put(automerge::ROOT, "note", "改动"))
            .unwrap();
        RemoteDoc::saved(&ids1[1], am.save())
    };

    // A change by the village's node, which never held the case.
    let v_id = v.identity().node_id.clone();
    let e = refused(&mut c, changed_by(&v_id));
    assert!(e.contains("never held this case"), "{e}");

    // A change by a node of another network: not a member.
    let other = tempfile::tempdir().unwrap();
    let x = city(&other.path().join("x"));
    let e = refused(&mut c, changed_by(&x.identity().node_id));
    assert!(e.contains("non-member"), "{e}");

    // Bytes that are not a document, and a document with one byte changed (its checksum).
    let e = refused(
        &mut c,
        RemoteDoc::saved(&ids1[1], b"not a document".to_vec()),
    );
    assert!(e.contains("not an Automerge chunk"), "{e}");
    let mut flipped = t1.saved_doc(&ids1[1]).unwrap().unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55;
    let e = refused(&mut c, RemoteDoc::saved(&ids1[1], flipped));
    assert!(e.contains("does not load"), "{e}");
    // The same case's change with one byte changed: the worker that decodes it finds that it
    // does not hash to what it says, and the batch is refused with it.
    let mid = changed[0].len() / 2;
    changed[0][mid] ^= 0x55;
    let e = refused(&mut c, RemoteDoc::changes(&ids1[1], changed));
    assert!(e.contains("does not decode"), "{e}");

    // The village's node revoked: its change is refused although it is a member's.
    c.revoke(&v_id, "笔记本丢失").unwrap();
    let seq = c.seq().unwrap();
    let e = c
        .apply_remote(&t1_id, &[changed_by(&v_id)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("revoked"), "{e}");
    assert_eq!(c.seq().unwrap(), seq);

    // And the good documents alone are taken, whole.
    let applied = c
        .apply_remote(&t1_id, &[good, whole(&t1, &ids1[1])])
        .unwrap();
    assert_eq!(applied.changed, 2);
    assert_eq!(
        applied.heads,
        vec![
            (ids1[0].clone(), t1.heads_of(&ids1[0]).unwrap().unwrap()),
            (ids1[1].clone(), t1.heads_of(&ids1[1]).unwrap().unwrap()),
        ]
    );

    // A whole document that meets a copy changed here is merged into it: both notes stay.
    c.act(
        &ids1[0],
        &Action::Note {
            text: "市里的备注".into(),
        },
        "窗口",
    )
    .unwrap();
    t1.act(
        &ids1[0],
        &Action::Note {
            text: "乡镇的备注".into(),
        },
        "窗口",
    )
    .unwrap();
    c.apply_remote(&t1_id, &[whole(&t1, &ids1[0])]).unwrap();
    let notes: Vec<String> = c
        .case(&ids1[0])
        .unwrap()
        .doc
        .events
        .iter()
        .filter(|e| e.kind == "note")
        .filter_map(|e| e.fields.get("text").cloned())
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().any(|n| n == "市里的备注") && notes.iter().any(|n| n == "乡镇的备注"));
    let heads = c.heads_of(&ids1[0]).unwrap().unwrap();
    assert_eq!(heads.len(), 2, "two concurrent notes, two heads");
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

/// An Automerge compressed change chunk (as a version 2 peer sends changes) whose body is `mib`
/// MiB of zeros: a few hundred KiB on the wire.
fn compressed_chunk_of_zeros(mib: usize) -> Vec<u8> {
    use std::io::Write as _;
    let zeros = vec![0u8; 1 << 20];
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..mib {
        e.write_all(&zeros).unwrap();
    }
    let body = e.finish().unwrap();
    // Magic bytes, a checksum (never read: the bomb is refused first), type 2, LEB128 length.
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = body.len();
    while len >= 0x80 {
        chunk.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    chunk.push(len as u8);
    chunk.extend(body);
    chunk
}

#[test]
fn a_compression_bomb_inside_a_change_a_document_or_a_sync_message_applies_nothing() {
    let (_tmp, mut c, mut t) = stores();
    let before = ids(&mut c);
    let id = ids(&mut t)[0].clone();
    let real = t.changes_for(&id, &[]).unwrap();
    let bomb = compressed_chunk_of_zeros(256);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    // A sync-protocol message (version 1) with no heads, needs or haves, carrying the bomb.
    let mut sync_message = vec![0x42, 0, 0, 0, 1];
    let mut len = bomb.len();
    while len >= 0x80 {
        sync_message.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    sync_message.push(len as u8);
    sync_message.extend(&bomb);
    let frames = [
        // After a real change of the same batch, which is not applied either.
        Msg::Changes {
            docs: vec![
                DocChanges {
                    id: id.clone(),
                    changes: real,
                },
                DocChanges {
                    id: "bomb".into(),
                    changes: vec![bomb.clone()],
                },
            ],
        },
        Msg::Saved {
            docs: vec![DocSaved {
                id: id.clone(),
                bytes: bomb,
            }],
        },
        Msg::Sync {
            docs: vec![DocSync {
                id,
                message: sync_message,
            }],
        },
    ];
    for frame in frames {
        let mut acceptor = greeted(&mut t, &mut c, None);
        let err = acceptor.handle(&mut c, frame).unwrap_err().to_string();
        assert!(err.contains("inflates to more than the 64 MiB"), "{err}");
        assert_eq!(ids(&mut c), before, "nothing of the frame was applied");
    }
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
async fn over_iroh_a_version_4_node_syncs_with_version_3_and_2_nodes_whichever_dials() {
    let (_tmp, c, t) = stores();
    let (c, t) = (running(c).await, running(t).await);
    let pass = Duration::from_secs(30);
    let take_one = |name: &'static str| {
        let h = t.handle.clone();
        tokio::task::spawn_blocking(move || {
            h.call(move |n| {
                n.new_cases(&[yizhan_node::NewCase {
                    item_code: "TS-004".into(),
                    applicant_name: name.into(),
                    ..yizhan_node::NewCase::default()
                }])
            })
        })
    };
    // The city plays a node of version 3, then of version 2: each refuses the township's
    // version, and the township, refused, dials again speaking the one before. Then the township
    // plays them, dialing the version 4 city.
    let rounds = [
        (3, 4, "第三版"),
        (2, 4, "第二版"),
        (4, 3, "又一位"),
        (4, 2, "最后一位"),
    ];
    for (round, (city, town, name)) in rounds.into_iter().enumerate() {
        // The 35 cases of `stores`, and one more taken in after each round before it.
        let cases = 35 + round;
        c.net.speak_at_most(city);
        t.net.speak_at_most(town);
        let r = tokio::time::timeout(pass, t.net.sync_once(&c.id, &c.addrs))
            .await
            .expect("sync hung")
            .unwrap();
        assert!(r.error.is_none(), "city {city}, township {town}: {r:?}");
        assert_eq!((count(&c).await, count(&t).await), (cases, cases));
        take_one(name).await.unwrap().unwrap();
    }
    t.net.shutdown().await;
    c.net.shutdown().await;
}
