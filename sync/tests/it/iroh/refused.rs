//! Strangers and revoked nodes are refused, and a refused node is told why.

use super::county::busy_county;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_revoked_nodes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (k, mut l, _) = busy_county(tmp.path()).await;
    // A node of another network.
    let x = Peer::start("X", city(&tmp.path().join("x"))).await;
    let own = x.new_case("CT-001", "外人", false).await;
    let city_cases = k.c.ids().await;
    let err = x.try_sync(&k.c).await.unwrap_err();
    assert!(err.contains("another network"), "{err}");
    // The city reports the refused session.
    let x_id = x.id.clone();
    within(Duration::from_secs(10), async || {
        k.c.accepted
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.peer == x_id && r.error.is_some() && r.stats.docs_out == 0)
    })
    .await
    .expect("the city reported no refused session");
    assert_eq!(k.c.ids().await, city_cases, "the stranger moved nothing in");
    assert_eq!(x.ids().await, BTreeSet::from([own]), "nothing moved out");
    // The other way round: the city dialing the stranger is refused too.
    assert!(k.c.try_sync(&x).await.is_err());
    assert_eq!(k.c.ids().await, city_cases);

    // The city revokes V3; the roster reaches T2 through sync.
    let v3_id = k.v3.id.clone();
    k.c.call(move |n| n.revoke(&v3_id, "笔记本电脑丢失")).await;
    k.t2.sync(&k.c).await;
    let v3_id = k.v3.id.clone();
    assert!(
        k.t2.call(move |n| Ok(n.roster().is_revoked(&v3_id))).await,
        "T2 knows of the revocation"
    );
    // Something new for V3 at T2, and something new at V3.
    let down = l.create(&k.t2, "TS-004", "撤销后下派").await;
    l.forward(&k.t2, &down, "V3").await;
    let from_v3 = l.create(&k.v3, "TS-004", "撤销后村民").await;
    let v3_before = k.v3.ids().await;
    let t2_before = k.t2.ids().await;
    let err = k.v3.try_sync(&k.t2).await.unwrap_err();
    assert!(err.contains("revoked"), "{err}");
    assert_eq!(k.v3.ids().await, v3_before, "V3 received nothing");
    assert!(
        !k.t2.ids().await.contains(&from_v3),
        "T2 took nothing from V3"
    );
    assert_eq!(k.t2.ids().await, t2_before);
    // T2 dialing the revoked node fails as well.
    assert!(k.t2.try_sync(&k.v3).await.is_err());
    assert!(!k.v3.ids().await.contains(&down));
    k.shutdown().await;
    x.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_node_is_told_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (c, t1) = city_and_township(tmp.path()).await;
    let x = Peer::start("X", city(&tmp.path().join("x"))).await;
    let err = x.net.sync_once(&c.id, &c.addrs).await.unwrap_err();
    assert_eq!(
        err.kind(),
        yizhan_sync::ErrorKind::RefusedBy(yizhan_sync::Denial::OtherNetwork),
        "{err}"
    );
    let t1_id = t1.id.clone();
    c.call(move |n| n.revoke(&t1_id, "丢失")).await;
    let err = t1.net.sync_once(&c.id, &c.addrs).await.unwrap_err();
    assert_eq!(
        err.kind(),
        yizhan_sync::ErrorKind::RefusedBy(yizhan_sync::Denial::Revoked),
        "{err}"
    );
    // The refused side keeps the reason with the peer, in a form the window words in Chinese.
    let (_, _, error) = peer_state(&t1, &c).await;
    let error = error.expect("T1 recorded the refusal");
    assert_eq!(
        yizhan_sync::ErrorKind::of_stored(&error),
        yizhan_sync::ErrorKind::RefusedBy(yizhan_sync::Denial::Revoked),
        "{error}"
    );
    x.shutdown().await;
    t1.shutdown().await;
    c.shutdown().await;
}
