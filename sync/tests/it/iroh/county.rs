//! A county of six nodes enrolled over tickets: convergence within scope, townships cut off
//! and healed, two city nodes approving in parallel while partitioned.

use super::*;

/// The test's own record of every case acknowledged anywhere, and its route.
#[derive(Debug, Default)]
struct Ledger {
    routes: BTreeMap<String, Vec<String>>,
}

impl Ledger {
    async fn create(&mut self, at: &Peer, item: &str, applicant: &str) -> String {
        let delegated = at.station.starts_with('V');
        let id = at.new_case(item, applicant, delegated).await;
        self.routes.insert(id.clone(), vec![at.station.clone()]);
        id
    }

    async fn forward(&mut self, at: &Peer, id: &str, to: &str) {
        at.act(id, Action::Forward { to: to.into() }).await;
        self.routes.get_mut(id).unwrap().push(to.into());
    }

    /// The cases a node of a station with this subtree must hold: those whose route touches it.
    fn scope(&self, subtree: &[&str]) -> BTreeSet<String> {
        self.routes
            .iter()
            .filter(|(_, route)| route.iter().any(|s| subtree.contains(&s.as_str())))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// City C; townships T1 and T2 invited at the city; villages V1, V2 invited at T1 and V3 at T2,
/// every one of them joined over the network with a ticket.
struct County {
    c: Peer,
    t1: Peer,
    t2: Peer,
    v1: Peer,
    v2: Peer,
    v3: Peer,
}

impl County {
    async fn enrol(root: &Path) -> County {
        let c = Peer::start("C", city(&root.join("c"))).await;
        let t1 = c.enrol(&root.join("t1"), "T1", "township", "C").await;
        let t2 = c.enrol(&root.join("t2"), "T2", "township", "C").await;
        let v1 = t1.enrol(&root.join("v1"), "V1", "village", "T1").await;
        let v2 = t1.enrol(&root.join("v2"), "V2", "village", "T1").await;
        let v3 = t2.enrol(&root.join("v3"), "V3", "village", "T2").await;
        County {
            c,
            t1,
            t2,
            v1,
            v2,
            v3,
        }
    }

    /// Every node with the stations its scope covers.
    fn scopes(&self) -> [(&Peer, &'static [&'static str]); 6] {
        [
            (&self.c, &["C", "T1", "T2", "V1", "V2", "V3"]),
            (&self.t1, &["T1", "V1", "V2"]),
            (&self.t2, &["T2", "V3"]),
            (&self.v1, &["V1"]),
            (&self.v2, &["V2"]),
            (&self.v3, &["V3"]),
        ]
    }

    /// Children to parents, then parents to children: after this everything is everywhere it
    /// belongs.
    async fn sweep(&self) {
        for (a, b) in [
            (&self.v1, &self.t1),
            (&self.v2, &self.t1),
            (&self.v3, &self.t2),
            (&self.t1, &self.c),
            (&self.t2, &self.c),
            (&self.t1, &self.c),
            (&self.v1, &self.t1),
            (&self.v2, &self.t1),
            (&self.v3, &self.t2),
        ] {
            a.sync(b).await;
        }
    }

    /// Every node holds exactly its scope, and all holders of a case agree on it.
    async fn assert_converged(&self, ledger: &Ledger) {
        let mut seen: BTreeMap<String, (String, Summary)> = BTreeMap::new();
        for (peer, subtree) in self.scopes() {
            let want = ledger.scope(subtree);
            let have = peer.ids().await;
            assert_eq!(
                have,
                want,
                "{} holds {} cases, its scope has {}: extra {:?}, missing (with routes) {:?}",
                peer.name,
                have.len(),
                want.len(),
                have.difference(&want).collect::<Vec<_>>(),
                want.difference(&have)
                    .map(|id| (id, &ledger.routes[id]))
                    .collect::<Vec<_>>()
            );
            for id in have {
                let s = peer.summary(&id).await;
                assert_eq!(
                    &s.route, &ledger.routes[&id],
                    "route of {id} at {}",
                    peer.name
                );
                match seen.get(&id) {
                    None => {
                        seen.insert(id, (peer.name.clone(), s));
                    }
                    Some((first, expected)) => assert_eq!(
                        &s, expected,
                        "{} and {first} disagree about case {id}",
                        peer.name
                    ),
                }
            }
        }
        // Nothing acknowledged anywhere is lost: the city holds every case.
        assert_eq!(seen.len(), ledger.routes.len());
    }

    async fn shutdown(&self) {
        for p in [&self.c, &self.t1, &self.t2, &self.v1, &self.v2, &self.v3] {
            p.shutdown().await;
        }
    }
}

/// Cases taken in everywhere, worked on at every tier, and synced into place.
async fn busy_county(root: &Path) -> (County, Ledger, BTreeMap<&'static str, String>) {
    let k = County::enrol(root).await;
    let mut l = Ledger::default();
    let mut named = BTreeMap::new();
    // Villages: intake (代办) and forward to the township; one instant item done on the spot.
    for (v, t, n) in [(&k.v1, "T1", 3), (&k.v2, "T1", 2), (&k.v3, "T2", 2)] {
        for i in 0..n {
            let id = l.create(v, "TS-004", &format!("{}村民{i}", v.name)).await;
            if i < 2 {
                l.forward(v, &id, t).await;
            }
            named.insert(
                match (v.name.as_str(), i) {
                    ("V1", 0) => "v1-a",
                    ("V1", 1) => "v1-b",
                    ("V1", _) => "v1-kept",
                    ("V2", 0) => "v2-a",
                    ("V2", _) => "v2-b",
                    (_, 0) => "v3-a",
                    _ => "v3-b",
                },
                id,
            );
        }
    }
    let instant = l.create(&k.v1, "VL-005", "即办村民").await;
    k.v1.act(&instant, Action::Accept).await;
    k.v1.act(&instant, Action::Complete).await;
    // The city: its own items, and township items sent down (下派).
    let ct1 = l.create(&k.c, "CT-001", "市民甲").await;
    k.c.act(&ct1, Action::Accept).await;
    let ct2 = l.create(&k.c, "CT-002", "某公司").await;
    let down1 = l.create(&k.c, "TS-004", "市民乙").await;
    l.forward(&k.c, &down1, "T1").await;
    let down2 = l.create(&k.c, "TS-004", "市民丙").await;
    l.forward(&k.c, &down2, "T2").await;
    named.insert("ct1", ct1);
    named.insert("ct2", ct2);
    named.insert("down1", down1);
    named.insert("down2", down2);
    // Bring the village cases up and the city's down.
    k.sweep().await;
    k.assert_converged(&l).await;
    // Townships: accept, ask for materials, their own walk-ins, a city item sent up.
    k.t1.act(&named["v1-a"], Action::Accept).await;
    k.t1.act(
        &named["v2-a"],
        Action::RequestMaterials {
            missing: vec!["户口簿".into(), "身份证复印件".into()],
        },
    )
    .await;
    k.t1.act(&named["down1"], Action::Accept).await;
    let walk_in = l.create(&k.t1, "TS-004", "镇民甲").await;
    k.t1.act(&walk_in, Action::Accept).await;
    let up = l.create(&k.t1, "CT-001", "镇民乙").await;
    l.forward(&k.t1, &up, "C").await;
    k.t2.act(&named["v3-a"], Action::Accept).await;
    k.t2.act(&named["v3-b"], Action::Accept).await;
    k.t2.act(&named["down2"], Action::Accept).await;
    let t2_own = l.create(&k.t2, "TS-003", "镇民丙").await;
    k.t2.act(&t2_own, Action::Accept).await;
    named.insert("up", up);
    k.sweep().await;
    // The city accepts what came up.
    k.c.act(&named["up"], Action::Accept).await;
    k.sweep().await;
    (k, l, named)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_enrolled_over_tickets_converges_within_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (k, l, named) = busy_county(tmp.path()).await;
    k.assert_converged(&l).await;
    // Spot checks of what the scope rule means.
    let v1 = k.v1.ids().await;
    assert!(v1.contains(&named["v1-kept"]) && !v1.contains(&named["v2-a"]));
    assert!(!k.t1.ids().await.contains(&named["v3-a"]));
    assert!(!k.t2.ids().await.contains(&named["v1-a"]));
    assert_eq!(k.c.summary(&named["v1-a"]).await.status, "accepted");
    assert_eq!(
        k.v2.summary(&named["v2-a"]).await.status,
        "awaiting_materials",
        "the village sees the township's one-time notice"
    );
    assert!(k.c.summary(&named["v1-a"]).await.deadline.due_on.is_some());
    // The city learnt of the villages from their certificates.
    let roster = k.c.call(|n| Ok(n.roster().subtree("T1"))).await;
    assert!(roster.contains(&"V1".to_string()), "{roster:?}");
    eprintln!(
        "county of 6 nodes enrolled and converged in {:?}",
        started.elapsed()
    );
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn townships_cut_off_then_healed_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (k, mut l, named) = busy_county(tmp.path()).await;
    let city_before = k.c.ids().await;
    // The townships are cut off: nobody syncs with them. Everyone keeps working.
    let mut new_at_villages = Vec::new();
    for (v, t) in [(&k.v1, "T1"), (&k.v2, "T1"), (&k.v3, "T2")] {
        for i in 0..3 {
            let id = l
                .create(v, "TS-004", &format!("断网{}村民{i}", v.name))
                .await;
            if i > 0 {
                l.forward(v, &id, t).await;
            }
            new_at_villages.push(id);
        }
    }
    // A village notes something on a case its township is handling meanwhile.
    k.v1.act(
        &named["v1-a"],
        Action::Note {
            text: "申请人来电询问进度".into(),
        },
    )
    .await;
    k.t1.act(
        &named["v1-a"],
        Action::Note {
            text: "已转业务科室".into(),
        },
    )
    .await;
    k.t1.act(&named["v2-a"], Action::Resume).await;
    k.t2.act(&named["v3-a"], Action::Complete).await;
    let ct3 = l.create(&k.c, "CT-001", "断网市民").await;
    k.c.act(&ct3, Action::Accept).await;
    k.c.act(&named["ct1"], Action::Complete).await;
    let down3 = l.create(&k.c, "TS-004", "断网下派").await;
    l.forward(&k.c, &down3, "T2").await;
    // While cut off, the city has none of the villages' new cases.
    let city_now = k.c.ids().await;
    assert!(new_at_villages.iter().all(|id| !city_now.contains(id)));
    assert_eq!(city_now.len(), city_before.len() + 2);
    // Healed.
    k.sweep().await;
    k.assert_converged(&l).await;
    let v = k.c.summary(&named["v1-a"]).await;
    assert_eq!(v.status, "accepted");
    assert!(!v.conflict, "notes on two sides are no conflict");
    assert_eq!(k.v3.summary(&named["v3-a"]).await.status, "completed");
    assert_eq!(k.v2.summary(&named["v2-a"]).await.status, "submitted");
    assert_eq!(k.t2.summary(&down3).await.holder, "T2");
    for id in &new_at_villages {
        assert!(k.c.ids().await.contains(id), "{id} was lost");
    }
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_city_nodes_approve_in_parallel_while_partitioned() {
    let tmp = tempfile::tempdir().unwrap();
    let c1 = Peer::start("C-1", city(&tmp.path().join("c1"))).await;
    let c2 = c1.enrol(&tmp.path().join("c2"), "C", "city", "").await;
    let id = c1.new_case("CT-002", "某有限公司", false).await;
    c1.act(&id, Action::Accept).await;
    c1.act(
        &id,
        Action::Approve {
            dept: "公安局".into(),
        },
    )
    .await;
    c2.sync(&c1).await;
    assert_eq!(c2.summary(&id).await.approvals, ["公安局"]);
    // Partitioned: each machine records a different department's approval.
    c1.act(
        &id,
        Action::Approve {
            dept: "市场监管局".into(),
        },
    )
    .await;
    c2.act(
        &id,
        Action::Approve {
            dept: "税务局".into(),
        },
    )
    .await;
    let early = c2.try_act(&id, Action::Complete).await.unwrap_err();
    assert!(early.contains("市场监管局"), "{early}");
    // Healed.
    c1.sync(&c2).await;
    let (s1, s2) = (c1.summary(&id).await, c2.summary(&id).await);
    assert_eq!(s1, s2);
    assert_eq!(s1.approvals, ["公安局", "市场监管局", "税务局"]);
    assert!(!s1.conflict);
    c2.act(&id, Action::Complete).await;
    c2.sync(&c1).await;
    assert_eq!(c1.summary(&id).await.status, "completed");
    assert_eq!(c1.summary(&id).await, c2.summary(&id).await);
    c1.shutdown().await;
    c2.shutdown().await;
}

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
